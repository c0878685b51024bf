"""Grafana's own ClickHouse driver against a real `ldv serve`: clickhouse-go v2, in Go, over HTTP.

`ldv serve` runs as a subprocess on a data directory seeded with the dashboard tests' records
and register (tests/dashboards/seed.py, in a process of its own). Every panel's and variable's
SQL of the generated dashboards is expanded as Grafana and the plugin expand it
(tests/dashboards/grafana_macros.py), run once with clickhouse-connect (Python) for reference,
and written with the endpoint's address and users to a JSON file; then `go test` in
tests/go/clickhouse runs the Go tests (grafana_test.go) against the same endpoint, twice: with
go.mod (clickhouse-go v2.47.0, the version grafana-clickhouse-datasource pins) and with
go.newest.mod (the newest version the module proxy listed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ldv_dashboards.dashboards import ORGANISATIE_UID, TOEZICHT_UID
from tests.dashboards.conftest import committed_dashboards, targets
from tests.dashboards.grafana_macros import Context, expand
from tests.dashboards.runner import PASSWORD, PanelRunner
from tests.dashboards.seed import BELASTING, GEMEENTE, TOESLAGEN, Seeded
from tests.dashboards.test_panel_sql import context
from tests.e2e.serve_process import ServeProcess
from tests.peers.go_support import REPO, go_test

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

MODULE = REPO / "tests" / "go" / "clickhouse"
USERS = {
    "grafana": {"password": PASSWORD, "scope": "supervisor"},
    "fg-belastingdienst": {"password": PASSWORD, "scope": BELASTING},
    "fg-toeslagen": {"password": PASSWORD, "scope": TOESLAGEN, "raw_rows": True},
}


@dataclass
class Endpoint:
    serve: ServeProcess
    seeded: Seeded

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.serve.clickhouse_port}"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    data = tmp_path_factory.mktemp("clickhouse-go") / "data"
    seeding = subprocess.run(
        [sys.executable, "-m", "tests.peers.seed_store", str(data)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert seeding.returncode == 0, seeding.stderr
    seed = json.loads(seeding.stdout.strip().splitlines()[-1])
    window = (datetime.fromisoformat(seed["window"][0]), datetime.fromisoformat(seed["window"][1]))
    seeded = Seeded(now=window[0], window=window, traces=seed["traces"])
    # A query the Go test cancels goes on in the engine until max_execution_time: 10 s, not 30.
    env = {"LDV_CLICKHOUSE_USERS": json.dumps(USERS), "LDV_CLICKHOUSE_MAX_EXECUTION_TIME": "10"}
    serve = ServeProcess(data, env=env).start()
    try:
        yield Endpoint(serve, seeded)
    finally:
        serve.kill()


def _reference(runner: PanelRunner, name: str, user: str, sql: str) -> dict[str, Any]:
    """What clickhouse-connect reads from `sql`: the Go test must read the same (a value that
    depends on the clock, such as seconds since the last insert, is not compared; clickhouse-connect
    writes a named tuple's names in backquotes, the server's type name has none)."""
    result = runner.client.query(sql)
    scalar = None
    rows = result.result_rows
    if len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int | float) and "now" not in sql:
        scalar = float(rows[0][0])
    return {
        "name": name, "user": user, "sql": sql, "columns": list(result.column_names),
        "types": [t.name.replace("`", "") for t in result.column_types], "rows": len(rows), "scalar": scalar,
    }  # fmt: skip


def _dashboard_queries(runner: PanelRunner, user: str, uid: str, ctx: Context, label: str) -> list[dict[str, Any]]:
    board = committed_dashboards()[uid]
    queries = [
        _reference(runner, f"{label}/variable/{variable['name']}", user, expand(variable["query"]["rawSql"], ctx))
        for variable in board["templating"]["list"]
        if variable["type"] == "query"
    ]
    for panel, target in targets(board):
        name = f"{label}/{panel['title']}/{target['refId']}"
        queries.append(_reference(runner, name, user, expand(target["rawSql"], ctx)))
    return queries


@pytest.fixture(scope="module")
def fixture_file(endpoint: Endpoint, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every dashboard query as three users and two selections see it, with clickhouse-connect's reading."""
    seeded = endpoint.seeded
    queries: list[dict[str, Any]] = []
    supervisor = PanelRunner(endpoint.url, "grafana")
    for uid in committed_dashboards():
        selected = {"organisation": [TOESLAGEN]} if uid == ORGANISATIE_UID else {}
        ctx = context(supervisor, seeded, uid, **selected)
        queries += _dashboard_queries(supervisor, "grafana", uid, ctx, f"{uid}")
    # Two organisations selected (a multi-value variable, quoted as a list).
    two = context(supervisor, seeded, TOEZICHT_UID, organisation=[TOESLAGEN, GEMEENTE])
    queries += _dashboard_queries(supervisor, "grafana", TOEZICHT_UID, two, f"{TOEZICHT_UID}[two organisations]")
    # The Organisatie dashboard as the Belastingdienst's own data source user.
    scoped = PanelRunner(endpoint.url, "fg-belastingdienst")
    own = context(scoped, seeded, ORGANISATIE_UID)
    assert own.variables["organisation"].options == [BELASTING]
    queries += _dashboard_queries(scoped, "fg-belastingdienst", ORGANISATIE_UID, own, f"{ORGANISATIE_UID}[fg-belastingdienst]")
    counts = {
        row[0]: row[1]
        for row in supervisor.client.query(
            "SELECT Organisation, count() FROM ldv_dashboard_records GROUP BY Organisation"
        ).result_rows
    }
    assert set(counts) >= {BELASTING, TOESLAGEN}
    path = tmp_path_factory.mktemp("go-fixture") / "clickhouse.json"
    path.write_text(json.dumps({
        "addr": f"127.0.0.1:{endpoint.serve.clickhouse_port}", "users": USERS, "queries": queries,
        "counts_by_organisation": counts,
    }, default=str))  # fmt: skip
    return path


@pytest.mark.parametrize(
    "modfile",
    [pytest.param(None, id="clickhouse-go-v2.47.0"), pytest.param("go.newest.mod", id="clickhouse-go-newest")],
)
def test_clickhouse_go_against_ldv_serve(fixture_file: Path, endpoint: Endpoint, modfile: str | None) -> None:
    extra = [f"-modfile={modfile}"] if modfile else []
    output = go_test(MODULE, {"LDV_GO_CLICKHOUSE_FIXTURE": str(fixture_file)}, *extra)
    for test in ("TestConnectionSequenceOfThePlugin", "TestEveryDashboardQueryScansTyped", "TestColumnTypesIntoGoTypes",
                 "TestOrganisationUserSeesOnlyItsOwnRows", "TestRefusalsAreClientErrors",
                 "TestQueryCancelledByContextTimeout"):  # fmt: skip
        assert f"--- PASS: {test} " in output, output[-5000:]
    # The Go test's refusals reached the endpoint as refusals, not as faults of the server.
    assert "Traceback" not in endpoint.serve.log()


def test_the_modules_pin_the_plugins_version_and_the_newest() -> None:
    assert "github.com/ClickHouse/clickhouse-go/v2 v2.47.0\n" in (MODULE / "go.mod").read_text()
    newest = (MODULE / "go.newest.mod").read_text()
    assert "github.com/ClickHouse/clickhouse-go/v2 v2.47.0" not in newest and "clickhouse-go/v2 v2." in newest
