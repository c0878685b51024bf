"""Schema migration 3: the ingest time of every record, and the dashboard views that hold no
data subject id."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ldv_logboek import attributes as attr
from ldv_logboek.register._loader import parse_register_text
from ldv_logboek.storage import LogStore, RegisterStore, connect
from ldv_logboek.storage._schema import (
    DASHBOARD_RECORDS_VIEW,
    DASHBOARD_SUBJECTS_VIEW,
    MIGRATIONS,
    RECORDS_TABLE,
    migrate,
)
from tests.conftest import make_record

SUBJECT = "hmac-sha256:" + "5e" * 32
ACTIVITY = "https://register.example/processing-activities/kinderopvang"
REGISTER = f"""
organisations:
  - {{id: "https://register.example/organisations/toeslagen", code: dienst-toeslagen, name: Toeslagen}}
processing_activities:
  - id: {ACTIVITY}
    versions:
      - {{version: 1, validFrom: "2020-01-01T00:00:00Z", name: Kinderopvangtoeslag, purpose: Toeslag.,
          legalBasis: [{{dpv: LegalObligation, law: Wet kinderopvang}}],
          controller: "https://register.example/organisations/toeslagen"}}
      - {{version: 2, validFrom: "2024-01-01T00:00:00Z", name: Kinderopvangtoeslag (nieuw), purpose: Toeslag.,
          legalBasis: [{{dpv: LegalObligation, law: Wet kinderopvang}}, {{dpv: PublicInterest, law: Awir}}],
          controller: "https://register.example/organisations/toeslagen", retentionPeriod: P20Y6M,
          confidential: true, confidentialUntil: "2025-01-01T00:00:00Z"}}
