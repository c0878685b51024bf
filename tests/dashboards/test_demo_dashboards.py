"""The dashboards on the Fieldlab demo's records: real services with the SDK, real OTLP, the
real collector, the real register. Every panel of LDV — Toezicht runs (expanded as Grafana
would, through the ClickHouse endpoint) on that store, and its numbers agree with the records
table itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ldv_dashboards.dashboards import TOEZICHT_UID
from ldv_logboek.storage import LogStore, connect
from ldv_suite.demo.services import MODULES
from tests.conftest import REPO_ROOT
from tests.dashboards.conftest import committed_dashboards, targets
from tests.dashboards.grafana_macros import ALL, Context, Variable
from tests.dashboards.runner import Result, endpoint_runner
from tests.e2e.serve_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
BOARD = committed_dashboards()[TOEZICHT_UID]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogStore]:
    data_dir: Path = tmp_path_factory.mktemp("demo-dashboards") / "ldv-data"
    cmd = [
        sys.executable, "-m", "ldv_suite.cli", "demo", "--data-dir", str(data_dir),
        "--api-port", str(free_port()), "--otlp-http-port", str(free_port()), "--exit-after-scenario",
        "--single-logboek",  # every organisation's records in the one store the dashboards read
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 0, done.stdout + done.stderr
    store = LogStore(connect(f"chdb://{data_dir.resolve()}"))  # after the demo process has exited
    store.migrate()
    yield store
    store.close()


@pytest.fixture(scope="module")
def panels(demo_store: LogStore) -> dict[tuple[str, str], Result]:
    now = datetime.now(UTC)
    ctx = Context(start=now - timedelta(hours=1), end=now + timedelta(minutes=5), interval_ms=60_000)
    with endpoint_runner(demo_store) as runner:
        for variable in BOARD["templating"]["list"]:
            if variable["type"] == "query":
                options = [str(row[0]) for row in runner.run(variable["query"]["rawSql"], ctx).rows]
                ctx.variables[variable["name"]] = Variable(selected=[ALL], options=options)
        return {(panel["title"], target["refId"]): runner.run(target["rawSql"], ctx) for panel, target in targets(BOARD)}


def _raw(store: LogStore, sql: str) -> int:
    return int(store.query_rows(sql)[0][0])


def test_stats_agree_with_the_records_table(demo_store: LogStore, panels: dict[tuple[str, str], Result]) -> None:
    processings = _raw(demo_store, "SELECT uniqExact(TraceId, SpanId) FROM otel_traces")
    subjects = _raw(demo_store, "SELECT uniqExactIf(DataSubjectId, DataSubjectId != '') FROM otel_traces")
    fiod = _raw(demo_store, "SELECT uniqExact(TraceId, SpanId) FROM otel_traces WHERE ProcessingActivityId LIKE '%fiod%'")
    assert processings > 20 and subjects > 4 and fiod >= 1
    assert panels[("Verwerkingen", "A")].scalar() == processings
    assert panels[("Betrokkenen", "A")].scalar() == subjects
    assert panels[("Niet geregistreerd", "A")].scalar() == 0  # the demo register covers every activity
    assert panels[("Vertrouwelijk", "A")].scalar() == fiod  # FIOD's investigation is confidential
    per_org = panels[("Verwerkingen per organisatie", "A")].dicts()
    assert {row["Organisation"] for row in per_org} == set(MODULES)
    assert sum(row["Verwerkingen"] for row in per_org) == processings


def test_flows_come_from_real_trace_propagation(panels: dict[tuple[str, str], Result]) -> None:
    edges = {(e["source"], e["target"]) for e in panels[("Stromen tussen organisaties", "edges")].dicts()}
    assert ("burger-nl", "dienst-toeslagen") in edges  # the portal forwards the application
    assert all(source in MODULES and target in MODULES and source != target for source, target in edges)
    nodes = {n["id"] for n in panels[("Stromen tussen organisaties", "nodes")].dicts()}
    assert {party for edge in edges for party in edge} == nodes


def test_ingest_delay_is_seconds_not_hours(panels: dict[tuple[str, str], Result]) -> None:
    delays = panels[("Vertraging verwerking → opslag", "A")].dicts()
    assert delays and all(0 <= row["Vertraging p50"] < 60 for row in delays)
    assert 0 <= panels[("Sinds laatste opslag", "A")].scalar() < 300
