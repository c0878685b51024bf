"""Keep a reserve of free space on the embedded store's disk: stop writing before the disk is full.

Why: ClickHouse reserves room for a part before it writes it, but when the disk runs out
*while* a part is written anyway (another process took the space), the chDB in use here was
seen to commit the part with empty mark files (an insert's part or a merge's), after which
every read of that part fails and its records, acknowledged, cannot be read
(docs/reliability.md, "disk full"). So the Logboek never lets its own writes come near the
last byte: below `reserve_bytes` free, an insert is refused before ClickHouse writes anything
(StorageUnavailable, "not enough space": the sender is told to retry later) and background
merges are stopped; once there is room again, merges start and inserts are taken again by
themselves. A ClickHouse server keeps its own reserve (its disks' `keep_free_space_bytes`):
the guard is for the embedded store only.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from ldv_logboek.storage import LogStore, StorageUnavailable, embedded_path

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.5  # statvfs is cheap; at most this often, and before an insert when low


class DiskGuard:
    """Free space of one data directory against a reserve; stops and starts the store's merges."""

    def __init__(self, store: LogStore, reserve_bytes: int) -> None:
        self.store = store
        # A stand-in store without a client (tests) or a ClickHouse server: no guard.
        client = getattr(store, "client", None)
        self.path = embedded_path(client) if client is not None else None
        self.reserve_bytes = reserve_bytes
        self._lock = threading.Lock()
        self._checked = 0.0
        self._low = False
        self._free = -1

    def check(self) -> None:
        """Raise StorageUnavailable (NOT_ENOUGH_SPACE) when less than the reserve is free."""
        if self.path is None or self.reserve_bytes <= 0:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= CHECK_INTERVAL_S or self._low:
                self._checked = now
                st = os.statvfs(self.path)
                self._free = st.f_bavail * st.f_frsize
                self._set_low(self._free < self.reserve_bytes)
            if self._low:
                raise StorageUnavailable(
                    f"NOT_ENOUGH_SPACE: {self._free} bytes free on the store's disk, less than the reserve of "
                    f"{self.reserve_bytes} (LDV_COLLECTOR_MIN_FREE_DISK_BYTES); writing resumes once there is room"
                )

    def _set_low(self, low: bool) -> None:
        if low == self._low:
            return
        self._low = low
        # Merges write new parts too: none while the disk is low (they would only start again later).
        statement = "SYSTEM STOP MERGES" if low else "SYSTEM START MERGES"
        try:
            self.store.client.command(statement)
        except Exception as exc:  # noqa: BLE001 - the guard still refuses inserts; say it once
            log.warning("%s failed: %s", statement, type(exc).__name__)
        if low:
            log.warning(
                "the store's disk is nearly full (%d bytes free, reserve %d): inserts are refused (retry later) "
                "and merges stopped until there is room",
                self._free,
                self.reserve_bytes,
            )
        else:
            log.warning("the store's disk has room again (%d bytes free): inserts and merges resume", self._free)
