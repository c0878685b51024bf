"""The ClickHouse store against real chDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ldv_logboek import Status
from ldv_logboek.storage import (
    SCHEMA_VERSION,
    Cursor,
    LogStore,
    RecordQuery,
    StorageUnavailable,
    connect,
    migrate,
)
from ldv_logboek.storage.client import redact
from ldv_logboek.storage.schema import MIGRATIONS_TABLE, RECORDS_TABLE, Migration
from tests.conftest import make_record

SUBJECT_A = "hmac-sha256:" + "aa" * 32
SUBJECT_B = "hmac-sha256:" + "bb" * 32


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogStore]:
    # chDB opens one data directory per process at a time: one store for the module, closed after.
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('store')}"))
    store.migrate()
    yield store
    store.close()


def test_migrate_is_idempotent_and_versioned(store: LogStore) -> None:
    assert store.migrate() == []
    versions = store.client.query(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version").result_rows
    assert [v[0] for v in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_later_migration_applies_once(store: LogStore) -> None:
    from ldv_logboek.storage.schema import MIGRATIONS

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
