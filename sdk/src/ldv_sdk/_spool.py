"""The durable local spool: an append-only record log between a processing and the collector.

Layout, for `path` = `spool_path` (default `.ldv/spool.sqlite3`):

- `<path>.segments/<n>.seg`: the records, each one frame `length (u32 LE) | crc32 (u32 LE) | body`,
  the body being one span's OTLP `ExportTraceServiceRequest` in protobuf (serialised requests
  concatenate into one request, so the sender joins bodies without decoding them), appended with
  one `write()` to a segment file opened with O_APPEND. When `put` returns, the record is in the
  operating system's page cache, which survives a crash (SIGKILL) of the process; `sync="full"`
  also `fdatasync`s the segment before `put` returns (power-loss safe, slower). Segments rotate at `segment_bytes` and are deleted once every record in them is
  acknowledged. Every open starts a new segment; the older ones are only read.
- `<path>` (SQLite, WAL): the progress (the position before which every record was acknowledged
  or dead-lettered, committed after each acknowledged batch) and the dead letters.
- `<path>.lock`: one process per spool (an exclusive lock).

Delivery is at-least-once: a restart resumes at the last committed progress, so a batch acknowledged
just before a crash may be sent again; the Logboek reads with dedup by (trace_id, span_id), so
each record shows once. A torn last frame (a write cut short by the crash, of a `put` that never
returned) fails its length or CRC check and is skipped with a warning.

Records the collector rejects as invalid move to the dead letters with the reason, so they are
neither retried forever nor lost. Policy when full (`max_records` pending records): `block` waits
for the sender to make room; `fail` raises `SpoolFull`. When the disk is full (ENOSPC, EDQUOT)
a write is cut back to the last whole record and, by `disk_full_policy`, tried again for at most
`disk_full_wait` seconds (`block`) or not (`fail`) before `SpoolDiskFull` is raised. A record is
never dropped silently; what was written before stays and is delivered.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ldv_sdk.errors import ConfigurationError, SpoolClosed, SpoolDiskFull, SpoolFull

log = logging.getLogger("ldv_sdk")

SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    spooled_seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    reason TEXT NOT NULL,
    dead_at_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_spooled_seq ON dead_letters(spooled_seq);
"""
BLOCK_WARNING_INTERVAL_S = 10.0
DISK_FULL_RETRY_S = 0.2  # how often a processing waiting for disk space tries its write again
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
SEGMENT_SUFFIX = ".seg"
_HEADER = struct.Struct("<II")  # body length, crc32 of the body
_OFFSET_BITS = 40  # a record's seq is (segment number << 40) | its offset in the segment
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1
_READ_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Spooled:
    """One pending record: its place in the spool and its body."""

    seq: int
    body: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record the collector refused, with the collector's reason."""

    seq: int
    body: bytes
    reason: str
    dead_at_ns: int


def frame(body: bytes) -> bytes:
    """The bytes of one record in a segment (header + body)."""
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


