"""Every panel's SQL, expanded as Grafana and the ClickHouse plugin expand it, on a store seeded
with known records and register entries (seed.py): each panel returns rows, and the numbers
a supervisor would read are asserted panel by panel.

Grafana cannot run here: grafana_macros.py does what it and the plugin do to the SQL; the
statements then go, with clickhouse-connect in HTTP mode, to the Logboek's ClickHouse endpoint
(what `ldv serve` offers Grafana on port 8123) as a dashboard user without raw rows, and run in
the real ClickHouse engine (chDB) on the real dashboard views.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ldv_dashboards.dashboards import ORGANISATIE_UID, TOEZICHT_UID
from ldv_dashboards.panels import VERWERKING_UID
from ldv_dashboards.provisioning import ALERT_RULES
from ldv_logboek.storage import LogStore
from tests.dashboards.conftest import committed_dashboards, targets
from tests.dashboards.grafana_macros import ALL, Context, Variable
from tests.dashboards.runner import PanelRunner, Result, endpoint_runner
from tests.dashboards.seed import (
    AWIR,
    AWR,
    BELASTING,
    GEMEENTE,
    HUURTOESLAG,
    HUURTOESLAG_LAW,
    NIEUWE_REGELING,
    ONBEKEND,
    OUDE_REGELING,
    PORTAAL,
    REJECTED,
    SV,
    TOESLAGEN,
    TOESLAGEN_APP,
    Seeded,
)

BOARDS = committed_dashboards()


def context(runner: PanelRunner, seeded: Seeded, uid: str, **selected: list[str]) -> Context:
    """The dashboard's variables as Grafana fills them: each query variable's options come from
    its own query (in order, so later ones see earlier selections); multi-value variables
    default to All, a single-value one to its first option; trace_id to the trace t1."""
    start, end = seeded.window
    ctx = Context(start=start, end=end, interval_ms=3_600_000)
    for variable in BOARDS[uid]["templating"]["list"]:
        name = variable["name"]
        if variable["type"] == "textbox":
            ctx.variables[name] = Variable(selected=selected.get(name, [seeded.traces["t1"]]), multi=False)
        elif variable["type"] == "query":
            options = [str(row[0]) for row in runner.run(variable["query"]["rawSql"], ctx).rows]
            multi = bool(variable.get("multi"))
            default = [ALL] if multi else options[:1]
            ctx.variables[name] = Variable(selected=selected.get(name, default), options=options, multi=multi)
    return ctx


def panel_result(runner: PanelRunner, ctx: Context, uid: str, title: str, ref_id: str = "A") -> Result:
    for panel, target in targets(BOARDS[uid]):
        if panel["title"] == title and target["refId"] == ref_id:
            return runner.run(target["rawSql"], ctx)
    raise AssertionError(f"{uid} has no panel {title!r} with refId {ref_id}")


ALL_PANELS = [
    pytest.param(uid, panel["title"], target["refId"], id=f"{uid}:{panel['title']}:{target['refId']}")
    for uid, board in BOARDS.items()
    for panel, target in targets(board)
]


@pytest.mark.parametrize(("uid", "title", "ref_id"), ALL_PANELS)
def test_every_panel_runs_and_shows_data(runner: PanelRunner, seeded: Seeded, uid: str, title: str, ref_id: str) -> None:
    # Organisatie shows one organisation: the one whose records reach every panel.
    selected = {"organisation": [TOESLAGEN]} if uid == ORGANISATIE_UID else {}
    result = panel_result(runner, context(runner, seeded, uid, **selected), uid, title, ref_id)
    assert result.rows, f"{title} shows nothing"
    assert all(value is not None for row in result.rows for value in row[:1])


def test_variables_list_what_is_stored_and_registered(runner: PanelRunner, seeded: Seeded) -> None:
    ctx = context(runner, seeded, TOEZICHT_UID)
    assert ctx.variables["organisation"].options == [BELASTING, TOESLAGEN, GEMEENTE]
    activities = {row[0]: row[1] for row in _variable_rows(runner, ctx, "activity")}
    assert activities[HUURTOESLAG] == "Huurtoeslag berekenen"
    assert activities[ONBEKEND] == ONBEKEND  # not in the register: the id is its label
    assert set(activities) == {HUURTOESLAG, "https://register.belastingdienst.example/processing-activities/inkomen-verstrekken",
                               "https://register.belastingdienst.example/processing-activities/fraudeonderzoek",
                               ONBEKEND, OUDE_REGELING, NIEUWE_REGELING}  # fmt: skip
    assert ctx.variables["legal_basis"].options == sorted(
        [AWIR, AWR, HUURTOESLAG_LAW, SV, "Wet nieuwe regeling", "Wet oude regeling"]
    )


def _variable_rows(runner: PanelRunner, ctx: Context, name: str) -> list[Any]:
    variable = next(v for v in BOARDS[TOEZICHT_UID]["templating"]["list"] if v["name"] == name)
    return list(runner.run(variable["query"]["rawSql"], ctx).rows)


def _stats(runner: PanelRunner, ctx: Context, uid: str) -> dict[str, Any]:
    names = ["Verwerkingen", "Betrokkenen", "Foutaandeel", "Niet geregistreerd", "Vertrouwelijk"]
    return {name: panel_result(runner, ctx, uid, name).scalar() for name in names}


def test_stats_over_all_organisations(runner: PanelRunner, seeded: Seeded) -> None:
    # In the window: t1 (2 records), t2..t7 (1 each; t3 stored twice) = 8 records of subjects
    # a1..a5; errors t2 and t6; not registered t5 (unknown), t6 (ended), t7 (not yet valid);
    # confidential t4. The 8-year-old and the 5-day-old records are outside the window.
    stats = _stats(runner, context(runner, seeded, TOEZICHT_UID), TOEZICHT_UID)
    assert stats == {"Verwerkingen": 8, "Betrokkenen": 5, "Foutaandeel": 0.25, "Niet geregistreerd": 3, "Vertrouwelijk": 1}


@pytest.mark.parametrize(
    ("selected", "expected"),
    [
        # One organisation: child of t1, t4 (confidential), t5 (unknown); subjects a1, a4.
        ({"organisation": [BELASTING]}, (3, 2, 0.0, 1, 1)),
        # Two organisations (multi-value): t1 parent, t2, t3, t6, t7; subjects a1, a2, a3, a5.
        ({"organisation": [TOESLAGEN, GEMEENTE]}, (5, 4, 0.4, 2, 0)),
        # One activity: t1 parent, t2, t3; subjects a1..a3.
        ({"activity": [HUURTOESLAG]}, (3, 3, 1 / 3, 0, 0)),
        # One law: the child of t1 (Inkomen verstrekken, under the Awir and the AWR).
        ({"legal_basis": [AWIR]}, (1, 1, 0.0, 0, 0)),
        # A law and an organisation that have nothing in common.
        ({"legal_basis": [SV], "organisation": [TOESLAGEN]}, (0, 0, 0, 0, 0)),
    ],
)
def test_stats_follow_the_variables(runner: PanelRunner, seeded: Seeded, selected: dict[str, list[str]], expected: tuple) -> None:
    stats = _stats(runner, context(runner, seeded, TOEZICHT_UID, **selected), TOEZICHT_UID)
    assert tuple(stats.values()) == pytest.approx(expected)


def test_organisatie_dashboard_is_scoped_to_one_organisation(runner: PanelRunner, seeded: Seeded) -> None:
    ctx = context(runner, seeded, ORGANISATIE_UID, organisation=[BELASTING])
    assert tuple(_stats(runner, ctx, ORGANISATIE_UID).values()) == (3, 2, 0.0, 1, 1)
    edges = panel_result(runner, ctx, ORGANISATIE_UID, "Stromen tussen organisaties", "edges").dicts()
    assert [(e["source"], e["target"], e["mainstat"]) for e in edges] == [(TOESLAGEN, BELASTING, 1)]
    series = panel_result(runner, ctx, ORGANISATIE_UID, "Verwerkingen per activiteit").dicts()
    assert sum(row["Verwerkingen"] for row in series) == 3


def test_organisatie_for_an_organisation_user_shows_only_its_rows(store: LogStore, seeded: Seeded) -> None:
    """The FG's data source user is scoped to its organisation on the endpoint: the engine filters
    the rows, so the variable offers only that organisation, the counts (the distinct subjects
    included) are its own, and a call from another organisation shows its caller as recorded."""
    with endpoint_runner(store, user="fg-belastingdienst", scope=BELASTING) as scoped:
        ctx = context(scoped, seeded, ORGANISATIE_UID)
        assert ctx.variables["organisation"].options == [BELASTING]
        assert tuple(_stats(scoped, ctx, ORGANISATIE_UID).values()) == (3, 2, 0.0, 1, 1)
        edges = panel_result(scoped, ctx, ORGANISATIE_UID, "Stromen tussen organisaties", "edges").dicts()
        assert [(e["source"], e["target"], e["mainstat"]) for e in edges] == [(TOESLAGEN_APP, BELASTING, 1)]
        other = context(scoped, seeded, ORGANISATIE_UID, organisation=[TOESLAGEN])
        assert tuple(_stats(scoped, other, ORGANISATIE_UID).values()) == (0, 0, 0, 0, 0)


def test_time_series_per_organisation_and_activity(runner: PanelRunner, seeded: Seeded) -> None:
    ctx = context(runner, seeded, TOEZICHT_UID)
    per_org: dict[str, int] = {}
    for row in panel_result(runner, ctx, TOEZICHT_UID, "Verwerkingen per organisatie").dicts():
        assert isinstance(row["time"], datetime) and row["time"].minute == 0  # hourly buckets
        per_org[row["Organisation"]] = per_org.get(row["Organisation"], 0) + row["Verwerkingen"]
    assert per_org == {TOESLAGEN: 4, BELASTING: 3, GEMEENTE: 1}
    per_activity: dict[str, int] = {}
    for row in panel_result(runner, ctx, TOEZICHT_UID, "Verwerkingen per activiteit").dicts():
        per_activity[row["Activiteit"]] = per_activity.get(row["Activiteit"], 0) + row["Verwerkingen"]
    assert per_activity == {
        "Huurtoeslag berekenen": 3, "Inkomen verstrekken": 1, "Fraudeonderzoek": 1,
        ONBEKEND: 1, OUDE_REGELING: 1, NIEUWE_REGELING: 1,
    }  # fmt: skip


def test_per_law_and_legal_basis(runner: PanelRunner, seeded: Seeded) -> None:
    rows = panel_result(runner, context(runner, seeded, TOEZICHT_UID), TOEZICHT_UID, "Per wet en grondslag").rows
    assert sorted(map(tuple, rows)) == sorted([
        (HUURTOESLAG_LAW, "LegalObligation", 3),
        (AWIR, "LegalObligation", 1),
        (AWR, "PublicInterest", 1),
        (SV, "OfficialAuthorityOfController", 1),
        ("(niet in register)", "", 3),
    ])  # fmt: skip


def test_top_activities_with_error_percentage(runner: PanelRunner, seeded: Seeded) -> None:
    rows = panel_result(runner, context(runner, seeded, TOEZICHT_UID), TOEZICHT_UID, "Activiteiten met foutpercentage").dicts()
    assert rows[0] == {"Activiteit": "Huurtoeslag berekenen", "Organisatie": TOESLAGEN, "Verwerkingen": 3, "Fouten": 1, "Fout %": 33.3}
    by_activity = {row["Activiteit"]: row for row in rows}
    assert by_activity[OUDE_REGELING]["Fout %"] == 100.0
    assert sum(row["Verwerkingen"] for row in rows) == 8


def test_records_not_in_the_register_or_not_valid(runner: PanelRunner, seeded: Seeded) -> None:
    rows = panel_result(runner, context(runner, seeded, TOEZICHT_UID), TOEZICHT_UID, "Niet in het register of niet geldig").dicts()
    found = {(row["TraceId"], row["Activiteit"], row["Registerstatus"]) for row in rows}
    assert found == {
        (seeded.traces["t5"], ONBEKEND, "unknown"),
        (seeded.traces["t6"], OUDE_REGELING, "not_valid"),
        (seeded.traces["t7"], NIEUWE_REGELING, "not_valid"),
    }
    assert len(rows) == 3


def test_flows_between_organisations_as_a_node_graph(runner: PanelRunner, seeded: Seeded) -> None:
    ctx = context(runner, seeded, TOEZICHT_UID)
    edges = panel_result(runner, ctx, TOEZICHT_UID, "Stromen tussen organisaties", "edges").dicts()
    assert [(e["id"], e["source"], e["target"], e["mainstat"]) for e in edges] == [
        (f"{TOESLAGEN} -> {BELASTING}", TOESLAGEN, BELASTING, 1),
        (f"{PORTAAL} -> {GEMEENTE}", PORTAAL, GEMEENTE, 1),
    ]
    nodes = panel_result(runner, ctx, TOEZICHT_UID, "Stromen tussen organisaties", "nodes").dicts()
    assert {n["id"]: n["mainstat"] for n in nodes} == {TOESLAGEN: 1, BELASTING: 1, PORTAAL: 1, GEMEENTE: 1}
    assert all(n["id"] == n["title"] for n in nodes)


def test_retention_shows_records_past_the_registers_period(runner: PanelRunner, seeded: Seeded) -> None:
    rows = panel_result(runner, context(runner, seeded, TOEZICHT_UID), TOEZICHT_UID, "Bewaartermijn verstreken, nog aanwezig").dicts()
    assert len(rows) == 1
    row = rows[0]
    assert (row["Organisatie"], row["Activiteit"], row["Bewaartermijn"]) == (TOESLAGEN, "Huurtoeslag berekenen", "P7Y")
    assert (row["Voorbij bewaartermijn"], row["Voorbij TTL"]) == (1, 0)  # 8 years old; the TTL is 10 years
    assert row["Oudste"].replace(tzinfo=UTC) < seeded.now - timedelta(days=7 * 366)


def test_ingest_health_delay_and_throughput(runner: PanelRunner, seeded: Seeded, store: LogStore) -> None:
    ctx = context(runner, seeded, TOEZICHT_UID)
    with store.writer_lock:
        stored = store.client.query(
            "SELECT toUnixTimestamp64Milli(IngestedAt), toUnixTimestamp64Milli(Timestamp), Duration FROM otel_traces"
        ).result_rows
    delays = [(ingested - start - duration // 1_000_000) / 1000 for ingested, start, duration in stored]
    series = panel_result(runner, ctx, TOEZICHT_UID, "Vertraging verwerking → opslag").dicts()
    assert max(row["Vertraging max"] for row in series) == pytest.approx(max(delays))
    assert max(delays) > 8 * 365 * 86400  # the 8-year-old record, delivered today
    throughput = panel_result(runner, ctx, TOEZICHT_UID, "Opgeslagen per interval").dicts()
    assert sum(row["Opgeslagen"] for row in throughput) == 10  # every distinct record, stored now
    since = panel_result(runner, ctx, TOEZICHT_UID, "Sinds laatste opslag").scalar()
    assert 0 <= since < 300


def _rejected_per_rule(runner: PanelRunner, ctx: Context, uid: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in panel_result(runner, ctx, uid, "Geweigerde spans per regel").dicts():
        assert isinstance(row["time"], datetime)
        totals[row["Regel"]] = totals.get(row["Regel"], 0) + row["Geweigerde spans"]
    return totals


def test_rejected_spans_per_rule(runner: PanelRunner, seeded: Seeded) -> None:
    """Counted by the real collector when it refused the seeded spans (seed.seed_rejections)."""
    everyone = _rejected_per_rule(runner, context(runner, seeded, TOEZICHT_UID), TOEZICHT_UID)
    assert everyone == {"name": 2, "uri": 2, "clear-bsn": 1}
    for organisation in (BELASTING, TOESLAGEN):
        one = context(runner, seeded, TOEZICHT_UID, organisation=[organisation])
        assert _rejected_per_rule(runner, one, TOEZICHT_UID) == REJECTED[organisation]
    assert _rejected_per_rule(runner, context(runner, seeded, TOEZICHT_UID, organisation=[GEMEENTE]), TOEZICHT_UID) == {}
    # Outside the time range: nothing.
    start, _ = seeded.window
    earlier = context(runner, seeded, TOEZICHT_UID)
    earlier.start, earlier.end = start - timedelta(days=3), start
    assert _rejected_per_rule(runner, earlier, TOEZICHT_UID) == {}


def test_an_organisation_user_sees_only_its_own_rejections(store: LogStore, seeded: Seeded) -> None:
    """The endpoint's row filter reaches the counts: whatever the variable says, and also when
    the user reads the view or the table itself with its own SQL."""
    with endpoint_runner(store, user="fg-belastingdienst", scope=BELASTING) as scoped:
        ctx = context(scoped, seeded, ORGANISATIE_UID)
        assert _rejected_per_rule(scoped, ctx, ORGANISATIE_UID) == REJECTED[BELASTING]
        other = context(scoped, seeded, ORGANISATIE_UID, organisation=[TOESLAGEN])
        assert _rejected_per_rule(scoped, other, ORGANISATIE_UID) == {}
        for relation in ("ldv_dashboard_rejections", "ldv_ingest_rejections"):
            rows = scoped.run(f"SELECT DISTINCT Organisation FROM {relation}", ctx).rows
            assert [tuple(r) for r in rows] == [(BELASTING,)]


def test_one_processing_in_the_trace_view(runner: PanelRunner, seeded: Seeded) -> None:
    ctx = context(runner, seeded, VERWERKING_UID)
    spans = panel_result(runner, ctx, VERWERKING_UID, "Verwerking als trace").dicts()
    assert len(spans) == 2 and {s["traceID"] for s in spans} == {seeded.traces["t1"]}
    parent, child = spans
    assert child["parentSpanID"] == parent["spanID"] and parent["parentSpanID"] == ""
    assert (parent["serviceName"], parent["operationName"]) == (f"{TOESLAGEN}-api", "huurtoeslag berekenen")
    assert parent["duration"] == pytest.approx(250.0)  # ms
    tag_keys = {tag["key"] for s in spans for tag in s["tags"]}
    assert "dpl.core.processing_activity_id" in tag_keys and "dpl.core.data_subject_id" not in tag_keys
    table = panel_result(runner, ctx, VERWERKING_UID, "Handelingen van deze verwerking").dicts()
    assert [(r["Organisatie"], r["Wetten"]) for r in table] == [(TOESLAGEN, HUURTOESLAG_LAW), (BELASTING, f"{AWIR}; {AWR}")]
    recent = panel_result(runner, ctx, VERWERKING_UID, "Recente verwerkingen").dicts()
    assert {r["TraceId"] for r in recent} == {seeded.traces[t] for t in ("t1", "t2", "t3", "t4", "t5", "t6", "t7")}
    assert {r["TraceId"] for r in recent if r["Fout"]} == {seeded.traces["t2"], seeded.traces["t6"]}


def test_every_panel_has_its_numbers_asserted() -> None:
    """A new panel needs its own expected numbers above, not only 'it returns rows'."""
    source = open(__file__, encoding="utf-8").read()
    titles = {panel["title"] for board in BOARDS.values() for panel, _ in targets(board)}
    missing = [title for title in titles if f'"{title}"' not in source]
    assert not missing, f"panels without asserted numbers: {missing}"


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r.uid)
def test_alert_rule_queries(runner: PanelRunner, seeded: Seeded, rule: Any) -> None:
    start, end = seeded.window  # the rule's own window is shorter; the seeded window shows the numbers
    value = runner.run(rule.raw_sql, Context(start=start, end=end)).scalar()
    expected = {"ldv-unregistered-activity": 3, "ldv-error-share": 0.25}
    if rule.uid in expected:
        assert value == pytest.approx(expected[rule.uid])
        assert value > rule.above  # the seeded store would fire these alerts
    else:
        assert 0 <= value < rule.above  # just stored: no stall
