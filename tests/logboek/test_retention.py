"""RetentionDays per record: the register's period of the activity's version, then the organisation, then the default.

Unit rules of `ldv_logboek.storage._retention`, then end to end: a register file loaded by
`ldv serve`'s composition (Stack.build), spans exported over OTLP/HTTP to its collector, and
the stored RetentionDays read back from the records table.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek.register import ActivityVersion, LegalBasis, ProcessingActivity, Register
from ldv_logboek.storage import rows_table
from ldv_logboek.storage._retention import MAX_RETENTION_DAYS, Retention, period_days
from ldv_logboek.storage._schema import RECORDS_TABLE
from tests.collector.helpers import ORGANISATION as HELPERS_ORGANISATION
from tests.conftest import make_record

DAY_NS = 86_400 * 10**9
ACTIVITY = "https://register.example/processing-activities/huurtoeslag"
CONTROLLER = "https://register.example/organisations/toeslagen"


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 10**9


def _version(number: int, valid_from: str, period: str) -> ActivityVersion:
    return ActivityVersion(
        version=number,
        valid_from=datetime.fromisoformat(valid_from),
        name="Huurtoeslag",
        purpose="Recht op huurtoeslag vaststellen",
        legal_basis=(LegalBasis(dpv="LegalObligation", law="Wet op de huurtoeslag"),),
        controller=CONTROLLER,
        retention_period=period,
    )


def _register(*versions: ActivityVersion, ended_at: str | None = None) -> Register:
    activity = ProcessingActivity(
        id=ACTIVITY, versions=versions, ended_at=datetime.fromisoformat(ended_at) if ended_at else None
    )
    return Register(activities={ACTIVITY: activity})


def _days(rules: Retention, *records: LogRecord) -> list[int]:
    """RetentionDays of `records` as the store decides them at insert: from their rows table."""
    return rules.days_of_rows(rows_table(list(records)), [r.start_time_ns for r in records])


def test_periods_count_on_the_calendar_and_round_up() -> None:
    assert period_days("P1Y", _ns("2023-03-01T00:00:00")) == 366  # over 29 February 2024
    assert period_days("P1Y", _ns("2022-03-01T00:00:00")) == 365
    assert period_days("P1M", _ns("2024-01-31T00:00:00")) == 29  # to 29 February: the month's last day
    assert period_days("P2W3D", _ns("2024-01-01T00:00:00")) == 17
    assert period_days("PT36H", _ns("2024-01-01T00:00:00")) == 2  # a day and a half: two whole days
    assert period_days("P0D", _ns("2024-01-01T00:00:00")) == 1  # at least a day
    assert period_days("P500Y", _ns("2024-01-01T00:00:00")) == MAX_RETENTION_DAYS
    assert period_days("", 0) is None
    assert period_days("7 jaar", 0) is None


def test_precedence_activity_then_organisation_then_default() -> None:
    rules = Retention(3650, {"dienst-toeslagen": 400}, _register(_version(1, "2020-01-01T00:00:00", "P7Y")))
    start = _ns("2024-06-01T12:00:00")
    of_activity = make_record(activity=ACTIVITY, start_ns=start)
    other_activity = make_record(activity="https://register.example/processing-activities/onbekend", start_ns=start)
    other_organisation = make_record(activity="https://register.example/x", start_ns=start)
    other_organisation.resource_attributes[attr.ORGANISATION] = "uwv"
    days = _days(rules, of_activity, other_activity, other_organisation)
    assert days == [period_days("P7Y", _ns("2024-06-01T00:00:00")) + 1, 400, 3650]  # type: ignore[operator]


def test_the_version_in_force_at_the_record_time_decides() -> None:
    rules = Retention(
        3650,
        None,
        _register(
            _version(1, "2020-01-01T00:00:00", "P1Y"),
            _version(2, "2024-01-01T00:00:00", ""),  # no period: the organisation or the default
            _version(3, "2025-01-01T00:00:00", "P30D"),
            ended_at="2026-01-01T00:00:00",
        ),
    )

    def days_at(moment: str) -> int:
        return _days(rules, make_record(activity=ACTIVITY, start_ns=_ns(moment)))[0]

    assert days_at("2019-12-31T23:59:59") == 3650  # before the first version
    assert days_at("2023-05-01T00:00:00") == 367
    assert days_at("2024-05-01T00:00:00") == 3650
    assert days_at("2025-05-01T00:00:00") == 31
    assert days_at("2026-01-01T00:00:00") == 3650  # the activity has ended


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 80), st.integers(0, 30), st.integers(0, 10), st.integers(0, 400),
    st.integers(_ns("1971-01-01T00:00:00"), _ns("2200-01-01T00:00:00")),
)  # fmt: skip
def test_a_record_is_never_removed_before_its_period_ends(years: int, months: int, weeks: int, days: int, start: int) -> None:
    """The days stored (per day, shared by an insert's records) reach at least the end of the
    period counted from the record's own time, and at most a day and a half past it."""
    period = f"P{years}Y{months}M{weeks}W{days}D"
    rules = Retention(1, None, _register(_version(1, "1970-01-02T00:00:00", period)))
    stored = _days(rules, make_record(activity=ACTIVITY, start_ns=start))[0]
    exact = period_days(period, start)
    assert exact is not None
    if exact < MAX_RETENTION_DAYS:
        assert exact <= stored <= exact + 2


# -- end to end: register file -> ldv serve's collector -> stored RetentionDays -----------------------------

_REGISTER_FILE = f"""
organisations:
  - id: {CONTROLLER}
    code: dienst-toeslagen
    name: Dienst Toeslagen
processing_activities:
  - id: {ACTIVITY}
    versions:
      - version: 1
        validFrom: "2020-01-01T00:00:00Z"
        name: Huurtoeslag
        purpose: Recht op huurtoeslag vaststellen
        legalBasis:
          - dpv: LegalObligation
            law: Wet op de huurtoeslag
        controller: {CONTROLLER}
        retentionPeriod: P7Y
  - id: https://register.example/processing-activities/zonder-termijn
    versions:
      - version: 1
        validFrom: "2020-01-01T00:00:00Z"
        name: Zonder bewaartermijn
        purpose: Iets zonder termijn
        legalBasis:
          - dpv: LegalObligation
            law: Een wet
        controller: {CONTROLLER}
"""


@pytest.mark.parametrize(
    ("by_organisation", "expected_without_period"),
    [(None, 1000), (f'{{"{HELPERS_ORGANISATION}": 400, "een-ander": 9}}', 400), ('{"een-ander": 9}', 1000)],
)
def test_a_loaded_register_sets_each_stored_records_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by_organisation: str | None, expected_without_period: int
) -> None:
    """Activity's retentionPeriod, else the organisation's (LDV_SERVE_RETENTION_BY_ORGANISATION), else the default."""
    from ldv_collector import CollectorSettings
    from ldv_suite.server import Stack
    from ldv_suite.settings import ServeSettings
    from tests.collector.helpers import AsgiClient, ldv_attributes, make_request, make_span

    register_file = tmp_path / "register.yaml"
    register_file.write_text(_REGISTER_FILE)
    monkeypatch.setenv("LDV_SERVE_RETENTION_DAYS", "1000")
    if by_organisation is not None:
        monkeypatch.setenv("LDV_SERVE_RETENTION_BY_ORGANISATION", by_organisation)
    stack = Stack.build(
        ServeSettings.load(data_dir=tmp_path / "data", clickhouse_port=0),
        register_paths=[register_file],
        collector_settings=CollectorSettings(max_batch_wait_ms=0),
    )
    try:
        writer = stack.collector.writer
        writer.start()
        now = time.time_ns()
        with_period = make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: ACTIVITY}), start_ns=now)
        without_period = make_span(
            ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: "https://register.example/processing-activities/zonder-termijn"}),
            start_ns=now,
        )
        response = AsgiClient(stack.servers[0].config.app).post(
            "/v1/traces",
            content=make_request([with_period, without_period]).SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert response.status_code == 200
        writer.stop()
        rows = dict(
            stack.store.client.query(
                f"SELECT SpanId, RetentionDays FROM {RECORDS_TABLE} WHERE SpanId IN {{s:Array(String)}}",
                parameters={"s": [with_period.span_id.hex(), without_period.span_id.hex()]},
            ).result_rows
        )
        today = now // DAY_NS * DAY_NS
        assert rows == {
            with_period.span_id.hex(): period_days("P7Y", today) + 1,  # type: ignore[operator]
            without_period.span_id.hex(): expected_without_period,
        }
    finally:
        stack.store.close()


def test_past_retention_finds_the_records_whose_retention_ended_before_they_arrive(tmp_path: Path) -> None:
    """The rule `retention-passed` (docs/reliability.md, clocks): the store's own retention rules,
    counted from the record's time as the TTL counts it, with a minute's margin."""
    from ldv_logboek.storage import LogStore, connect, rows_table

    store = LogStore(connect(f"chdb://{tmp_path / 'store'}"), retention_days=30)
    try:
        store.migrate()
        now, day = time.time_ns(), 86_400 * 10**9
        records = [
            make_record(start_ns=now - 31 * day),  # ended a day ago
            make_record(start_ns=now - 29 * day),  # a day left
            make_record(start_ns=now),
            make_record(start_ns=now - 30 * day + 30 * 10**9),  # ends in 30 s: within the margin
            make_record(start_ns=365 * day),  # 1971
        ]
        assert store.past_retention(rows_table(records), now) == [0, 3, 4]
        assert store.past_retention(rows_table(records[1:3]), now) == []
    finally:
        store.close()
