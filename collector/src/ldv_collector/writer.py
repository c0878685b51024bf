"""Group commit: the records of concurrent requests go into the store in one insert.

Every request hands its records to the writer and waits; a background thread takes all
that is pending (up to `max_batch_records`, whole requests only), inserts it with one
`LogStore.insert` and then answers every waiting request at once. A request is acknowledged
only after the insert that holds its records committed, and all its records share that
insert's fate (stored together or not at all).
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

from ldv_collector.metrics import CollectorMetrics
from ldv_logboek.record import LogRecord
from ldv_logboek.storage import LogStore, StorageUnavailable

log = logging.getLogger(__name__)


class WriterStopped(RuntimeError):
    """The writer is not running (not started yet, or shutting down); retry later."""


@dataclass(slots=True)
class _Pending:
    records: Sequence[LogRecord]
    future: Future[None]


class GroupCommitWriter:
    """Batches the records of concurrent requests into one insert each; see the module docstring."""

    def __init__(
        self,
        store: LogStore,
        *,
        max_batch_records: int = 20_000,
        max_batch_wait_ms: float = 2.0,
        metrics: CollectorMetrics | None = None,
    ):
        if max_batch_records < 1:
            raise ValueError("max_batch_records must be at least 1")
        self.store = store
        self.max_batch_records = max_batch_records
        self.max_batch_wait = max(0.0, max_batch_wait_ms) / 1000
        self.metrics = metrics or CollectorMetrics()
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

    def submit(self, records: Sequence[LogRecord]) -> Future[None]:
        """Queue `records` for the next insert; the future resolves once they are stored.

        The future raises StorageUnavailable when the insert failed. Raises WriterStopped
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

    async def write(self, records: Sequence[LogRecord]) -> None:
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
                self._cond.wait()
            if self.max_batch_wait and self._accepting:
                # Give concurrent requests a moment to join this insert.
                deadline = time.monotonic() + self.max_batch_wait
                while self._queued_records < self.max_batch_records and self._accepting:
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
            if batch is None:
                return
            if not batch:
                continue
            records = [r for pending in batch for r in pending.records]
            try:
                self.store.insert(records)
            except Exception as exc:  # noqa: BLE001 - every failure means "not stored": tell each request
                error = exc if isinstance(exc, StorageUnavailable) else StorageUnavailable("insert failed")
                # The driver's message may quote record data: log the kind of failure only.
                cause = exc.__cause__ or exc
                log.warning("group commit of %d records failed: %s", len(records), type(cause).__name__)
                self.metrics.add(insert_failures=1, spans_failed=len(records))
                for pending in batch:
                    pending.future.set_exception(error)
            else:
                self.metrics.add(inserts=1, spans_stored=len(records))
                for pending in batch:
                    pending.future.set_result(None)
