"""Storage errors are classified: an unreachable, closed or overloaded store is "retry later"
(StorageUnavailable); a bug in our SQL or a schema that is not what the code expects is a
StorageFault with an incident id. Against real chDB, with the driver's real exception types."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from ldv_logboek.storage import (
    LogStore,
    RecordQuery,
    StorageFault,
    StorageUnavailable,
    connect,
    storage_error,
)
from ldv_logboek.storage._schema import RECORDS_TABLE
from tests.conftest import make_record

DAY_NS = 86_400 * 1_000_000_000


@pytest.fixture()
def own_store(tmp_path: Path) -> Iterator[LogStore]:
    """A store of its own per test (these tests break and close it); one chDB session at a time."""
    store = LogStore(connect(f"chdb://{tmp_path}"))
    store.migrate()
    yield store
    store.close()


def test_a_missing_table_is_a_fault_not_retry_later(own_store: LogStore) -> None:
    own_store.insert([make_record()])  # a first insert worked
    own_store.client.command(f"RENAME TABLE {RECORDS_TABLE} TO otel_traces_elsewhere")
    try:
        with pytest.raises(StorageFault) as insert:
            own_store.insert([make_record()])
        with pytest.raises(StorageFault) as query:
            own_store.count()
    finally:
        own_store.client.command(f"RENAME TABLE otel_traces_elsewhere TO {RECORDS_TABLE}")
    assert insert.value.code == query.value.code == 60  # UNKNOWN_TABLE
    assert insert.value.incident.startswith("urn:uuid:") and insert.value.incident != query.value.incident
    own_store.insert([make_record()])  # the table is back: the store works again (the context was rebuilt)
    assert own_store.count() == 2


def test_our_own_bad_sql_is_a_fault(own_store: LogStore) -> None:
    for sql, code in [
        ("SELEC 1", 62),  # SYNTAX_ERROR
        (f"SELECT NoSuchColumn FROM {RECORDS_TABLE}", 47),  # UNKNOWN_IDENTIFIER
        ("SELECT 1 + 'a'", 43),  # ILLEGAL_TYPE_OF_ARGUMENT
        ("SELECT {x:UInt8}", 457),  # BAD_QUERY_PARAMETER
    ]:
        with pytest.raises(StorageFault) as info:
            own_store.query_rows(sql, {"x": "abc"} if "{x" in sql else None)
        assert info.value.code == code, sql


def test_records_the_table_cannot_take_are_a_fault(own_store: LogStore) -> None:
    # Past the year 2262 a DateTime64(9) overflows: the Arrow column cannot hold it, no ClickHouse code.
    with pytest.raises(StorageFault) as info:
        own_store.insert([make_record(start_ns=2**63 + 1)])
    assert info.value.code is None
    assert isinstance(info.value.__cause__, OverflowError)
    assert own_store.count() == 0


def test_a_closed_store_is_retry_later(own_store: LogStore) -> None:
    own_store.close()
    with pytest.raises(StorageUnavailable):
        own_store.insert([make_record()])
    with pytest.raises(StorageUnavailable):
        own_store.find(RecordQuery(processing_activity_id="https://register.example/a"))


def test_classification_of_the_drivers_exception_types() -> None:
    # The types clickhouse-connect raises: OperationalError for a connection that failed (and a
    # server error after its own retries), DatabaseError with the server's code otherwise.
    assert isinstance(storage_error(OperationalError("Error executing HTTP request"), "insert"), StorageUnavailable)
    assert isinstance(storage_error(ConnectionRefusedError(111, "refused"), "insert"), StorageUnavailable)
    assert isinstance(storage_error(DatabaseError("Code: 241. Memory limit", code=241), "insert"), StorageUnavailable)
    assert isinstance(storage_error(DatabaseError("Code: 202. Too many queries", code=202), "insert"), StorageUnavailable)
    assert isinstance(storage_error(DatabaseError("Code: 60. Unknown table", code=60), "insert"), StorageFault)
    assert isinstance(storage_error(DatabaseError("Code: 516. Authentication failed", code=516), "q"), StorageFault)
    # chDB's own exception, unwrapped: the code is read from its text.
    assert isinstance(storage_error(RuntimeError("Code: 159. DB::Exception: Timeout exceeded"), "q"), StorageUnavailable)
    assert isinstance(storage_error(RuntimeError("Code: 62. DB::Exception: Syntax error"), "q"), StorageFault)
    assert isinstance(storage_error(TypeError("a bug of ours"), "q"), StorageFault)


def test_records_over_many_days_are_stored_in_inserts_of_at_most_100_days(own_store: LogStore) -> None:
    # A backfill of a year in one call: ClickHouse refuses one insert block over more than 100
    # partitions (max_partitions_per_insert_block); the store splits it by day.
    activity = "https://register.example/processing-activities/backfill"
    now = time.time_ns()
    records = [make_record(activity=activity, start_ns=now - day * DAY_NS) for day in range(365)]
    records += [make_record(activity=activity, start_ns=now - day * DAY_NS - 1000) for day in range(0, 365, 7)]
    own_store.insert(records)
    found = own_store.find(RecordQuery(processing_activity_id=activity, limit=1000)).records
    assert {r.span_id for r in found} == {r.span_id for r in records}
    # Layout 5 has no time partitions: a year of records is one partition, whatever the days.
    partitions = own_store.client.query(
        f"SELECT uniqExact(partition) FROM system.parts WHERE table = '{RECORDS_TABLE}' AND active"
    ).result_rows[0][0]
    assert partitions == 1


def test_an_unreachable_server_gives_the_drivers_operational_error_which_is_retry_later() -> None:
    # Nothing listens on the discard port: clickhouse-connect's real error for a refused connection.
    with pytest.raises(StorageUnavailable) as info:
        connect("http://127.0.0.1:9/ldv", connect_timeout=1)
    cause = info.value.__cause__
    assert isinstance(cause, OperationalError)
    assert isinstance(storage_error(cause, "insert of 1 records"), StorageUnavailable)
