"""Full tiles of the stored logs in local files: a proof without a query of the store.

A full tile (256 hashes) and a full entry bundle never change once the leaves under a signed
checkpoint are stored, so they can be kept outside the store, as C2SP tlog-tiles servers keep
them. Per log (`<dir>/<log id>/`), each stored tree level has one flat file of hashes end to end
(`level-0` the leaf hashes, `level-8`, `level-16`, ... the tile levels' nodes) and `entries` the
41-byte entries end to end; `mirrored` says how many leaves are copied. A tile is then one read
at a known offset. (One file per tile, as tlog-tiles paths are, was built first and measured:
creating ~78,000 files for 10M leaves took 27 s of CPU, most of it the file creation.)

`TileMirror` (ldv_logboek.storage._tile_mirror) appends to the files, behind each log's newest
checkpoint, in a thread of `ldv serve`; `StoredTree` reads a full tile from them before it asks
the store, and so do the tlog-tiles routes. At 10M leaves a proof otherwise costs one range read
of the store (3.9 ms p50, 6.5 ms p95 in the engine alone on the 2-core machine:
docs/benchmarks.md); the files hold every level-0 tile (10M leaves: 320 MB of hashes, 410 MB of
entries) without holding it in memory: the operating system's page cache does.

The files are a copy, never the evidence: the store stays what `ldv audit` checks, and a file
changed on disk gives proofs that fail verification against the signed checkpoint, as a changed
store would. Only what `mirrored` counts is read (the mirror writes the data, syncs it, then
the count), and a read that comes short is read from the store instead.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from ldv_logboek.tlog import ENTRY_SIZE, HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, TileRef, entry_bundle, log_id

ENTRIES_FILE = "entries"
MIRRORED_FILE = "mirrored"


def level_file(level: int) -> str:
    """The file of tree `level`'s hashes (0: the leaf hashes): one name for the reader and the copier."""
    return f"level-{level}"


class TileFiles:
    """The full tiles and entry bundles of every log of one store, under `root`.

    Thread safe: reads use `os.pread` on descriptors opened once per file.
    """

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._fds: dict[Path, int] = {}
        self._mirrored: dict[str, int] = {}

    def directory(self, origin: str) -> Path:
        return self.root / log_id(origin)

    def mirrored(self, origin: str, *, fresh: bool = False) -> int:
        """How many leaves of `origin` are copied (a multiple of 256); read again from its file
        when `fresh` (or not read yet)."""
        with self._lock:
            known = self._mirrored.get(origin)
        if known is not None and not fresh:
            return known
        try:
            count = int((self.directory(origin) / MIRRORED_FILE).read_text().strip())
        except (OSError, ValueError):
            count = 0
        with self._lock:
            self._mirrored[origin] = count
        return count

    def _covers(self, origin: str, leaves: int) -> bool:
        """True when the first `leaves` leaves are copied (the count read again when needed)."""
        return leaves <= self.mirrored(origin) or leaves <= self.mirrored(origin, fresh=True)

    def _read(self, path: Path, offset: int, size: int) -> bytes | None:
        with self._lock:
            fd = self._fds.get(path)
            if fd is None:
                try:
                    fd = self._fds[path] = os.open(path, os.O_RDONLY)
                except OSError:
                    return None
        try:
            data = os.pread(fd, size, offset)
        except OSError:
            return None
        return data if len(data) == size else None

    def hashes(self, origin: str, tile_level: int, tile_index: int) -> list[bytes] | None:
        """The 256 hashes of a full tile; None when it is not copied."""
        level = TILE_HEIGHT * tile_level
        if not self._covers(origin, ((tile_index + 1) * TILE_WIDTH) << level):
            return None
        data = self._read(self.directory(origin) / level_file(level), tile_index * TILE_WIDTH * HASH_SIZE, TILE_WIDTH * HASH_SIZE)
        if data is None:
            return None
        return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]

    def entry(self, origin: str, index: int) -> bytes | None:
        """The entry of leaf `index`; None when its tile is not copied."""
        if not self._covers(origin, (index // TILE_WIDTH + 1) * TILE_WIDTH):
            return None
        return self._read(self.directory(origin) / ENTRIES_FILE, index * ENTRY_SIZE, ENTRY_SIZE)

    def read(self, origin: str, ref: TileRef) -> bytes | None:
        """A full tile or entry bundle as the tlog-tiles routes serve it; None when not copied."""
        if not ref.full:
            return None
        if ref.level is None:
            if not self._covers(origin, (ref.index + 1) * TILE_WIDTH):
                return None
            start = ref.index * TILE_WIDTH * ENTRY_SIZE
            data = self._read(self.directory(origin) / ENTRIES_FILE, start, TILE_WIDTH * ENTRY_SIZE)
            return None if data is None else entry_bundle([data[i : i + ENTRY_SIZE] for i in range(0, len(data), ENTRY_SIZE)])
        hashes = self.hashes(origin, ref.level, ref.index)
        return None if hashes is None else b"".join(hashes)

    def append(self, origin: str, start: int, entries: np.ndarray, levels: dict[int, bytes]) -> None:
        """Copy leaves [start, start + len(entries)): their entries ((n, 41) uint8) and, per tree
        level, the hashes that become complete tiles with them (`levels`: level -> hashes end to
        end, from that level's first node not yet copied); then count them as copied.

        For the mirror only (one writer per directory). Anything beyond the counted leaves (an
        append cut short by a crash) is cut off first, so the files hold exactly what is counted.
        """
        directory = self.directory(origin)
        directory.mkdir(parents=True, exist_ok=True)
        done = self.mirrored(origin, fresh=True)
        if start != done:
            raise ValueError(f"copying from leaf {start}, but {done} are copied")
        files = [(ENTRIES_FILE, start * ENTRY_SIZE, entries.tobytes())]
        files += [(level_file(level), ((done >> level) // TILE_WIDTH * TILE_WIDTH) * HASH_SIZE, data) for level, data in levels.items()]
        for name, offset, data in files:
            with open(directory / name, "ab") as file:
                file.truncate(offset)
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        temporary = directory / f".{MIRRORED_FILE}.{os.getpid()}.tmp"
        temporary.write_text(f"{start + len(entries)}\n")
        os.replace(temporary, directory / MIRRORED_FILE)
        with self._lock:
            self._mirrored[origin] = start + len(entries)

    def close(self) -> None:
        """Close the descriptors opened for reads (later reads open them again)."""
        with self._lock:
            fds, self._fds = self._fds, {}
        for fd in fds.values():
            os.close(fd)
