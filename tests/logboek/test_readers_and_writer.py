"""Reads never wait for writes: the store's writer connection and its pool of readers.

Each test asserts the order of events, not a duration: on a loaded machine everything is
slower, but a lookup that had to wait for an insert would still end after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldv_logboek.storage import LogStore, RecordQuery, StorageUnavailable, connect
from ldv_logboek.storage._pool import ConnectionPool
from ldv_logboek.storage._schema import RECORDS_TABLE
from tests.conftest import make_record

SUBJECT = "hmac-sha256:" + "cd" * 32


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[LogStore]:
    """A store of its own: these tests fill it with large inserts and close it."""
    store = LogStore(connect(f"chdb://{tmp_path}"))
    store.migrate()
    yield store
    store.close()


def _wait_for(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_reads_use_readers_and_see_every_insert_at_once(own_store: LogStore) -> None:
    """Read-your-writes across connections: a row is on every reader when `insert` returns.

    The lookups run while the test itself holds the writer's lock, so they cannot be on the writer.
    """
    assert own_store.readers == 4
    for _ in range(20):
        record = make_record(subject=SUBJECT)
        own_store.insert([record])
        with own_store.writer_lock:
            page = own_store.find(RecordQuery(trace_id=record.trace_id))
            assert [r.span_id for r in page.records] == [record.span_id]
    with own_store.writer_lock:
        assert own_store.count() == 20


def test_a_lookup_during_a_long_insert_does_not_wait_for_it(own_store: LogStore) -> None:
    """While an insert holds the writer (large enough to take a while), a lookup answers.

    The lookup starts once the insert holds the writer's lock and must end while the insert
    still holds it. On a store whose reads share the writer's lock (main before this change,
    or `readers=0`) the lookup can only end after the insert: the test fails there.
    """
    known = make_record(subject=SUBJECT)
    own_store.insert([known])
    batch = [make_record() for _ in range(200_000)]
    outcomes: list[tuple[bool, float]] = []
    for _attempt in range(3):  # a scheduler may stall the lookup once; never three times in a row
        insert_done = threading.Event()
        writer = threading.Thread(target=lambda: (own_store.insert(batch), insert_done.set()))
        writer.start()
        _wait_for(lambda: own_store.writer_lock.locked() or insert_done.is_set(), "the insert to start")
        started = time.monotonic()
        page = own_store.find(RecordQuery(data_subject_id=SUBJECT))
        during = own_store.writer_lock.locked() and not insert_done.is_set()
        outcomes.append((during, time.monotonic() - started))
        writer.join()
        assert [r.span_id for r in page.records] == [known.span_id]
        if during:
            break
    assert any(during for during, _ in outcomes), f"every lookup waited for the insert: {outcomes}"


def test_a_lookup_waits_for_an_insert_without_readers(tmp_path: Path) -> None:
    """The same scene on a store whose reads share the writer (`readers=0`): the lookup ends after.

    Shows the test above can fail, and what `LDV_SERVE_STORE_READERS=0` costs.
    """
    store = LogStore(connect(f"chdb://{tmp_path}"), readers=0)
    try:
        store.migrate()
        assert store.readers == 0
        batch = [make_record() for _ in range(50_000)]
        insert_done = threading.Event()
        writer = threading.Thread(target=lambda: (store.insert(batch), insert_done.set()))
        writer.start()
        _wait_for(lambda: store.writer_lock.locked() or insert_done.is_set(), "the insert to start")
        store.find(RecordQuery(data_subject_id=SUBJECT))
        assert insert_done.is_set() or not store.writer_lock.locked()
        writer.join()
    finally:
        store.close()


def test_an_insert_during_a_long_read_does_not_wait_for_it(own_store: LogStore, tmp_path: Path) -> None:
    """While a read runs for seconds on a reader, an insert commits and ends before the read does."""
    slow = "SELECT sum(sleepEachRow(0.01)) FROM numbers(300) SETTINGS max_block_size = 1"  # ~3 s in the engine
    read_done: list[float] = []
    reader = threading.Thread(target=lambda: (own_store.query_rows(slow), read_done.append(time.monotonic())))
    reader.start()
    # An independent connection of the test watches the engine until the read is running.
    monitor = connect(f"chdb://{tmp_path}")
    try:
        _wait_for(
            lambda: monitor.query("SELECT count() FROM system.processes WHERE query LIKE '%sleepEachRow(0.01)%' "
                                  "AND query NOT LIKE '%system.processes%'").result_rows[0][0] > 0,
            "the slow read to run",
        )
    finally:
        monitor.close()
    record = make_record(subject=SUBJECT)
    own_store.insert([record])
    inserted = time.monotonic()
    assert not read_done, "the read ended before the insert: it was not long enough to show anything"
    reader.join()
    assert inserted < read_done[0]
    assert own_store.find(RecordQuery(trace_id=record.trace_id)).records


def test_many_threads_read_and_write_at_once(own_store: LogStore) -> None:
    """Writers and readers together: no errors, every record found by its writer at once, none lost."""
    writers, batches, per_batch = 4, 15, 40
    errors: list[BaseException] = []
    written: list[bytes] = []
    stop = threading.Event()

    def write(n: int) -> None:
        try:
            for _ in range(batches):
                records = [make_record(subject=f"hmac-sha256:{n:064x}") for _ in range(per_batch)]
                own_store.insert(records)
                # Read-your-writes on a reader, while the other writers keep the writer busy.
                found = own_store.find(RecordQuery(trace_id=records[0].trace_id)).records
                assert [r.span_id for r in found] == [records[0].span_id]
                written.extend(r.trace_id for r in records)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                own_store.find(RecordQuery(data_subject_id=f"hmac-sha256:{1:064x}", limit=50))
                own_store.count()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(6)]  # more than the pool: some wait for a reader
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in readers + threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert not errors, errors
    assert len(written) == writers * batches * per_batch
    assert own_store.count() == len(written)
    stored = own_store.query_rows(f"SELECT count() FROM {RECORDS_TABLE} WHERE TraceId IN {{ids:Array(String)}}",
                                  {"ids": [t.hex() for t in written]})
    assert stored[0][0] == len(written)


def test_a_closed_store_refuses_reads_and_writes(tmp_path: Path) -> None:
    store = LogStore(connect(f"chdb://{tmp_path}"))
    store.migrate()
    assert store.count() == 0  # a reader is open now
    store.close()
    with pytest.raises(StorageUnavailable, match="closed"):
        store.count()
    with pytest.raises(StorageUnavailable, match="closed"):
        store.insert([make_record()])
    assert store.pool.closed


def test_a_lane_bounds_its_connections_and_reuses_them_per_key() -> None:
    opened: list[str] = []
    closed: list[str] = []
    pool = ConnectionPool()

    def open_connection(key: object) -> str:
        opened.append(f"{key}-{len(opened)}")
        return opened[-1]

    lane = pool.lane("test", 1, open_connection, closed.append, wait_seconds=0.05)
    other = pool.lane("other", 1, open_connection, closed.append, wait_seconds=0.05)
    with lane.connection("a") as first:
        with pytest.raises(StorageUnavailable, match="busy"):
            with lane.connection("a"):
                pass
        with other.connection("a"):  # lanes do not share slots
            pass
    with lane.connection("a") as again:
        assert again == first  # reused for the same key
    with lane.connection("b") as b:
        assert b != first  # never for another key
    with pytest.raises(OSError):
        with lane.connection("a", discard_on=(OSError,)):
            raise OSError("link lost")
    assert first in closed  # not reused after a lost link
    pool.close()
    assert set(closed) == set(opened)
    with pytest.raises(StorageUnavailable, match="closed"):
        with lane.connection("a"):
            pass


def test_a_freed_connection_goes_to_the_longest_waiter() -> None:
    """A thread that reads in a tight loop cannot starve another: slots are handed over in turn."""
    lane = ConnectionPool().lane("test", 1, lambda key: object(), lambda connection: None, wait_seconds=5)
    stop = threading.Event()
    turns: list[int] = []

    def hammer() -> None:
        while not stop.is_set():
            with lane.connection():
                turns.append(1)
                time.sleep(0.001)

    thread = threading.Thread(target=hammer)
    thread.start()
    _wait_for(lambda: len(turns) > 10, "the hammering thread to run")
    for _ in range(20):
        before = len(turns)
        with lane.connection():
            # The hammering thread held the slot at most once more before it was handed over.
            assert len(turns) - before <= 2
    stop.set()
    thread.join()
