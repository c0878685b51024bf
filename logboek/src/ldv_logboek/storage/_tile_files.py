"""Full tiles of the stored logs as local files: a proof without a query of the store.

A full tile (256 hashes) and a full entry bundle never change once the leaves under a signed
checkpoint are stored, so they can be kept as files, as C2SP tlog-tiles servers keep them:
`<dir>/<log id>/tile/<L>/<N>` and `<dir>/<log id>/tile/entries/<N>`, the same bytes the
tlog-tiles routes serve. `TileMirror` copies them from the store, up to the newest checkpoint,
in a thread of `ldv serve`; `StoredTree` reads a full tile from its file before it asks the
store, and so does the tiles route. At 10M leaves a proof otherwise costs one range read of the
store (3.9 ms p50, 6.5 ms p95 in the engine alone on the 2-core machine: docs/benchmarks.md),
and the files hold every level-0 tile (39,063 at 10M: 320 MB of hashes, 420 MB of bundles)
without holding them in memory: the operating system's page cache does.

The files are a copy, never the evidence: the store stays what `ldv audit` checks, and a file
changed on disk gives proofs that fail verification against the signed checkpoint, as a
changed store would. A missing or short file is read from the store instead. Each file is
written whole under a temporary name and renamed, so a crash leaves no partial tile; a file
`mirrored` per log holds how many leaves are copied, written after their files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ldv_logboek.tlog import ENTRY_SIZE, HASH_SIZE, TILE_WIDTH, TileRef, log_id

TILE_BYTES = TILE_WIDTH * HASH_SIZE
BUNDLE_ENTRY = 2 + ENTRY_SIZE  # an entry bundle's entry: its big-endian uint16 length, then the entry
BUNDLE_BYTES = TILE_WIDTH * BUNDLE_ENTRY


class TileFiles:
    """The full tiles and entry bundles of every log of one store, under `root`."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, origin: str, ref: TileRef) -> Path:
        return self.root / log_id(origin) / ref.path

    def read(self, origin: str, ref: TileRef) -> bytes | None:
        """The file of a full tile or bundle; None when it is not there (or not whole)."""
        if not ref.full:
            return None
        try:
            data = self.path(origin, ref).read_bytes()
        except OSError:
            return None
        return data if len(data) == (BUNDLE_BYTES if ref.level is None else TILE_BYTES) else None

    def hashes(self, origin: str, tile_level: int, tile_index: int) -> list[bytes] | None:
        """The 256 hashes of a full tile, from its file; None when there is none."""
        data = self.read(origin, TileRef(tile_level, tile_index))
        if data is None:
            return None
        return [data[i : i + HASH_SIZE] for i in range(0, TILE_BYTES, HASH_SIZE)]

    def entry(self, origin: str, index: int) -> bytes | None:
        """The entry of leaf `index`, from its full bundle's file; None when there is none."""
        at = (index % TILE_WIDTH) * BUNDLE_ENTRY + 2
        try:
            with open(self.path(origin, TileRef(None, index // TILE_WIDTH)), "rb") as file:
                if os.fstat(file.fileno()).st_size != BUNDLE_BYTES:
                    return None
                file.seek(at)
                entry = file.read(ENTRY_SIZE)
        except OSError:
            return None
        return entry if len(entry) == ENTRY_SIZE else None

    def write(self, origin: str, ref: TileRef, data: bytes) -> None:
        """Write a tile's file whole: a temporary file, then a rename."""
        path = self.path(origin, ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def mirrored(self, origin: str) -> int:
        """How many leaves of `origin` have their tiles copied (a multiple of 256)."""
        try:
            return int((self.root / log_id(origin) / "mirrored").read_text().strip())
        except (OSError, ValueError):
            return 0

    def set_mirrored(self, origin: str, leaves: int) -> None:
        path = self.root / log_id(origin) / "mirrored"
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".mirrored.{os.getpid()}.tmp")
        temporary.write_text(f"{leaves}\n")
        os.replace(temporary, path)


def bundle(rows: np.ndarray) -> bytes:
    """Entries as an (n, ENTRY_SIZE) uint8 array as an entry bundle (ldv_logboek.tlog.entry_bundle)."""
    prefix = np.zeros((rows.shape[0], 2), dtype=np.uint8)
    prefix[:, 1] = ENTRY_SIZE  # big-endian 41
    return np.hstack([prefix, rows]).tobytes()