class Spool:
    """A bounded, durable FIFO of records (bytes), safe to use from several threads."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_records: int = 1_000_000,
        full_policy: Literal["block", "fail"] = "block",
        sync: Literal["normal", "full"] = "normal",
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        disk_full_policy: Literal["block", "fail"] = "block",
        disk_full_wait: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.max_records = max_records
        self.full_policy = full_policy
        self.disk_full_policy = disk_full_policy
        self.disk_full_wait = disk_full_wait
        self.sync_full = sync == "full"
        self.segment_bytes = segment_bytes
        self.segments_dir = self.path.with_name(self.path.name + ".segments")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_exclusive(self.path.with_name(self.path.name + ".lock"))
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sleepers = 0  # threads waiting on _changed: `put` only notifies when there are some
        self._closed = False
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync.upper()}")
            self._db.executescript(SCHEMA)
            self.segments_dir.mkdir(exist_ok=True)
            self._open_log()
        except BaseException:
            _unlock(self._lock_fd)
            raise

    # -- opening: recovery ---------------------------------------------------------------------

    def _open_log(self) -> None:
        row = self._db.execute("SELECT position FROM progress WHERE id = 1").fetchone()
        committed = row[0] if row else 0
        first_seg = committed >> _OFFSET_BITS
        # Valid end of each sealed segment, ascending; the active one is the last key.
        self._ends: dict[int, int] = {}
        self._pending = 0
        for seg in sorted(int(p.stem) for p in self.segments_dir.glob(f"*{SEGMENT_SUFFIX}") if p.stem.isdigit()):
            if seg < first_seg:  # fully acknowledged before a crash cut the clean-up short
                self._segment_path(seg).unlink(missing_ok=True)
                continue
            start = committed & _OFFSET_MASK if seg == first_seg else 0
            count, end, size = _scan(self._segment_path(seg), start)
            if end < size:
                log.warning(
                    "LDV spool: skipped %d bytes of a torn record at the end of segment %d (a write cut short by a crash)",
                    size - end,
                    seg,
                )
            self._ends[seg] = end
            self._pending += count
        self._active = max([*self._ends, first_seg]) + 1
        self._fd = self._create_segment(self._active)
        self._size = 0
        self._ends[self._active] = 0  # the active segment's end is _size
        self._position = self._normalise(committed if committed else (min(self._ends) << _OFFSET_BITS))
        self._drop_segments_before(self._position >> _OFFSET_BITS)
        self._peeked: dict[int, tuple[int, bytes]] = {}  # seq -> (next seq, body), read but not settled
        self._settled: dict[int, int] = {}  # seq -> next seq, settled after _position (out of order)

    def _segment_path(self, seg: int) -> Path:
        return self.segments_dir / f"{seg:012d}{SEGMENT_SUFFIX}"

    def _create_segment(self, seg: int) -> int:
        fd = os.open(self._segment_path(seg), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        if self.sync_full:  # the new file's entry in the directory too
            directory = os.open(self.segments_dir, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return fd

    # -- writing ---------------------------------------------------------------------------

    def put(self, body: bytes) -> None:
        """Append one record; it is in the segment file (page cache; on disk with `sync="full"`) when this returns.

        Raises SpoolFull (policy `fail`) or waits (policy `block`) while the spool is full.
        """
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        with self._lock:
            if self._pending >= self.max_records or self._closed:
                self._wait_for_room(1)
            self._append_waiting_for_disk(record)
            self._pending += 1
            if self._sleepers:
                self._changed.notify_all()

    def put_many(self, bodies: Sequence[bytes]) -> None:
        """Append several records with one write (all or nothing)."""
        if not bodies:
            return
        records = b"".join(frame(b) for b in bodies)
        with self._lock:
            self._wait_for_room(len(bodies))
            self._append_waiting_for_disk(records)
            self._pending += len(bodies)
            if self._sleepers:
                self._changed.notify_all()

    def _append_waiting_for_disk(self, data: bytes) -> None:
        """`_append`, and when the disk is full: wait for room (policy `block`, bounded) or raise SpoolDiskFull.

        Waits on the condition, so the lock is free meanwhile: the sender keeps acknowledging,
        and the segments it empties are deleted, which is room too. Called with the lock held.
        """
        deadline = 0.0  # set at the first full disk: the usual write reads no clock
        warned = False
        while True:
            try:
                self._append(data, self.sync_full)
                if warned:
                    log.warning("LDV spool: room on the disk again, processings go on")
                return
            except OSError as exc:
                if exc.errno not in _NO_SPACE:
                    raise
                if not deadline:
                    deadline = time.monotonic() + (self.disk_full_wait if self.disk_full_policy == "block" else 0.0)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SpoolDiskFull(
                        f"the disk of the LDV spool {self.path} is full: the record could not be written "
                        f"({exc.strerror}); the processing is not logged"
                    ) from exc
                if not warned:
                    log.warning("LDV spool: the disk is full; processings wait up to %.0f s for room", self.disk_full_wait)
                    warned = True
                self._sleepers += 1
                try:
                    self._changed.wait(timeout=min(DISK_FULL_RETRY_S, left))
                finally:
                    self._sleepers -= 1
                if self._closed:
                    raise SpoolClosed("the spool is closed") from exc

    def _append(self, data: bytes, sync: bool) -> None:
        """One write at the end of the active segment; on any failure the segment is cut back."""
        fd = self._fd
        try:
            written = os.write(fd, data)
            if written != len(data):
                # A short write to a regular file: the disk ran out in the middle of it.
                raise OSError(errno.ENOSPC, f"short write to the LDV spool ({written} of {len(data)} bytes): disk full")
            if sync:
                os.fdatasync(fd)
        except BaseException:
            # Never leave half a frame in front of the next record.
            os.ftruncate(fd, self._size)
            raise
        self._size += written
        if self._size >= self.segment_bytes:
            try:
                self._rotate()
            except OSError as exc:  # no room for a new segment: the record is written; rotate later
                log.warning("LDV spool: could not start a new segment (%s); the current one grows", exc.strerror)

    def _rotate(self) -> None:
        # The new segment first: if it cannot be created, nothing has changed.
        fd = self._create_segment(self._active + 1)
        self._ends[self._active] = self._size
        os.close(self._fd)
        self._active += 1
        self._fd = fd
        self._size = 0
        self._ends[self._active] = 0

    def has_room(self) -> bool:
        """False when the next `put` would block or fail."""
        return self._pending < self.max_records

    def _wait_for_room(self, n: int) -> None:
        if self._closed:
            raise SpoolClosed("the spool is closed")
        if self._pending + n <= self.max_records or (self._pending == 0 and n > self.max_records):
            return
        if self.full_policy == "fail":
            raise SpoolFull(f"the LDV spool {self.path} is full ({self._pending} records pending)")
        log.warning("LDV spool is full (%d records pending): processings wait for the sender", self._pending)
        while not self._wait(lambda: self._pending + n <= self.max_records or self._closed, BLOCK_WARNING_INTERVAL_S):
            log.warning("LDV spool still full (%d records pending): is the collector reachable?", self._pending)
        if self._closed:
            raise SpoolClosed("the spool is closed")

    # -- reading and acknowledging ------------------------------------------------------------

    def _normalise(self, position: int) -> int:
        """The same place in the log, moved past the ends of sealed segments."""
        seg, offset = position >> _OFFSET_BITS, position & _OFFSET_MASK
        while seg != self._active and (seg not in self._ends or offset >= self._ends[seg]):
            later = [s for s in self._ends if s > seg]
            seg, offset = (min(later), 0) if later else (self._active, 0)
        return (seg << _OFFSET_BITS) | offset

    def peek(self, limit: int) -> list[Spooled]:
        """The oldest `limit` pending records, left in place until `ack` or `dead_letter`."""
        out: list[Spooled] = []
        with self._lock:
            if self._closed:
                return out
            position = self._normalise(self._position)
            while len(out) < limit:
                seg, offset = position >> _OFFSET_BITS, position & _OFFSET_MASK
                end = self._size if seg == self._active else self._ends[seg]
                if offset < end:
                    position = self._read_segment(seg, offset, end, limit, out)
                if len(out) >= limit or seg == self._active:
                    break
                position = self._normalise(position)
        return out

    def _read_segment(self, seg: int, offset: int, end: int, limit: int, out: list[Spooled]) -> int:
        """Read pending frames of `seg` from `offset` into `out`; the position after the last one read."""
        base = seg << _OFFSET_BITS
        settled = self._settled
        fd = os.open(self._segment_path(seg), os.O_RDONLY)
        try:
            buf = b""
            buf_at = offset
            while offset < end and len(out) < limit:
                at = offset - buf_at
                if at + _HEADER.size > len(buf):
                    buf, buf_at, at = os.pread(fd, max(_READ_CHUNK, _HEADER.size), offset), offset, 0
                    if len(buf) < _HEADER.size:
                        break
                length, crc = _HEADER.unpack_from(buf, at)
                stop = offset + _HEADER.size + length
                if stop > end:
                    break
                if at + _HEADER.size + length > len(buf):
                    buf, buf_at, at = os.pread(fd, max(_READ_CHUNK, _HEADER.size + length), offset), offset, 0
                data = buf[at + _HEADER.size : at + _HEADER.size + length]
                if len(data) != length or zlib.crc32(data) != crc:
                    break  # cannot happen below the scanned end unless the file was changed under us
                seq = base | offset
                offset = stop
                if seq in settled:
                    continue
                self._peeked[seq] = (base | offset, data)
                out.append(Spooled(seq, data))
        finally:
            os.close(fd)
        return base | offset

    def _settle(self, seqs: Iterable[int]) -> int:
        """Mark peeked records as done and move the committed progress past them; how many were settled."""
        done = 0
        for seq in seqs:
            item = self._peeked.pop(seq, None)
            if item is not None:
                self._settled[seq] = item[0]
                done += 1
        if not done:
            return 0
        position = self._normalise(self._position)
        while position in self._settled:
            position = self._normalise(self._settled.pop(position))
        if position != self._position:
            self._position = position
            try:
                self._db.execute("INSERT OR REPLACE INTO progress(id, position) VALUES (1, ?)", (position,))
            except sqlite3.OperationalError as exc:
                # A full disk: the progress is kept in memory and written with the next ack. A
                # crash before then sends these records again (at least once; the Logboek dedups).
                log.warning("LDV spool: could not save the delivery progress (%s); it is saved later", exc)
            # Delivered segments go either way (room on a full disk); a restart skips missing ones.
            self._drop_segments_before(position >> _OFFSET_BITS)
        self._pending -= done
        self._changed.notify_all()
        return done

    def _drop_segments_before(self, first: int) -> None:
        for seg in [s for s in self._ends if s < first]:
            del self._ends[seg]
            self._segment_path(seg).unlink(missing_ok=True)

    def ack(self, seqs: Iterable[int]) -> None:
        """Mark delivered records as done (their segment is deleted once all its records are)."""
        with self._lock:
            self._settle(list(seqs))

    def dead_letter(self, items: Iterable[tuple[int, str]]) -> None:
        """Move records the collector refused to the dead letters, each with its reason."""
        items = list(items)
        if not items:
            return
        now = time.time_ns()
        with self._lock:
            rows = [(seq, self._peeked[seq][1], reason, now) for seq, reason in items if seq in self._peeked]
            self._db.execute("BEGIN IMMEDIATE")  # one transaction; `with` commits it, or rolls it back on error
            with self._db:
                # A record dead-lettered just before a crash comes back once more: keep one letter.
                self._db.executemany(
                    "INSERT INTO dead_letters(spooled_seq, body, reason, dead_at_ns) SELECT ?1, ?2, ?3, ?4 "
                    "WHERE NOT EXISTS (SELECT 1 FROM dead_letters WHERE spooled_seq = ?1)",
                    rows,
                )
            self._settle(seq for seq, *_ in rows)

    def dead_letters(self) -> list[DeadLetter]:
        """Every record the collector refused, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body, reason, dead_at_ns FROM dead_letters ORDER BY seq").fetchall()
        return [DeadLetter(*row) for row in rows]

    def requeue_dead_letters(self) -> int:
        """Put every dead letter back in the queue (after the collector or the record was fixed)."""
        with self._lock:
            bodies = [body for (body,) in self._db.execute("SELECT body FROM dead_letters ORDER BY seq")]
            if bodies:
                # On disk before the letters go: a crash in between gives a duplicate, never a loss.
                self._append(b"".join(frame(b) for b in bodies), sync=True)
                self._db.execute("DELETE FROM dead_letters")
                self._pending += len(bodies)
                self._changed.notify_all()
        return len(bodies)

    # -- waiting ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """Pending records (not counting dead letters)."""
        return self._pending

    def _wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        self._sleepers += 1
        try:
            return self._changed.wait_for(predicate, timeout=timeout)
        finally:
            self._sleepers -= 1

    def wait_for_records(self, timeout: float) -> bool:
        """Wait until a record is pending; False on timeout."""
        with self._lock:
            return self._wait(lambda: self._pending > 0 or self._closed, timeout)

    def wait_until_empty(self, timeout: float) -> bool:
        """Wait until every pending record was delivered or dead-lettered; False on timeout."""
        with self._lock:
            return self._wait(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._changed.notify_all()
            os.close(self._fd)
            self._db.close()
        _unlock(self._lock_fd)


def _scan(path: Path, start: int) -> tuple[int, int, int]:
    """(frames from `start` up to the first torn or corrupt one, the offset where that is, file size)."""
    data = path.read_bytes()
    size = len(data)
    view = memoryview(data)
    count = 0
    offset = start
    header = _HEADER.size
    while offset + header <= size:
        length, crc = _HEADER.unpack_from(data, offset)
        stop = offset + header + length
        if stop > size or zlib.crc32(view[offset + header : stop]) != crc:
            break
        count += 1
        offset = stop
    return count, min(offset, size), size


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
