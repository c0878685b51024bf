"""The durable local spool: SQLite in WAL mode between a processing and the collector.

A record is written (committed to the WAL file) before the processing returns, so a crash
of the process loses nothing (`sync="full"` also survives a power loss, at an fsync per record); the sender deletes it only after the collector acknowledged it.
Records the collector rejects as invalid move to `dead_letters` with the reason, so they are
neither retried forever nor lost. One process per spool file (an exclusive lock file).

Policy when full (`max_records` pending records): `block` waits for the sender to make room;
`fail` raises `SpoolFull`. A record is never dropped silently.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ldv_sdk.errors import ConfigurationError, SpoolFull

log = logging.getLogger("ldv_sdk")

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    spooled_seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    dead_at_ns INTEGER NOT NULL
);
"""
BLOCK_WARNING_INTERVAL_S = 10.0


@dataclass(frozen=True, slots=True)
class Spooled:
    """One pending record: its place in the spool and its JSON body."""

    seq: int
    body: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record the collector refused, with the collector's reason."""

    seq: int
    body: str
    reason: str
    dead_at_ns: int


class Spool:
    """A bounded, durable FIFO of records (JSON text), safe to use from several threads."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_records: int = 1_000_000,
        full_policy: Literal["block", "fail"] = "block",
        sync: Literal["normal", "full"] = "normal",
    ) -> None:
        self.path = Path(path)
        self.max_records = max_records
        self.full_policy = full_policy
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_exclusive(self.path.with_name(self.path.name + ".lock"))
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        # One process per spool (the lock file): exclusive locking spares SQLite its shared-memory
        # index and lock calls on every commit, which is most of the cost of a one-record commit.
        self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={sync.upper()}")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending = self._db.execute("SELECT count(*) FROM records").fetchone()[0]
        self._closed = False

    # -- writing ---------------------------------------------------------------------------

    def put(self, body: str) -> None:
        """Append one record; it is in the WAL file when this returns.

        Raises SpoolFull (policy `fail`) or waits (policy `block`) while the spool is full.
        """
        with self._lock:
            self._wait_for_room(1)
            self._db.execute("INSERT INTO records(body) VALUES (?)", (body,))
            self._pending += 1
            self._changed.notify_all()

    def put_many(self, bodies: Sequence[str]) -> None:
        """Append several records in one transaction (all or nothing)."""
        if not bodies:
            return
        with self._lock:
            self._wait_for_room(len(bodies))
            with _transaction(self._db):
                self._db.executemany("INSERT INTO records(body) VALUES (?)", [(b,) for b in bodies])
            self._pending += len(bodies)
            self._changed.notify_all()

    def has_room(self) -> bool:
        """False when the next `put` would block or fail."""
        return self._pending < self.max_records

    def _wait_for_room(self, n: int) -> None:
        if self._closed:
            raise RuntimeError("the spool is closed")
        if self._pending + n <= self.max_records or (self._pending == 0 and n > self.max_records):
            return
        if self.full_policy == "fail":
            raise SpoolFull(f"the LDV spool {self.path} is full ({self._pending} records pending)")
        warned = time.monotonic()
        log.warning("LDV spool is full (%d records pending): processings wait for the sender", self._pending)
        while self._pending + n > self.max_records and not self._closed:
            self._changed.wait(timeout=1.0)
            if time.monotonic() - warned > BLOCK_WARNING_INTERVAL_S:
                log.warning("LDV spool still full (%d records pending): is the collector reachable?", self._pending)
                warned = time.monotonic()
        if self._closed:
            raise RuntimeError("the spool is closed")

    # -- reading and acknowledging ------------------------------------------------------------

    def peek(self, limit: int) -> list[Spooled]:
        """The oldest `limit` pending records, left in place until `ack` or `dead_letter`."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body FROM records ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Spooled(seq, body) for seq, body in rows]

    def ack(self, seqs: Iterable[int]) -> None:
        """Delete delivered records."""
        params = [(s,) for s in seqs]
        if not params:
            return
        with self._lock:
            with _transaction(self._db):
                before = self._db.total_changes
                self._db.executemany("DELETE FROM records WHERE seq = ?", params)
                removed = self._db.total_changes - before
            self._pending -= removed
            self._changed.notify_all()

    def dead_letter(self, items: Iterable[tuple[int, str]]) -> None:
        """Move records the collector refused to `dead_letters`, each with its reason."""
        params = [(seq, reason, time.time_ns()) for seq, reason in items]
        if not params:
            return
        with self._lock:
            with _transaction(self._db):
                self._db.executemany(
                    "INSERT INTO dead_letters(spooled_seq, body, reason, dead_at_ns) "
                    "SELECT seq, body, ?2, ?3 FROM records WHERE seq = ?1",
                    params,
                )
                before = self._db.total_changes
                self._db.executemany("DELETE FROM records WHERE seq = ?", [(p[0],) for p in params])
                removed = self._db.total_changes - before
            self._pending -= removed
            self._changed.notify_all()

    def dead_letters(self) -> list[DeadLetter]:
        """Every record the collector refused, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body, reason, dead_at_ns FROM dead_letters ORDER BY seq").fetchall()
        return [DeadLetter(*row) for row in rows]

    def requeue_dead_letters(self) -> int:
        """Put every dead letter back in the queue (after the collector or the record was fixed)."""
        with self._lock:
            with _transaction(self._db):
                n = self._db.execute("INSERT INTO records(body) SELECT body FROM dead_letters ORDER BY seq").rowcount
                self._db.execute("DELETE FROM dead_letters")
            self._pending += n
            self._changed.notify_all()
        return n

    # -- waiting ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """Pending records (not counting dead letters)."""
        return self._pending

    def wait_for_records(self, timeout: float) -> bool:
        """Wait until a record is pending; False on timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: self._pending > 0 or self._closed, timeout=timeout)

    def wait_until_empty(self, timeout: float) -> bool:
        """Wait until every pending record was delivered or dead-lettered; False on timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._changed.notify_all()
            self._db.close()
        _unlock(self._lock_fd)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection, ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _lock_exclusive(path: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, documented
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ConfigurationError(
            f"the LDV spool {path.with_suffix('')} is in use by another process: give each process its own spool_path"
        ) from None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock
