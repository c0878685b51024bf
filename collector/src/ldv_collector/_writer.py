"""Group commit: the records of concurrent requests go into the store in one insert.

Every request hands its records to the writer and waits; a background thread takes all
that is pending (up to `max_batch_records`, whole requests only), inserts it with one
`LogStore.insert` and then answers every waiting request at once. A request is acknowledged
only after the insert that holds its records committed.

When the writer takes a batch: once `max_batch_wait_ms` have passed since it saw the first
pending request, and no sooner than `min_insert_interval_ms` after the previous insert began,
or at once when `max_batch_records` are pending (or the writer stops); from
`PACED_BELOW_RECORDS` pending records on, only `max_batch_wait_ms` applies. Every insert is a part
of the records table and one of the log's leaves, each with a fixed cost (~10-20 ms of CPU in
chDB, and the merges that fold the parts together later), so under steady traffic the inserts
are paced: at most one per interval, each gathering what arrived meanwhile (measured in
docs/reliability.md, "Soak"). A request after a quiet spell is inserted at once.

One request never fails another: when the combined insert fails with a StorageFault (the
store refused the statement, which may be caused by one request's records), every request
of the batch is inserted again on its own, so only the request that cannot be stored fails.
When the store is unavailable (StorageUnavailable) every request of the batch fails at once:
the store is down for all of them, and trying each again would only keep the writer busy.

A failed request may have left part of its records stored (an insert of records over many
days is split by `LogStore.insert`; a combined insert that failed may have written some
partitions). It is not acknowledged, so the sender delivers it again; duplicates are removed
on every read. What is acknowledged is always stored in full.

With a transparency log (`log`, ldv_logboek.storage.TransparencyLog) every insert is logged
before it is acknowledged: the log stages the batch (each record's retention, leaf index and
salt, and its log entry from these stored columns), the records are inserted, then the leaves
are appended; only then are the requests answered. A failed insert or append answers the
requests with the error (not acknowledged) and makes the log repair itself before the next
batch, from what the store holds (ldv_logboek.storage._tlog).

The same thread stores the counts of rejected spans (`rejections`, see ldv_collector._rejections)
at most every FLUSH_INTERVAL_S and once more when it stops: one small insert beside the record
inserts, never one per request, and never in a request's path.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeAlias

import pyarrow as pa

from ldv_collector._disk_guard import DiskGuard
from ldv_collector._metrics import CollectorMetrics
from ldv_collector._rejections import FLUSH_INTERVAL_S, RejectionCounts
from ldv_collector.errors import WriterStopped
from ldv_logboek import LogRecord
from ldv_logboek.storage import (
    LogStore,
    StorageFault,
    StorageUnavailable,
    TransparencyLog,
    out_of_space,
    rows_table,
    storage_error,
)

log = logging.getLogger(__name__)

# Pending records from which an insert is not held back by `min_insert_interval_ms`: the full
# batch of the SDK and of OpenTelemetry's BatchSpanProcessor (512). A sender with that much to
# send exports one batch at a time, so its throughput is its batch over the export's latency:
# its full batches go at once. Small requests come from senders that are not saturated; pacing
# them costs them latency only, and spares the store a part per request.
PACED_BELOW_RECORDS = 512


# What a request hands the writer: its rows (`ldv_logboek.storage._arrow_insert.ROWS_SCHEMA`, as the
# ingester makes them), or records.
Rows: TypeAlias = "pa.Table | Sequence[LogRecord]"


@dataclass(slots=True)
class _Pending:
    records: Rows
    future: Future[None]


class GroupCommitWriter:
    """Batches the records of concurrent requests into one insert each; see the module docstring."""

    def __init__(
        self,
        store: LogStore,
        *,
        max_batch_records: int = 20_000,
        max_batch_wait_ms: float = 2.0,
        min_insert_interval_ms: float = 0.0,
        metrics: CollectorMetrics | None = None,
        rejections: RejectionCounts | None = None,
        disk_guard: DiskGuard | None = None,
        log: TransparencyLog | None = None,
    ):
        if max_batch_records < 1:
            raise ValueError("max_batch_records must be at least 1")
        self.store = store
        self.max_batch_records = max_batch_records
        self.max_batch_wait = max(0.0, max_batch_wait_ms) / 1000
        self.min_insert_interval = max(0.0, min_insert_interval_ms) / 1000
        self._last_insert = -float("inf")  # monotonic time the previous insert began
        self.metrics = metrics or CollectorMetrics()
        self.rejections = rejections
        self.disk_guard = disk_guard
        self.log = log
        self._last_flush = time.monotonic()
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._queued_records = 0
        self._accepting = False
        self._thread: threading.Thread | None = None

    @property
    def accepting(self) -> bool:
        """True while the writer takes new work (started and not stopping)."""
        return self._accepting

    def start(self) -> None:
        """Start the background thread; calling it again while running does nothing."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._accepting = True
            self._thread = threading.Thread(target=self._run, name="ldv-collector-writer", daemon=True)
            self._thread.start()

    def submit(self, records: Rows) -> Future[None]:
        """Queue `records` for the next insert; the future resolves once they are stored.

        The future raises StorageUnavailable (retry later) or StorageFault (the store
        refused these records; a retry does not help) when they were not stored. Raises WriterStopped
        at once when the writer does not take work.
        """
        future: Future[None] = Future()
        if not records:
            future.set_result(None)
            return future
        with self._cond:
            if not self._accepting:
                raise WriterStopped("the collector is not accepting writes (starting or shutting down)")
            self._queue.append(_Pending(records, future))
            self._queued_records += len(records)
            self._cond.notify()
        return future

    async def write(self, records: Rows) -> None:
        """Store `records` in a group commit and return once they are committed."""
        await asyncio.wrap_future(self.submit(records))

    def stop(self, timeout: float | None = 30.0) -> None:
        """Refuse new work, store everything already pending, then end the thread.

        Safe to call more than once and from any thread (for example a SIGTERM handler).
        """
        with self._cond:
            self._accepting = False
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def pending_records(self) -> int:
        """Records queued and not yet taken by an insert."""
        with self._cond:
            return self._queued_records

    def _take_batch(self) -> list[_Pending] | None:
        """Wait for work and take one batch; None when stopped and drained."""
        with self._cond:
            while not self._queue:
                if not self._accepting:
                    return None
                if self.rejections is None:
                    self._cond.wait()
                elif not self._cond.wait(FLUSH_INTERVAL_S):
                    return []  # idle for a flush interval: let the loop flush the rejection counts
            # Give concurrent requests a moment to join this insert, and pace small inserts.
            joined = time.monotonic() + self.max_batch_wait
            paced = max(joined, self._last_insert + self.min_insert_interval)
            while self._queued_records < self.max_batch_records and self._accepting:
                deadline = joined if self._queued_records >= PACED_BELOW_RECORDS else paced
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch: list[_Pending] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].records) <= self.max_batch_records):
                pending = self._queue.popleft()
                self._queued_records -= len(pending.records)
                # A request whose caller gave up before the insert is dropped (it was never acknowledged).
                if pending.future.set_running_or_notify_cancel():
                    batch.append(pending)
                    size += len(pending.records)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if self.rejections is not None and (
                batch is None or time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S
            ):
                self.rejections.flush(self.store)  # never raises: a failure is logged
                self._last_flush = time.monotonic()
            if batch is None:
                return
            if not batch:
                continue
            records = [pending.records for pending in batch]
            self._last_insert = time.monotonic()
            error = self._insert(*records)
            if error is None:
                for pending in batch:
                    pending.future.set_result(None)
            elif isinstance(error, StorageFault) and len(batch) > 1:
                log.warning("group commit of %d requests failed; inserting each on its own", len(batch))
                for pending in batch:
                    own_error = self._insert(pending.records)
                    if own_error is None:
                        pending.future.set_result(None)
                    else:
                        self.metrics.add(spans_failed=len(pending.records))
                        pending.future.set_exception(own_error)
            else:
                self.metrics.add(spans_failed=sum(len(r) for r in records))
                for pending in batch:
                    pending.future.set_exception(error)

    def _insert(self, *parts: Rows) -> StorageUnavailable | StorageFault | None:
        """Insert the records of `parts` in one insert; the error when they were not stored
        (counted), None when they were."""
        count = sum(len(part) for part in parts)
        try:
            if self.disk_guard is not None:
                self.disk_guard.check()  # nearly full: refused before ClickHouse writes anything
            tables = [part if isinstance(part, pa.Table) else rows_table(part) for part in parts]
            rows = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            if self.log is None:
                self.store.insert_record_rows(rows)
            else:
                staged = self.log.stage(rows)
                try:
                    self.store.insert_record_rows(staged.table)
                except BaseException:
                    self.log.abort(staged)
                    raise
                self.log.commit(staged)  # the leaves: only then is the batch acknowledged
        except Exception as exc:  # noqa: BLE001 - every failure means "not stored": tell the requests
            error = storage_error(exc, f"insert of {count} records")
            # The driver's message may quote record data: the kind of failure only (a fault's
            # message is logged once, with its incident id, where the request is answered).
            cause = exc.__cause__ or exc
            if out_of_space(cause):
                # Said by name: the one cause an operator can fix at once (free or add disk space);
                # the requests are answered "retry later" and writing resumes by itself.
                log.warning("insert of %d records failed: the store's disk is full (%s); senders are told to "
                            "retry later", count, type(cause).__name__)  # fmt: skip
                self.metrics.add(insert_failures=1, store_not_enough_space=1)
            else:
                log.warning("insert of %d records failed: %s", count, type(cause).__name__)
                self.metrics.add(insert_failures=1)
            return error
        self.metrics.add(inserts=1, spans_stored=count)
        return None
