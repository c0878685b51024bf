"""The whole path a supervisor's Grafana takes, with `ldv serve` as a real process: records sent
with the official OpenTelemetry exporter over OTLP, stored by the collector (which the store
stamps with IngestedAt), the register loaded at start, and the Toezicht panels' SQL, expanded as
Grafana would, sent with clickhouse-connect to `ldv serve`'s own ClickHouse port as a dashboard
user without raw rows."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ldv_dashboards.dashboards import TOEZICHT_UID
from ldv_logboek import attributes as attr
from tests.conftest import REPO_ROOT
from tests.dashboards.conftest import committed_dashboards, targets
from tests.dashboards.grafana_macros import ALL, Context, Variable
from tests.dashboards.runner import PASSWORD, PanelRunner, Result
from tests.e2e.serve_process import ServeProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
BOARD = committed_dashboards()[TOEZICHT_UID]
ORGANISATION = "belastingdienst"
ACTIVITY = "https://register.belastingdienst.example/processing-activities/inkomstenbelasting"  # demo register
UNREGISTERED = "https://register.belastingdienst.example/processing-activities/nergens-geregistreerd"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    users = {"grafana": {"password": PASSWORD, "scope": "supervisor"}}
    process = ServeProcess(
        tmp_path_factory.mktemp("serve-dashboards") / "data",
        env={"LDV_CLICKHOUSE_USERS": json.dumps(users)},
        extra_args=["--register", str(REPO_ROOT / "demo" / "register")],
    ).start()
    yield process
    process.kill()


def _send(serve: ServeProcess, activity: str, count: int, *, error: bool = False, bad_uri: bool = False) -> None:
    from opentelemetry.trace import Status, StatusCode

    resource = Resource.create({attr.SERVICE_NAME: "aangifte-api", attr.ORGANISATION: ORGANISATION})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.traces_url, timeout=30)))
    tracer = provider.get_tracer("dashboards-e2e")
    for _ in range(count):
        ldv = {
            attr.PROCESSING_ACTIVITY_ID: activity,
            attr.DATA_SUBJECT_ID: "hmac-sha256:" + os.urandom(32).hex(),
            attr.DATA_SUBJECT_ID_TYPE: "BSN",
        }
        if bad_uri:  # refused by the collector (rule uri): counted, not stored
            ldv[attr.EXTERNAL_READ_API_ID] = "geen uri"
        with tracer.start_as_current_span("aangifte beoordelen", attributes=ldv) as span:
            if error:
                span.set_status(Status(StatusCode.ERROR))
    provider.shutdown()


@pytest.fixture(scope="module")
def panels(serve: ServeProcess) -> dict[str, Result]:
    _send(serve, ACTIVITY, 3)
    _send(serve, ACTIVITY, 1, error=True)
    _send(serve, UNREGISTERED, 1)
    _send(serve, ACTIVITY, 2, bad_uri=True)
    runner = PanelRunner(f"http://127.0.0.1:{serve.clickhouse_port}", "grafana")
    now = datetime.now(UTC)
    ctx = Context(start=now - timedelta(hours=1), end=now + timedelta(minutes=5), interval_ms=60_000)
    for variable in BOARD["templating"]["list"]:
        if variable["type"] == "query":
            options = [str(row[0]) for row in runner.run(variable["query"]["rawSql"], ctx).rows]
            ctx.variables[variable["name"]] = Variable(selected=[ALL], options=options)
    return {panel["title"]: runner.run(target["rawSql"], ctx) for panel, target in targets(BOARD) if target["refId"] in ("A", "edges")}


def test_toezicht_shows_what_was_sent(panels: dict[str, Result]) -> None:
    assert panels["Verwerkingen"].scalar() == 5
    assert panels["Betrokkenen"].scalar() == 5
    assert panels["Foutaandeel"].scalar() == pytest.approx(0.2)
    assert panels["Niet geregistreerd"].scalar() == 1
    assert panels["Vertrouwelijk"].scalar() == 0
    per_law = {row["Wet"]: row["Verwerkingen"] for row in panels["Per wet en grondslag"].dicts()}
    assert per_law == {"Wet inkomstenbelasting 2001": 4, "(niet in register)": 1}
    (unregistered,) = panels["Niet in het register of niet geldig"].dicts()
    assert (unregistered["Activiteit"], unregistered["Registerstatus"]) == (UNREGISTERED, "unknown")


def test_ingest_health_from_the_live_collector(panels: dict[str, Result]) -> None:
    delays = panels["Vertraging verwerking → opslag"].dicts()
    assert delays and all(0 <= row["Vertraging p50"] < 60 for row in delays)
    assert sum(row["Opgeslagen"] for row in panels["Opgeslagen per interval"].dicts()) == 5
    assert 0 <= panels["Sinds laatste opslag"].scalar() < 300


def test_rejected_spans_reach_the_panel_while_serve_runs(panels: dict[str, Result], serve: ServeProcess) -> None:
    """The collector stores its counts about once a second, without waiting for a shutdown."""
    runner = PanelRunner(f"http://127.0.0.1:{serve.clickhouse_port}", "grafana")
    now = datetime.now(UTC)
    ctx = Context(start=now - timedelta(hours=1), end=now + timedelta(minutes=5), interval_ms=60_000)
    ctx.variables["organisation"] = Variable(selected=[ALL], options=[ORGANISATION])
    sql = next(t["rawSql"] for p, t in targets(BOARD) if p["title"] == "Geweigerde spans per regel")
    deadline = time.monotonic() + 15
    rows = runner.run(sql, ctx).dicts()
    while not rows and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = runner.run(sql, ctx).dicts()
    assert {row["Regel"] for row in rows} == {"uri"} and sum(row["Geweigerde spans"] for row in rows) == 2
    assert "Geweigerde spans per regel" in panels  # the panel ran with the others too


def test_serve_log_holds_no_password(serve: ServeProcess, panels: dict[str, Result]) -> None:
    assert PASSWORD not in serve.log()
