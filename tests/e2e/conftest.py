"""The e2e suite twice: on the embedded store, and with the store behind the ClickHouse HTTP interface.

No ClickHouse server can be installed here. In the second run every `ldv serve` under test gets
`--store-dsn http://...` pointing at a second `ldv serve`'s ClickHouse endpoint, whose user may
write: the SQL still runs in the real ClickHouse engine, and the store is reached through
clickhouse-connect's HTTP client exactly as with a ClickHouse server. Modules opt in with
`pytestmark = pytest.mark.usefixtures("store_mode")`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.serve_process import ServeProcess

WRITER = {"schrijver": {"password": "schrijver-pw", "scope": "supervisor", "raw_rows": True, "write": True}}


@pytest.fixture(scope="module", params=["embedded", "clickhouse-http"])
def store_mode(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "embedded":
        yield request.param
        return
    backing = ServeProcess(tmp_path_factory.mktemp("backing") / "data", env={"LDV_CLICKHOUSE_USERS": json.dumps(WRITER)})
    backing.start()
    ServeProcess.backing_dsn = f"http://schrijver:schrijver-pw@127.0.0.1:{backing.clickhouse_port}/default"
    try:
        yield request.param
    finally:
        ServeProcess.backing_dsn = None
        backing.kill()
