"""Copies the stored logs' full tiles to files (`TileFiles`), behind the newest checkpoints.

`ldv serve` runs one `TileMirror` for its store: every second it looks at each log's newest
checkpoint and appends the full tiles and entries below it that are not copied yet. The first
round on a store whose log was never copied copies the whole log (a 10M-leaf log in ~150 reads
of 65,536 leaves). It never writes the log: the collector's writer and checkpointer do not know
it exists, so the ingest path pays nothing for it.

Only what a signed checkpoint covers is copied: those leaves are final (a repair after a crash
only appends beyond what is stored, and a leaf stored twice is the same leaf). A range of
leaves that is not stored gap-free is not copied (`ldv audit` says why).
"""

from __future__ import annotations

import logging
import threading

from ldv_logboek.errors import StorageError
from ldv_logboek.storage._schema import LEAVES_TABLE
from ldv_logboek.storage._store import LogStore
from ldv_logboek.storage._tile_files import TileFiles
from ldv_logboek.storage._tlog import STORED_LEVELS, LogTables
from ldv_logboek.storage._tlog_columns import fixed_width
from ldv_logboek.tlog import ENTRY_SIZE, HASH_SIZE, TILE_WIDTH

log = logging.getLogger(__name__)

# A log that starts writing into a store with logs already (another writer) is found within this
# many rounds; the logs already there, and a first log, at once.
ORIGINS_EVERY_ROUNDS = 60


class TileMirror:
    """Copies the full tiles of every log in `store` to `files`, up to each log's newest checkpoint.

    `run_once` copies what is new, in reads of `chunk` leaves; `start` runs it every
    `interval_s` in a daemon thread until `stop`. A storage or file error ends that round only:
    the next one tries again.
    """

    def __init__(self, store: LogStore, files: TileFiles, *, interval_s: float = 1.0, chunk: int = 65_536):
        if chunk <= 0 or chunk % TILE_WIDTH:
            raise ValueError("chunk is a whole, positive number of tiles' leaves")
        self.store = store
        self.files = files
        self.interval_s = interval_s
        self.chunk = chunk
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._origins: list[str] = []
        self._rounds = 0

    def run_once(self) -> int:
        """Copy the new full tiles of every log; returns how many leaves were newly copied."""
        self._rounds += 1
        if not self._origins or self._rounds % ORIGINS_EVERY_ROUNDS == 0:
            # Finding the logs scans the leaves' origins, so it is done now and then, not every second.
            self._origins = LogTables(self.store, "").origins()
        copied = 0
        for origin in self._origins:
            if self._stopping.is_set():
                break
            tables = LogTables(self.store, origin)
            latest = tables.latest_checkpoint()
            if latest is not None:
                copied += self._copy(tables, latest[0])
        return copied

    def _copy(self, tables: LogTables, size: int) -> int:
        origin = tables.origin
        done = start = self.files.mirrored(origin, fresh=True)
        end = size // TILE_WIDTH * TILE_WIDTH
        while start < end and not self._stopping.is_set():
            stop = min(start + self.chunk, end)
            leaves = self.store.query_arrow(
                f"SELECT Entry, LeafHash FROM {LEAVES_TABLE} WHERE Origin = {{o:String}} "
                "AND LeafIndex >= {s:UInt64} AND LeafIndex < {e:UInt64} ORDER BY LeafIndex LIMIT 1 BY LeafIndex",
                {"o": origin, "s": start, "e": stop},
            )
            if leaves.num_rows != stop - start:
                log.warning("log %s: leaves [%d, %d) are not all stored; their tiles are not copied", origin, start, stop)
                break
            levels = {0: fixed_width(leaves.column("LeafHash"), HASH_SIZE).tobytes()}
            for level in sorted(STORED_LEVELS):  # the nodes of upper tiles that became full
                first, last = (start >> level) // TILE_WIDTH * TILE_WIDTH, (stop >> level) // TILE_WIDTH * TILE_WIDTH
                if last > first:
                    nodes = tables.nodes(level, first, last)
                    if len(nodes) != last - first:
                        log.warning("log %s: nodes of level %d [%d, %d) are not all stored", origin, level, first, last)
                        return start - done
                    levels[level] = b"".join(nodes)
            self.files.append(origin, start, fixed_width(leaves.column("Entry"), ENTRY_SIZE), levels)
            start = stop
        return start - done

    def start(self) -> None:
        """Run `run_once` every `interval_s` in a daemon thread (again: nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ldv-tile-mirror", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        failing = False
        while not self._stopping.is_set():
            try:
                self.run_once()
                if failing:
                    log.info("copying the logs' tiles to files works again")
                failing = False
            except (StorageError, OSError) as exc:
                # Once per spell (a full disk fails every round): proofs read the store meanwhile.
                if not failing:
                    log.warning("copying the logs' tiles to files failed (%s); proofs read the store until it works", exc)
                failing = True
            self._stopping.wait(self.interval_s)

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread (a round in progress stops after its current read)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
