"""C2SP tlog-tiles: tile paths, which tiles a tree of a given size has, and entry bundles.

A tile at level L, index N holds the hashes of tree level 8L, nodes N*256 .. N*256+W-1 (W = 256
for a full tile, 1-255 for the partial tile at the tree's right edge). Paths encode N in groups
of three digits, all but the last prefixed with `x`: 1234067 is `x001/x234/067`.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ldv_logboek.errors import ProofError

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63


def log_id(origin: str) -> str:
    """A log's name in paths: the lowercase hex SHA-256 of its origin (as a witness's monitoring
    API names a log), since an origin holds slashes."""
    return hashlib.sha256(origin.encode()).hexdigest()


def encode_index(n: int) -> str:
    """`x001/x234/067` for 1234067."""
    if n < 0:
        raise ProofError("a tile index is not negative")
    digits = str(n)
    digits = digits.zfill(len(digits) + -len(digits) % 3)  # whole groups of three
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


@dataclass(frozen=True)
class TileRef:
    """A tile (level 0-63) or an entry bundle (level None), its index and width (256 when full)."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def path(self) -> str:
        """The path under the log's prefix, e.g. `tile/0/x001/234.p/17` or `tile/entries/000`."""
        level = "entries" if self.level is None else str(self.level)
        suffix = "" if self.width == TILE_WIDTH else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def tree_level(self) -> int:
        """The tree level of the hashes this tile holds (entry bundles: the leaves, 0)."""
        return TILE_HEIGHT * (self.level or 0)

    @property
    def first_node(self) -> int:
        """The index, at `tree_level`, of the tile's first hash."""
        return self.index * TILE_WIDTH


_PATH = re.compile(r"^tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*)([0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?$")


def parse_tile_path(path: str) -> TileRef:
    """A tile's path under the prefix as a TileRef; ProofError when it is not a tile path."""
    match = _PATH.match(path)
    if match is None:
        raise ProofError(f"not a tile path: {path!r}")
    level_text, groups, last, width_text = match.groups()
    level = None if level_text == "entries" else int(level_text)
    if level is not None and level > MAX_LEVEL:
        raise ProofError("a tile level is at most 63")
    digits = [g[1:4] for g in groups.split("/") if g] + [last]
    if len(digits) > 1 and digits[0] == "000":
        raise ProofError("a tile index has no leading zero groups")
    index = int("".join(digits))
    width = TILE_WIDTH if width_text is None else int(width_text)
    if width_text is not None and width >= TILE_WIDTH:
        raise ProofError("a partial tile is 1 to 255 wide")
    return TileRef(level, index, width)


def node_in_tiles(level: int, index: int) -> tuple[int, int, int, int]:
    """Where the hashes under tree node (level, index) are in the tiles: (tile level, tile index,
    offset in the tile, count). The node is the perfect root of those `count` consecutive hashes
    of tree level 8 * tile level (the highest tile level at or below `level`)."""
    base = level - level % TILE_HEIGHT
    span = 1 << (level - base)  # hashes of the base level under this node
    tile_index, offset = divmod(index * span, TILE_WIDTH)
    return base // TILE_HEIGHT, tile_index, offset, span


def tile_exists(tile: TileRef, size: int) -> bool:
    """True when the tree of `size` leaves has this tile (a partial one only at its exact width)."""
    count = size >> tile.tree_level  # the complete nodes of the tile's tree level
    start = tile.first_node
    if tile.full:
        return start + TILE_WIDTH <= count
    return start < count < start + TILE_WIDTH and count - start == tile.width


def tiles_for(size: int) -> list[TileRef]:
    """Every hash tile of a tree of `size` leaves (full and the partial ones), lowest level first."""
    out: list[TileRef] = []
    level = 0
    while count := size >> (TILE_HEIGHT * level):
        out += [TileRef(level, i) for i in range(count // TILE_WIDTH)]
        if count % TILE_WIDTH:
            out.append(TileRef(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return out


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as an entry bundle: each with a big-endian uint16 length in front."""
    return b"".join(struct.pack(">H", len(e)) + e for e in entries)


def read_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; ProofError when it is cut short."""
    out: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise ProofError("an entry bundle ends inside a length")
        (length,) = struct.unpack(">H", data[at : at + 2])
        at += 2
        if at + length > len(data):
            raise ProofError("an entry bundle ends inside an entry")
        out.append(data[at : at + length])
        at += length
    return out