"""


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1e9)


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LogStore, list[str]]]:
    """A store of schema version 2 with records in it, then migrated to the current version."""
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('views')}"))
    assert migrate(store.client, MIGRATIONS[:2]) == [1, 2]
    old = [make_record(subject=SUBJECT, activity=ACTIVITY) for _ in range(2)]
    store.insert(old)
    assert store.migrate() == [3, 4, 5, 6]
    yield store, [r.span_id.hex() for r in old]
    store.close()


def _ingested(store: LogStore, span_ids: list[str]) -> list[datetime]:
    rows = store.client.query(
        f"SELECT IngestedAt FROM {RECORDS_TABLE} WHERE SpanId IN {{ids:Array(String)}}", parameters={"ids": span_ids}
    ).result_rows
    return [row[0] for row in rows]


def test_records_from_before_the_migration_keep_an_unknown_ingest_time(upgraded: tuple[LogStore, list[str]]) -> None:
    store, old = upgraded
    assert _ingested(store, old) == [datetime(1970, 1, 1)] * 2
    time.sleep(1.1)
    # Still 1970 a second later: materialised, not computed (as now64()) at every read.
    assert _ingested(store, old) == [datetime(1970, 1, 1)] * 2


def test_the_store_fills_the_ingest_time_at_insert(upgraded: tuple[LogStore, list[str]]) -> None:
    store, _ = upgraded
    before = datetime.now(UTC).replace(tzinfo=None)
    record = make_record(subject=SUBJECT, activity=ACTIVITY)
    store.insert([record])
    after = datetime.now(UTC).replace(tzinfo=None)
    (ingested,) = _ingested(store, [record.span_id.hex()])
    assert before <= ingested <= after
    time.sleep(0.5)
    assert _ingested(store, [record.span_id.hex()]) == [ingested]


def test_dashboard_views_hold_no_subject_id_nor_exception_text(upgraded: tuple[LogStore, list[str]]) -> None:
    store, _ = upgraded
    record = make_record(
        subject=SUBJECT, activity=ACTIVITY, exception__message=f"faalde voor {SUBJECT}", app__klant="faalde-klant"
    )
    store.insert([record])
    result = store.client.query(f"SELECT * FROM {DASHBOARD_RECORDS_VIEW}")
    assert not {"DataSubjectId", "SpanAttributes", "Events.Attributes", "Links.Attributes"} & set(result.column_names)
    assert SUBJECT not in repr(result.result_rows) and "faalde" not in repr(result.result_rows)
    row = store.client.query(
        f"SELECT Attributes, DataSubjectIdType FROM {DASHBOARD_RECORDS_VIEW} WHERE SpanId = {{s:String}}",
        parameters={"s": record.span_id.hex()},
    ).result_rows[0]
    assert row == ({attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID_TYPE: "BSN"}, "BSN")
    # The raw table still has them: the views hide, nothing is lost.
    assert store.client.query(f"SELECT count() FROM {RECORDS_TABLE} WHERE DataSubjectId = '{SUBJECT}'").result_rows[0][0] == 4


def test_subject_count_view_gives_one_number(upgraded: tuple[LogStore, list[str]]) -> None:
    store, _ = upgraded
    other = make_record(subject="hmac-sha256:" + "77" * 32, activity=ACTIVITY)
    store.insert([other])
    result = store.client.query(
        f"SELECT * FROM {DASHBOARD_SUBJECTS_VIEW}(from = toDateTime(0), to = now() + 60, organisations = [], "
        "all_organisations = 1, activities = [], all_activities = 1, laws = [], all_laws = 1)"
    )
    assert result.column_names == ("DataSubjects",)
    assert result.result_rows == [(2,)]
    only_other_org = store.client.query(
        f"SELECT * FROM {DASHBOARD_SUBJECTS_VIEW}(from = toDateTime(0), to = now() + 60, organisations = ['elders'], "
        "all_organisations = 0, activities = [], all_activities = 1, laws = [], all_laws = 1)"
    ).result_rows
    assert only_other_org == [(0,)]


def test_each_record_gets_the_register_version_in_force_at_its_time(upgraded: tuple[LogStore, list[str]]) -> None:
    store, _ = upgraded
    RegisterStore(store).save(parse_register_text(REGISTER))
    moments = {"before": "2019-06-01T00:00:00", "v1": "2023-06-01T00:00:00", "v2": "2024-06-01T00:00:00", "v2-open": "2025-06-01T00:00:00"}
    records = {name: make_record(subject=SUBJECT, activity=ACTIVITY, start_ns=_ns(at), trace_id=os.urandom(16)) for name, at in moments.items()}
    store.insert(list(records.values()))
    got = {}
    for name, record in records.items():
        got[name] = store.client.query(
            f"SELECT RegisterStatus, ActivityVersion, ActivityName, Laws, Confidential, RetentionPeriod, "
            f"toDate(RetentionUntil) FROM {DASHBOARD_RECORDS_VIEW} WHERE SpanId = {{s:String}}",
            parameters={"s": record.span_id.hex()},
        ).result_rows[0]
    assert got["before"][:4] == ("not_valid", 0, "", [])
    assert got["v1"][:6] == ("registered", 1, "Kinderopvangtoeslag", ["Wet kinderopvang"], False, "")
    assert got["v1"][6] is None  # no retention period in version 1
    assert got["v2"][:6] == ("registered", 2, "Kinderopvangtoeslag (nieuw)", ["Wet kinderopvang", "Awir"], True, "P20Y6M")
    # Long enough that the records are not past their retention today (the store's TTL would drop them).
    assert str(got["v2"][6]) == "2044-12-01"  # 2024-06-01 plus twenty years and six months
    assert got["v2-open"][4] is False  # confidential until 2025-01-01 only


def test_an_organisation_filter_on_the_records_table_reaches_through_the_views(upgraded: tuple[LogStore, list[str]]) -> None:
    """An organisation-scoped reader (the ClickHouse endpoint's `additional_table_filters` on the
    records table) sees only its rows through every dashboard view, the subject count included."""
    store, _ = upgraded
    subjects = (
        f"SELECT DataSubjects FROM {DASHBOARD_SUBJECTS_VIEW}(from = toDateTime(0), to = now() + 60, organisations = [], "
        "all_organisations = 1, activities = [], all_activities = 1, laws = [], all_laws = 1)"
    )
    records = f"SELECT count() FROM {DASHBOARD_RECORDS_VIEW}"

    def scoped(sql: str, organisation: str) -> int:
        condition = f"Organisation = ''{organisation}''"
        filters = "{'" + RECORDS_TABLE + "': '" + condition + "'}"
        return int(store.client.query(sql, settings={"additional_table_filters": filters}).result_rows[0][0])

    everything = int(store.client.query(records).result_rows[0][0])
    assert everything > 0
    assert scoped(records, "dienst-toeslagen") == everything  # make_record's organisation
    assert scoped(records, "elders") == 0
    assert scoped(subjects, "dienst-toeslagen") == int(store.client.query(subjects).result_rows[0][0]) > 0
    assert scoped(subjects, "elders") == 0
