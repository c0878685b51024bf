"""The store's reader connections: one pool per store, shared by every reader in the process.

Reads never wait for writes: `LogStore` writes on one connection of its own and reads on
connections taken from this pool. chDB hosts one engine per process and any number of
connections to it, which run queries at the same time (the engine releases the GIL), and a
row is visible on every connection as soon as the insert that wrote it returned. A ClickHouse
server is the same with one client per connection: a clickhouse-connect client holds a session,
which takes one query at a time.

The pool is divided into lanes. A lane is one kind of reader with its own way of opening a
connection and its own limit of connections in use at a time: `LogStore`'s readers are one
lane, the ClickHouse HTTP endpoint's scoped readers another (`ldv_inzicht.clickhouse_http`), so
a dashboard's slow queries cannot take the slots of a citizen's lookup. Within a lane,
connections are reused per key only (the endpoint keys them by user scope: a connection made
for one scope never serves another, so no setting travels between users). Closing the pool
closes every connection of every lane: nothing keeps the engine open after the store closed.

Thread safety: `ConnectionPool` and `Lane` may be used from any number of threads. A connection
handed out by `Lane.connection` belongs to the calling thread until its `with` block ends.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

from ldv_logboek.errors import StorageUnavailable

log = logging.getLogger("ldv.storage")

C = TypeVar("C")

# How long a read waits for a free connection of its lane before giving up (StorageUnavailable).
DEFAULT_WAIT_SECONDS = 30.0


class Lane(Generic[C]):
    """Connections of one kind: at most `size` in use at a time, idle ones kept per key for reuse."""

    def __init__(
        self,
        name: str,
        size: int,
        open_connection: Callable[[Hashable], C],
        close_connection: Callable[[C], None],
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ):
        if size < 1:
            raise ValueError(f"lane {name!r}: size must be at least 1, not {size}")
        self.name = name
        self.size = size
        self._open = open_connection
        self._close = close_connection
        self._wait_seconds = wait_seconds
        self._lock = threading.Lock()  # guards the fields below; never held while the engine works
        self._free = size
        # Threads waiting for a slot, first come first served: a freed slot is handed to the
        # longest waiter, so a steady stream of reads cannot starve one lookup (a semaphore
        # lets whichever thread runs first take it).
        self._waiters: deque[threading.Event] = deque()
        self._idle: dict[Hashable, list[C]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @contextlib.contextmanager
    def connection(self, key: Hashable = None, *, discard_on: tuple[type[BaseException], ...] = ()) -> Iterator[C]:
        """A connection of `key` for the `with` block: an idle one, or a new one.

        Waits up to `wait_seconds` when `size` connections are in use, then raises
        StorageUnavailable (busy); also StorageUnavailable once the lane is closed. A connection
        whose block raised one of `discard_on` is closed instead of reused (e.g. a lost link).
        """
        if not self._acquire():
            raise StorageUnavailable(f"every {self.name} reader is busy ({self.size} in use)")
        try:
            with self._lock:
                if self._closed:
                    raise StorageUnavailable("the store is closed (the process is stopping)")
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
            if connection is None:
                connection = self._open(key)
            keep = True
            try:
                yield connection
            except discard_on:
                keep = False
                raise
            finally:
                with self._lock:
                    keep = keep and not self._closed
                    if keep:
                        self._idle.setdefault(key, []).append(connection)
                if not keep:
                    self._close_quietly(connection)
        finally:
            self._release()

    def _acquire(self) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(self._wait_seconds):
            return True
        with self._lock:
            if turn.is_set():  # handed a slot just as the wait timed out
                return True
            self._waiters.remove(turn)
            return False

    def _release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()  # the slot goes to the longest waiter as it is
            else:
                self._free += 1

    def close(self) -> None:
        """Close every idle connection; those in use close when their block ends. Idempotent."""
        with self._lock:
            self._closed = True
            connections = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for connection in connections:
            self._close_quietly(connection)

    def _close_quietly(self, connection: C) -> None:
        try:
            self._close(connection)
        except Exception:  # noqa: BLE001 - closing is best effort: the process may be stopping
            log.debug("closing a %s reader failed", self.name, exc_info=True)


class ConnectionPool:
    """The reader lanes of one store, closed together with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lanes: list[Lane[Any]] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def lanes(self) -> tuple[Lane[Any], ...]:
        """Every lane of the pool, in the order they were made."""
        with self._lock:
            return tuple(self._lanes)

    def lane(
        self,
        name: str,
        size: int,
        open_connection: Callable[[Hashable], C],
        close_connection: Callable[[C], None],
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> Lane[C]:
        """A new lane of this pool (StorageUnavailable once the pool is closed)."""
        lane: Lane[C] = Lane(name, size, open_connection, close_connection, wait_seconds)
        with self._lock:
            if self._closed:
                raise StorageUnavailable("the store is closed (the process is stopping)")
            self._lanes.append(lane)
        return lane

    def close(self) -> None:
        """Close every lane. Idempotent."""
        with self._lock:
            self._closed = True
            lanes = list(self._lanes)
        for lane in lanes:
            lane.close()
