"""The ClickHouse store against real chDB."""

from __future__ import annotations

import os

import pytest

from ldv_logboek import Status
from ldv_logboek import attributes as attr
from ldv_logboek.storage import (
    SCHEMA_VERSION,
    ActivityWindow,
    Cursor,
    LogStore,
    RecordQuery,
    StorageFault,
    StorageUnavailable,
    connect,
    migrate,
)
from ldv_logboek.storage._client import redact
from ldv_logboek.storage._schema import MIGRATIONS_TABLE, RECORDS_TABLE, Migration
from tests.conftest import make_record

SUBJECT_A = "hmac-sha256:" + "aa" * 32
SUBJECT_B = "hmac-sha256:" + "bb" * 32



def test_migrate_is_idempotent_and_versioned(store: LogStore) -> None:
    assert store.migrate() == []
    versions = store.client.query(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version").result_rows
    assert [v[0] for v in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_later_migration_applies_once(store: LogStore) -> None:
    from ldv_logboek.storage._schema import MIGRATIONS

    extra = Migration(SCHEMA_VERSION + 1000, "test column", (f"ALTER TABLE {RECORDS_TABLE} ADD COLUMN IF NOT EXISTS TestCol UInt8",))
    assert migrate(store.client, MIGRATIONS + (extra,)) == [SCHEMA_VERSION + 1000]
    assert migrate(store.client, MIGRATIONS + (extra,)) == []
    store.client.command(f"ALTER TABLE {RECORDS_TABLE} DROP COLUMN TestCol")
    store.client.command(f"DELETE FROM {MIGRATIONS_TABLE} WHERE version = {SCHEMA_VERSION + 1000}")


def test_roundtrip_and_ldv_columns(store: LogStore) -> None:
    record = make_record(subject=SUBJECT_A)
    record.status = Status.ERROR
    record.parent_span_id = b"\x07" * 8
    store.insert([record])
    page = store.find(RecordQuery(trace_id=record.trace_id))
    assert len(page.records) == 1
    got = page.records[0]
    assert (got.trace_id, got.span_id, got.parent_span_id) == (record.trace_id, record.span_id, record.parent_span_id)
    assert (got.name, got.status, got.attributes) == (record.name, Status.ERROR, record.attributes)
    assert (got.start_time_ns, got.end_time_ns) == (record.start_time_ns, record.end_time_ns)
    row = store.client.query(
        f"SELECT Organisation, ProcessingActivityId, DataSubjectId, DataSubjectIdType, ServiceName "
        f"FROM {RECORDS_TABLE} WHERE SpanId = {{s:String}}",
        parameters={"s": record.span_id.hex()},
    ).result_rows[0]
    assert row == ("dienst-toeslagen", record.processing_activity_id, SUBJECT_A, "BSN", "toeslagen-api")


def test_duplicates_are_read_once(store: LogStore) -> None:
    record = make_record(subject=SUBJECT_B)
    store.insert([record])
    store.insert([record, record])
    assert len(store.find(RecordQuery(data_subject_id=SUBJECT_B)).records) == 1


def test_selectors_time_window_and_paging(store: LogStore) -> None:
    subject = "hmac-sha256:" + "cc" * 32
    base = 1_800_000_000_000_000_000
    records = [make_record(subject=subject, start_ns=base + i * 1_000_000_000) for i in range(7)]
    store.insert(records[:4])
    store.insert(records[2:])  # overlapping redelivery
    seen = []
    cursor = None
    while True:
        page = store.find(RecordQuery(data_subject_id=subject, limit=3, after=cursor))
        seen += [r.span_id for r in page.records]
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert seen == [r.span_id for r in records]

    window = store.find(
        RecordQuery(data_subject_id=subject, start_time_ms=base // 1_000_000 + 2000, end_time_ms=base // 1_000_000 + 4000)
    )
    assert [r.span_id for r in window.records] == [r.span_id for r in records[2:5]]


def test_times_past_the_column_range_are_open_bounds(store: LogStore) -> None:
    record = make_record(subject="hmac-sha256:" + "dd" * 32)
    store.insert([record])
    year_2999_ms = 32_503_676_399_999  # beyond DateTime64(9): ClickHouse would overflow
    found = store.find(RecordQuery(data_subject_id=record.data_subject_id, start_time_ms=0, end_time_ms=year_2999_ms))
    assert [r.span_id for r in found.records] == [record.span_id]
    assert store.find(RecordQuery(data_subject_id=record.data_subject_id, start_time_ms=year_2999_ms)).records == []


def test_activity_selector(store: LogStore) -> None:
    activity = "https://register.example/processing-activities/unique-activity"
    record = make_record(activity=activity)
    store.insert([record, make_record()])
    assert [r.span_id for r in store.find(RecordQuery(processing_activity_id=activity)).records] == [record.span_id]


def test_query_needs_a_selector() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RecordQuery(start_time_ms=1, end_time_ms=2)
    with pytest.raises(ValueError, match="limit"):
        RecordQuery(data_subject_id="x", limit=0)
    # Restrictions are not selectors: an organisation's time window would read all its citizens.
    with pytest.raises(ValueError, match="at least one"):
        RecordQuery(organisation="dienst-toeslagen", start_time_ms=1)
    with pytest.raises(ValueError, match="at least one"):
        RecordQuery(exclude=(ActivityWindow("https://a.example/x"),))
    # Subject ids are: a citizen's query of their own pseudonyms may be a time window only.
    assert RecordQuery(data_subject_ids=(SUBJECT_A,), start_time_ms=1).data_subject_ids == (SUBJECT_A,)
    assert RecordQuery(data_subject_ids=()).matches_nothing
    with pytest.raises(ValueError, match="organisation"):
        RecordQuery(trace_id=bytes(16), organisation="")
    with pytest.raises(TypeError, match="tuple"):
        RecordQuery(data_subject_ids=[SUBJECT_A])  # type: ignore[arg-type]


def _with_org(record, organisation: str):  # noqa: ANN001, ANN202 - a test record
    record.resource_attributes = {**record.resource_attributes, attr.ORGANISATION: organisation}
    return record


def test_organisation_restriction(store: LogStore) -> None:
    trace = os.urandom(16)
    ours = _with_org(make_record(subject=SUBJECT_A, trace_id=trace), "gemeente-amsterdam")
    theirs = _with_org(make_record(subject=SUBJECT_A, trace_id=trace), "uwv")
    store.insert([ours, theirs, ours])
    assert [r.span_id for r in store.find(RecordQuery(trace_id=trace, organisation="gemeente-amsterdam")).records] == [
        ours.span_id
    ]
    assert len(store.find(RecordQuery(trace_id=trace)).records) == 2
    assert store.find(RecordQuery(trace_id=trace, organisation="nobody")).records == []
    # A value, never SQL: an injection attempt is just an organisation nobody has.
    assert store.find(RecordQuery(trace_id=trace, organisation="x' OR 1=1 --")).records == []


def test_subject_ids_select_any_of_them(store: LogStore) -> None:
    base = 1_810_000_000_000_000_000
    ids = ["hmac-sha256:" + c * 64 for c in "123"]
    records = [make_record(subject=sid, start_ns=base + i * 1000) for i, sid in enumerate(ids)]
    store.insert(records + [records[0]])
    found = store.find(RecordQuery(data_subject_ids=(ids[0], ids[2]), start_time_ms=base // 1_000_000))
    assert [r.span_id for r in found.records] == [records[0].span_id, records[2].span_id]
    # Combined with the other selectors by AND, also with data_subject_id.
    both = RecordQuery(data_subject_ids=(ids[0], ids[2]), data_subject_id=ids[2])
    assert [r.span_id for r in store.find(both).records] == [records[2].span_id]
    assert store.find(RecordQuery(data_subject_ids=(ids[1],), trace_id=records[0].trace_id)).records == []
    # An empty set of ids matches nothing (and asks the store nothing).
    assert store.find(RecordQuery(data_subject_ids=())).records == []
    assert store.find(RecordQuery(data_subject_ids=("x') OR 1=1 --",))).records == []
    # Paging over several ids.
    cursor, seen = None, []
    for _ in range(5):
        page = store.find(RecordQuery(data_subject_ids=tuple(ids), limit=1, after=cursor))
        seen += [r.span_id for r in page.records]
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert seen == [r.span_id for r in records]


def test_excluded_windows_leave_records_out(store: LogStore) -> None:
    subject = "hmac-sha256:" + "ee" * 32
    secret = "https://register.example/processing-activities/secret"
    base = 1_820_000_000_000_000_000
    early, edge, late = (make_record(subject=subject, activity=secret, start_ns=base + d) for d in (0, 1000, 2000))
    other = make_record(subject=subject, start_ns=base + 1000)
    store.insert([early, edge, late, other])

    def found(*windows: ActivityWindow) -> list[bytes]:
        return [r.span_id for r in store.find(RecordQuery(data_subject_id=subject, exclude=windows)).records]

    assert set(found()) == {early.span_id, edge.span_id, other.span_id, late.span_id}
    assert found(ActivityWindow(secret)) == [other.span_id]  # open on both ends: the whole activity
    # Half-open [start, end): the record at `end` stays, the one at `start` goes.
    assert set(found(ActivityWindow(secret, base + 1000, base + 2000))) == {early.span_id, other.span_id, late.span_id}
    assert set(found(ActivityWindow(secret, None, base + 1000))) == {edge.span_id, other.span_id, late.span_id}
    assert set(found(ActivityWindow(secret, base + 1, None))) == {early.span_id, other.span_id}
    # Several windows, also of an activity without records.
    windows = (
        ActivityWindow("https://register.example/none"),
        ActivityWindow(secret, None, base + 1),
        ActivityWindow(secret, base + 2000),
    )
    assert set(found(*windows)) == {edge.span_id, other.span_id}


def test_public_query_rows_reads_beside_the_writer(store: LogStore) -> None:
    rows = store.query_rows(f"SELECT count() FROM {RECORDS_TABLE} WHERE Organisation = {{org:String}}", {"org": "uwv"})
    assert rows[0][0] >= 1
    # Reads take no writer lock: a read while the writer is busy still answers.
    with store.writer_lock:
        assert store.query_rows("SELECT 1") == [(1,)]
    from ldv_logboek.storage import RegisterStore

    assert RegisterStore(store).store is store
    with pytest.raises(StorageFault):  # our own bad SQL: a fault, not "retry later"
        store.query_rows("SELECT no_such_column FROM " + RECORDS_TABLE)


@pytest.mark.parametrize("bad", ["", "nonsense", "MTIzOmFiYzpkZWY"])
def test_foreign_cursor_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        Cursor.decode(bad)


def test_unsupported_dsn_and_redaction() -> None:
    with pytest.raises(ValueError, match="scheme"):
        connect("postgres://x")
    assert redact("https://ldv:s3cret@ch.example:8443/ldv") == "https://ldv:***@ch.example:8443/ldv"


def test_unreachable_server_is_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable) as info:
        connect("http://ldv:s3cret@127.0.0.1:9/ldv", connect_timeout=1)
    assert "s3cret" not in str(info.value)
