"""Copies the stored logs' full tiles to files (`TileFiles`), behind the newest checkpoints.

`ldv serve` runs one `TileMirror` for its store: every second it looks at each log's newest
checkpoint and writes the full tiles and entry bundles below it that are not copied yet. The
first round after a store is opened copies the whole log (a 10M-leaf log in ~150 reads of
65,536 leaves). It never writes the log: the collector's writer and checkpointer do not know
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
from ldv_logboek.storage._tile_files import TILE_BYTES, TileFiles, bundle
from ldv_logboek.storage._tlog import STORED_LEVELS, LogTables
from ldv_logboek.storage._tlog_columns import fixed_width
from ldv_logboek.tlog import ENTRY_SIZE, HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, TileRef

log = logging.getLogger(__name__)


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

    def run_once(self) -> int:
        """Copy the new full tiles of every log; returns how many leaves were newly copied."""
        copied = 0
        for origin in LogTables(self.store, "").origins():
            if self._stopping.is_set():
                break
            tables = LogTables(self.store, origin)
            latest = tables.latest_checkpoint()
            if latest is not None:
                copied += self._copy(tables, latest[0])
        return copied

    def _copy(self, tables: LogTables, size: int) -> int:
        origin = tables.origin
        done = start = self.files.mirrored(origin)
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
            entries = fixed_width(leaves.column("Entry"), ENTRY_SIZE)
            hashes = fixed_width(leaves.column("LeafHash"), HASH_SIZE).tobytes()
            for t in range((stop - start) // TILE_WIDTH):
                tile = start // TILE_WIDTH + t
                self.files.write(origin, TileRef(0, tile), hashes[t * TILE_BYTES : (t + 1) * TILE_BYTES])
                self.files.write(origin, TileRef(None, tile), bundle(entries[t * TILE_WIDTH : (t + 1) * TILE_WIDTH]))
            self._copy_upper(tables, start, stop)
            self.files.set_mirrored(origin, stop)
            start = stop
        return start - done

    def _copy_upper(self, tables: LogTables, start: int, stop: int) -> None:
        """The full tiles of levels 1, 2, ... that became full with leaves [start, stop)."""
        for level in sorted(STORED_LEVELS):
            leaves_per_tile = TILE_WIDTH << level
            for tile in range(start // leaves_per_tile, stop // leaves_per_tile):
                nodes = tables.nodes(level, tile * TILE_WIDTH, (tile + 1) * TILE_WIDTH)
                if len(nodes) == TILE_WIDTH:
                    self.files.write(tables.origin, TileRef(level // TILE_HEIGHT, tile), b"".join(nodes))

    def start(self) -> None:
        """Run `run_once` every `interval_s` in a daemon thread (again: nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ldv-tile-mirror", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except (StorageError, OSError) as exc:
                log.warning("copying the logs' tiles to files failed (%s); trying again", exc)
            self._stopping.wait(self.interval_s)

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread (a round in progress stops after its current read)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
