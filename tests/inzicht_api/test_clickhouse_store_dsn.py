"""The `http://` store path: a LogStore through clickhouse-connect's HTTP client, against the endpoint's write user.

No ClickHouse server can be installed here; the endpoint of an embedded store, with a user that
may write, is the stand-in: the SQL still runs in the real ClickHouse engine (chDB), and the
client is clickhouse-connect's HTTP client as `ldv serve --store-dsn http://...` uses it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings, ClickHouseUser, create_app, running
from ldv_logboek.register import RegisterStore, load_register_files
from ldv_logboek.storage import LogStore, RecordQuery, connect
from tests.conftest import REPO_ROOT, make_record

WRITER = {"password": "schrijver-pw", "scope": "supervisor", "raw_rows": True, "write": True}


@pytest.fixture(scope="module")
def remote(store: LogStore) -> Iterator[tuple[LogStore, str]]:
    settings = ClickHouseHttpSettings.model_validate({"users": {"schrijver": WRITER}})
    with running(create_app(store, settings)) as url:
        port = url.rsplit(":", 1)[1]
        remote = LogStore(connect(f"http://schrijver:schrijver-pw@127.0.0.1:{port}/default"))
        yield remote, url
        remote.close()


def test_migrate_insert_find_count_over_http(remote: tuple[LogStore, str], store: LogStore) -> None:
    client, _ = remote
    assert client.migrate() == []  # the embedded store is current: nothing to apply, through HTTP too
    records = [make_record() for _ in range(3)]
    client.insert(records)  # clickhouse-connect's Native insert (compressed as it chooses), read by the engine
    assert store.count() == client.count() == 3
    page = client.find(RecordQuery(trace_id=records[1].trace_id))
    assert page.records == [records[1]]  # every column back as it went in
    by_subject = client.find(RecordQuery(data_subject_id=records[0].attributes["dpl.core.data_subject_id"], limit=10))
    assert {r.span_id for r in by_subject.records} >= {r.span_id for r in records}


def test_the_register_over_http(remote: tuple[LogStore, str]) -> None:
    client, _ = remote
    register = load_register_files([REPO_ROOT / "demo" / "register"])
    result = RegisterStore.from_log_store(client).save(register)
    loaded = RegisterStore.from_log_store(client).load(fresh=True)
    assert set(loaded.activities) == set(register.activities) and result


def test_only_a_write_user_writes(remote: tuple[LogStore, str]) -> None:
    _, url = remote
    response = httpx.post(url, content=b"DROP TABLE IF EXISTS nothing_here", auth=("schrijver", "schrijver-pw"))
    assert response.status_code == 200
    # GET is read-only for every user, as in ClickHouse: the writer's GET goes through the readers.
    over_get = httpx.get(url, params={"query": "DROP TABLE IF EXISTS nothing_here"}, auth=("schrijver", "schrijver-pw"))
    assert over_get.status_code == 403 and over_get.headers["x-clickhouse-exception-code"] == "497"
    assert httpx.get(url, params={"query": "SELECT count() FROM otel_traces"}, auth=("schrijver", "schrijver-pw")).text
    with pytest.raises(ValidationError, match="write"):
        ClickHouseUser.model_validate({"password": "x", "scope": "dienst-toeslagen", "raw_rows": True, "write": True})
    with pytest.raises(ValidationError, match="write"):
        ClickHouseUser.model_validate({"password": "x", "scope": "supervisor", "write": True})
