"""The transparency log's persistence and its writer side: leaves, tile nodes, checkpoints.

`TransparencyLog` is one writer's log (one origin) over a `LogStore`. The collector's group
commit uses it around each insert:

    staged = log.stage(rows)            # RetentionDays decided, LeafIndex/LeafSalt/LogOrigin added,
                                        # the 41-byte entries computed from these stored columns
    store.insert_record_rows(staged.table)
    log.commit(staged)                  # leaves inserted, tree advanced
    ... acknowledge ...
    log.sign_checkpoint()               # (checkpointer) tile nodes completed since the last one
                                        # inserted, then the head signed and stored

and `log.abort(staged)` when the insert failed: the log then repairs before the next batch (part
of a failed insert may be stored). `TransparencyLog.open` repairs at start, so a crash between
the records' insert and the leaves' insert loses nothing acknowledged (nothing was) and appends
nothing twice:

1. the leaves stored must be gap-free 0..n-1 and reach the newest signed checkpoint, whose root
   they must still give (otherwise LogIntegrityError: the writer does not start; appending
   would fork the log);
2. records of this origin with LeafIndex >= n get their leaves, computed from the stored
   records (the same encoding); an index with no record gets the void entry;
3. tile nodes (levels 8, 16, ...) missing for complete subtrees are computed from the level below.

Reads of the log (tiles, proofs, audit) use `LogTables` and `StoredTree`, on reader connections.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ldv_logboek.errors import LogIntegrityError
from ldv_logboek.storage._schema import CHECKPOINTS_TABLE, LEAVES_TABLE, NODES_TABLE, RECORDS_TABLE
from ldv_logboek.storage._store import LogStore
from ldv_logboek.storage._tlog_columns import entry_block, leaf_hash_block
from ldv_logboek.storage._tlog_sql import ENTRY_SQL
from ldv_logboek.tlog import (
    ENTRY_SIZE,
    FIELD_NAMES,
    SALT_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    VOID_ENTRY,
    Checkpoint,
    CompactRange,
    Note,
    Signer,
    edge_nodes,
    inclusion_proof,
    leaf_hashes,
    node_in_tiles,
    perfect_root,
    sign_note,
)

log = logging.getLogger(__name__)

# Tree levels whose node hashes are stored (tlog-tiles levels 1, 2, ...; level 0 is the leaves).
STORED_LEVELS = frozenset(TILE_HEIGHT * level for level in range(1, 8))

# The stored record as the leaf encoding reads it (ldv_logboek.tlog.RECORD_FIELDS), selected
# from the records table: times as ns integers, everything else as stored.
_RECORD_SELECT = ", ".join(
    "toUnixTimestamp64Nano(Timestamp) AS Timestamp"
    if name == "Timestamp"
    else "arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`) AS `Events.Timestamp`"
    if name == "Events.Timestamp"
    else f"`{name}`"
    for name in FIELD_NAMES
)


def record_values(table: pa.Table) -> list[tuple[Any, ...]]:
    """Each row of `table` (with at least the columns of RECORD_FIELDS) as the tuple of values the
    leaf encoding takes: timestamps as ns integers, maps as (key, value) pairs in stored order."""
    columns = []
    for name in FIELD_NAMES:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_list(column.type) and pa.types.is_timestamp(column.type.value_type):
            column = column.cast(pa.list_(pa.int64()))
        columns.append(column.to_pylist())
    return list(zip(*columns))


@dataclass
class Staged:
    """A batch ready to insert: the table with the log's columns, and its entries from `start` on
    (41 bytes each, end to end)."""

    table: pa.Table
    start: int
    entries: bytes


@dataclass
class LogTables:
    """The stored log of one origin: reads on reader connections, writes on the writer."""

    store: LogStore
    origin: str

    def leaf_span(self) -> tuple[int, int]:
        """(distinct leaf indices, highest index + 1) of this origin's leaves."""
        rows = self.store.query_rows(
            f"SELECT uniqExact(LeafIndex), max(LeafIndex) + 1, count() FROM {LEAVES_TABLE} WHERE Origin = {{o:String}}",
            {"o": self.origin},
        )
        distinct, end, count = rows[0]
        return int(distinct), int(end) if count else 0

    def leaves(self, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
        """(index, entry, leaf hash) of leaves [start, end), in order, one per index."""
        rows = self.store.query_rows(
            f"SELECT LeafIndex, Entry, LeafHash FROM {LEAVES_TABLE} WHERE Origin = {{o:String}} "
            "AND LeafIndex >= {s:UInt64} AND LeafIndex < {e:UInt64} ORDER BY LeafIndex LIMIT 1 BY LeafIndex",
            {"o": self.origin, "s": start, "e": end},
        )
        return [(int(i), as_bytes(entry), as_bytes(h)) for i, entry, h in rows]

    def nodes(self, level: int, start: int, end: int) -> list[bytes]:
        """Stored node hashes of tree `level` (a multiple of 8 above 0), [start, end), in order."""
        rows = self.store.query_rows(
            f"SELECT Hash FROM {NODES_TABLE} WHERE Origin = {{o:String}} AND Level = {{l:UInt8}} "
            "AND NodeIndex >= {s:UInt64} AND NodeIndex < {e:UInt64} ORDER BY NodeIndex LIMIT 1 BY NodeIndex",
            {"o": self.origin, "l": level, "s": start, "e": end},
        )
        return [as_bytes(h) for (h,) in rows]

    def level_hashes(self, level: int, start: int, end: int) -> list[bytes]:
        """Hashes of tree `level` (0: the leaf hashes, or a stored level) [start, end), in order, one per index."""
        if level != 0:
            return self.nodes(level, start, end)
        rows = self.store.query_rows(
            f"SELECT LeafHash FROM {LEAVES_TABLE} WHERE Origin = {{o:String}} "
            "AND LeafIndex >= {s:UInt64} AND LeafIndex < {e:UInt64} ORDER BY LeafIndex LIMIT 1 BY LeafIndex",
            {"o": self.origin, "s": start, "e": end},
        )
        return [as_bytes(h) for (h,) in rows]

    def node_count(self, level: int) -> int:
        rows = self.store.query_rows(
            f"SELECT max(NodeIndex) + 1, count() FROM {NODES_TABLE} WHERE Origin = {{o:String}} AND Level = {{l:UInt8}}",
            {"o": self.origin, "l": level},
        )
        end, count = rows[0]
        return int(end) if count else 0

    def insert_leaves(self, start: int, entries: Sequence[bytes] | bytes, hashes: Sequence[bytes] | bytes) -> None:
        """Store leaves from `start` on: entries and hashes as lists, or end to end in one buffer."""
        entry_data = entries if isinstance(entries, bytes) else b"".join(entries)
        hash_data = hashes if isinstance(hashes, bytes) else b"".join(hashes)
        n = len(entry_data) // ENTRY_SIZE
        if len(entry_data) != n * ENTRY_SIZE or len(hash_data) != n * 32:
            raise ValueError("one 41-byte entry and one 32-byte hash per leaf")
        table = pa.table(
            {
                "Origin": pa.repeat(pa.scalar(self.origin, pa.string()), n),
                "LeafIndex": pa.array(np.arange(start, start + n, dtype=np.uint64)),
                "Entry": pa.FixedSizeBinaryArray.from_buffers(pa.binary(ENTRY_SIZE), n, [None, pa.py_buffer(entry_data)]),
                "LeafHash": pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), n, [None, pa.py_buffer(hash_data)]),
            }
        )
        self.store.insert_arrow(LEAVES_TABLE, table, "log leaves")

    def insert_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        rows = [[self.origin, level, index, h] for level, index, h in nodes]
        self.store.insert_rows(NODES_TABLE, rows, ("Origin", "Level", "NodeIndex", "Hash"), "log nodes")

    def save_checkpoint(self, checkpoint: Checkpoint, note: Note, keep: bool = True) -> None:
        """Store a signed checkpoint; one not `keep` is removed after CHECKPOINTS_KEPT_DAYS."""
        self.store.insert_rows(
            CHECKPOINTS_TABLE,
            [[checkpoint.origin, checkpoint.size, checkpoint.root, note.serialize(), int(keep)]],
            ("Origin", "Size", "RootHash", "Note", "Keep"),
            "checkpoint",
        )

    def checkpoints(self, kept_only: bool = False) -> list[tuple[int, bytes, str]]:
        """The stored checkpoints of this origin: (size, root, note), by size then time; with
        `kept_only`, those kept for good and the newest."""
        where = "Origin = {o:String}"
        if kept_only:
            where += f" AND (Keep = 1 OR Size = (SELECT max(Size) FROM {CHECKPOINTS_TABLE} WHERE Origin = {{o:String}}))"
        rows = self.store.query_rows(
            f"SELECT Size, RootHash, Note FROM {CHECKPOINTS_TABLE} WHERE {where} ORDER BY Size, CreatedAt",
            {"o": self.origin},
        )
        return [(int(size), as_bytes(root), str(note)) for size, root, note in rows]

    def forked_sizes(self) -> list[int]:
        """Sizes with two stored checkpoints of different roots (a fork), at most five."""
        rows = self.store.query_rows(
            f"SELECT Size FROM {CHECKPOINTS_TABLE} WHERE Origin = {{o:String}} GROUP BY Size "
            "HAVING uniqExact(RootHash) > 1 ORDER BY Size LIMIT 5",
            {"o": self.origin},
        )
        return [int(size) for (size,) in rows]

    def latest_checkpoint(self) -> tuple[int, bytes, str] | None:
        """The newest checkpoint: the largest size, its last stored note (the cosigned one when any)."""
        rows = self.store.query_rows(
            f"SELECT Size, RootHash, Note FROM {CHECKPOINTS_TABLE} WHERE Origin = {{o:String}} "
            "ORDER BY Size DESC, CreatedAt DESC LIMIT 1",
            {"o": self.origin},
        )
        if not rows:
            return None
        size, root, note = rows[0]
        return int(size), as_bytes(root), str(note)

    def records_from(self, start: int, end: int | None = None) -> list[tuple[int, bytes, tuple[Any, ...]]]:
        """(index, salt, values) of this origin's stored records with start <= LeafIndex < end,
        one per index, in index order."""
        where, params = self._records_where(start, end)
        table = self.store.query_arrow(
            f"SELECT LeafIndex, LeafSalt, {_RECORD_SELECT} FROM {RECORDS_TABLE} WHERE {where} "
            "ORDER BY LeafIndex LIMIT 1 BY LeafIndex",
            params,
        )
        indices = table.column("LeafIndex").to_pylist()
        salts = [as_bytes(s) for s in table.column("LeafSalt").to_pylist()]
        return list(zip(indices, salts, record_values(table)))

    def record_entries(self, start: int, end: int | None = None) -> dict[int, bytes]:
        """The log entry recomputed from each stored record of this origin with start <= LeafIndex
        < end, by index (one per index): by the engine (`ENTRY_SQL`, equal to `record_entry`)."""
        where, params = self._records_where(start, end)
        rows = self.store.query_rows(
            f"SELECT LeafIndex, hex({ENTRY_SQL}) FROM {RECORDS_TABLE} WHERE {where} LIMIT 1 BY LeafIndex", params
        )
        return {int(index): bytes.fromhex(str(entry)) for index, entry in rows}

    def _records_where(self, start: int, end: int | None) -> tuple[str, dict[str, Any]]:
        """The condition and parameters for this origin's records with start <= LeafIndex < end (None: no end)."""
        where = "LogOrigin = {o:String} AND LeafIndex >= {s:UInt64}"
        if end is None:
            return where, {"o": self.origin, "s": start}
        return where + " AND LeafIndex < {e:UInt64}", {"o": self.origin, "s": start, "e": end}

    def leaves_checked(self, start: int, end: int) -> pa.Table:
        """LeafIndex, Entry, LeafHash and HashOk (the engine's SHA-256(0x00 || Entry) = LeafHash)
        of leaves [start, end), in index order, as Arrow (the audit's read; a leaf not yet merged
        with its retried copy comes twice)."""
        return self.store.query_arrow(
            "SELECT LeafIndex, Entry, LeafHash, SHA256(concat(char(0), Entry)) = LeafHash AS HashOk "
            f"FROM {LEAVES_TABLE} WHERE Origin = {{o:String}} AND LeafIndex >= {{s:UInt64}} AND LeafIndex < {{e:UInt64}} "
            "ORDER BY LeafIndex",
            {"o": self.origin, "s": start, "e": end},
        )

    def stored_entries_table(self, start: int, end: int) -> pa.Table:
        """LeafIndex and Entry (the log entry the engine computes from the stored record and its
        salt: `ENTRY_SQL`, equal to `record_entry`) of this origin's stored records with
        start <= LeafIndex < end, in no particular order, as Arrow (the audit's read: 49 bytes a
        record leave the engine instead of the whole record; a row stored twice comes twice)."""
        return self.store.query_arrow(
            f"SELECT LeafIndex, CAST({ENTRY_SQL} AS FixedString(41)) AS Entry FROM {RECORDS_TABLE} WHERE LogOrigin = {{o:String}} "
            "AND LeafIndex >= {s:UInt64} AND LeafIndex < {e:UInt64}",
            {"o": self.origin, "s": start, "e": end},
        )

    def read_for_proof(
        self, index: int, reads: Sequence[tuple[int, int, int]], *, with_entry: bool = True
    ) -> tuple[bytes | None, dict[int, dict[int, bytes]]]:
        """The entry of leaf `index` (unless not `with_entry`) and the hashes of the (level, start,
        end) ranges `reads`, by level and index, in one query (an inclusion proof's reads). Every
        part of the query gives (level, index, hash, entry); the entry is read with the leaf hashes
        of its own tile when that tile is read anyway (a proof's usual case: one range read of the
        leaves table, not two), else on its own (level 255)."""
        leaf_ranges = [(int(a), int(b)) for level, a, b in reads if level == 0]
        node_ranges = [
            f"(Level = {int(level)} AND NodeIndex >= {int(a)} AND NodeIndex < {int(b)})" for level, a, b in reads if level > 0
        ]
        parts: list[str] = []
        if with_entry and not any(a <= index < b for a, b in leaf_ranges):
            parts.append(
                f"SELECT toUInt8(255) AS L, LeafIndex AS I, LeafHash AS H, Entry AS E FROM {LEAVES_TABLE} "
                f"WHERE Origin = {{o:String}} AND LeafIndex = {int(index)} LIMIT 1"
            )
        if leaf_ranges:
            ranges = " OR ".join(f"(LeafIndex >= {a} AND LeafIndex < {b})" for a, b in leaf_ranges)
            parts.append(
                f"SELECT toUInt8(0) AS L, LeafIndex AS I, LeafHash AS H, "
                f"if(LeafIndex = {int(index)}, Entry, toFixedString('', {ENTRY_SIZE})) AS E FROM {LEAVES_TABLE} "
                f"WHERE Origin = {{o:String}} AND ({ranges}) LIMIT 1 BY LeafIndex"
            )
        if node_ranges:
            parts.append(
                f"SELECT Level AS L, NodeIndex AS I, Hash AS H, toFixedString('', {ENTRY_SIZE}) AS E FROM {NODES_TABLE} "
                f"WHERE Origin = {{o:String}} AND ({' OR '.join(node_ranges)}) LIMIT 1 BY Level, NodeIndex"
            )
        # One small read: a single thread spares the engine its pipeline set-up for each part.
        sql = " UNION ALL ".join(f"({p})" for p in parts) + " SETTINGS max_threads = 1"
        rows = self.store.query_rows(sql, {"o": self.origin})
        entry: bytes | None = None
        found: dict[int, dict[int, bytes]] = {}
        for level, i, h, e in rows:
            level, i = int(level), int(i)
            if level == 255 or (level == 0 and i == index):
                entry = as_bytes(e)
            if level != 255:
                found.setdefault(level, {})[i] = as_bytes(h)
        return entry, found

    def origins(self) -> list[str]:
        """Every origin with leaves or checkpoints in the store."""
        rows = self.store.query_rows(
            f"SELECT DISTINCT Origin FROM (SELECT Origin FROM {LEAVES_TABLE} UNION ALL SELECT Origin FROM {CHECKPOINTS_TABLE}) ORDER BY Origin",
            {},
        )
        return [str(o) for (o,) in rows]


def as_bytes(value: Any) -> bytes:
    """A binary value as the store's drivers return it (bytes, or a latin-1 str) as bytes: the
    storage package's reads of the log use it (an internal interface, not exported)."""
    if isinstance(value, str):
        return value.encode("latin-1")
    return value if isinstance(value, bytes) else bytes(value)


class _Asked:
    """A NodeSource that only notes which nodes a proof asks for (to read them in one query)."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def node(self, level: int, index: int) -> bytes:
        self.asked.append((level, index))
        return bytes(32)


class StoredTree:
    """A `NodeSource` over the stored log: tile-level hashes read by tile and cached.

    A stored hash never changes once written, so the cache (bounded, least recently used first
    out) holds, per tile, the prefix of its hashes read so far, whatever the tree's size; trees
    made by `grown` share it. `proof` reads every hash an inclusion proof needs, and the entry,
    in one query.
    """

    def __init__(self, tables: LogTables, size: int, cache_tiles: int = 256):
        self.tables = tables
        self.size = size
        self._cache: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()
        self._cache_tiles = cache_tiles
        self._lock = threading.Lock()

    def grown(self, size: int) -> StoredTree:
        """This tree at a later `size`, sharing the cache (stored hashes never change)."""
        tree = StoredTree(self.tables, size, self._cache_tiles)
        tree._cache = self._cache
        tree._lock = self._lock
        return tree

    def _cached(self, key: tuple[int, int]) -> list[bytes]:
        with self._lock:
            hashes = self._cache.get(key)
            if hashes is None:
                return []
            self._cache.move_to_end(key)
            return hashes

    def _keep(self, key: tuple[int, int], hashes: list[bytes]) -> None:
        with self._lock:
            if len(self._cache.get(key, ())) < len(hashes):
                self._cache[key] = hashes
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_tiles:
                self._cache.popitem(last=False)

    def _wanted(self, tile_level: int, tile_index: int, count: int) -> tuple[int, int]:
        """The hash range [start, end) of tree level 8 * tile_level that tile's first `count`
        hashes are, limited to the tree's size; LogIntegrityError beyond it."""
        level = TILE_HEIGHT * tile_level
        start = tile_index * TILE_WIDTH
        end = start + count
        if end > min(start + TILE_WIDTH, self.size >> level):
            raise LogIntegrityError(f"hashes of tree level {level} [{start}, {end}) are not in the tree of {self.size}")
        return start, end

    def _from_file(self, tile_level: int, tile_index: int) -> list[bytes] | None:
        """A full tile of this tree from the store's tile files (kept in the cache); None when
        the tile is not full at this size or has no file."""
        files = self.tables.store.tile_files
        if files is None or (tile_index + 1) * TILE_WIDTH > self.size >> (TILE_HEIGHT * tile_level):
            return None
        hashes = files.hashes(self.tables.origin, tile_level, tile_index)
        if hashes is not None:
            self._keep((tile_level, tile_index), hashes)
        return hashes

    def tile(self, tile_level: int, tile_index: int, count: int | None = None) -> list[bytes]:
        """The first `count` hashes of a tile (default: as wide as the tree of `size` has)."""
        key = (tile_level, tile_index)
        level = TILE_HEIGHT * tile_level
        if count is None:
            count = min(TILE_WIDTH, (self.size >> level) - tile_index * TILE_WIDTH)
        start, end = self._wanted(tile_level, tile_index, count)
        have = self._cached(key)
        if len(have) >= count:
            return have[:count]
        from_file = self._from_file(tile_level, tile_index)
        if from_file is not None:
            return from_file[:count]
        more = self.tables.level_hashes(level, start + len(have), end)
        if len(more) != end - start - len(have):
            raise LogIntegrityError(f"the store lacks hashes of tree level {level} [{start}, {end}) of {self.tables.origin}")
        hashes = have + more
        self._keep(key, hashes)
        return hashes

    def node(self, level: int, index: int) -> bytes:
        tile_level, tile_index, offset, span = node_in_tiles(level, index)
        try:
            hashes = self.tile(tile_level, tile_index, offset + span)[offset : offset + span]
        except LogIntegrityError:
            hashes = []
        if len(hashes) != span:
            raise LogIntegrityError(f"node ({level}, {index}) is not in the stored tree of {self.tables.origin}")
        return perfect_root(hashes)

    def proof(self, index: int) -> tuple[bytes, list[bytes]]:
        """The entry of leaf `index` and its inclusion proof in the tree of `size`: every stored
        hash the proof needs that is neither cached nor in a tile file, and the entry, read in
        one query; no query when the tile files hold them all."""
        asked = _Asked()
        inclusion_proof(asked, index, self.size)
        needed: dict[tuple[int, int], int] = {}
        for level, node_index in asked.asked:
            tile_level, tile_index, offset, span = node_in_tiles(level, node_index)
            key = (tile_level, tile_index)
            needed[key] = max(needed.get(key, 0), offset + span)
        reads: list[tuple[int, int, int]] = []
        for (tile_level, tile_index), count in needed.items():
            start, end = self._wanted(tile_level, tile_index, count)
            cached = len(self._cached((tile_level, tile_index)))
            if cached < count and self._from_file(tile_level, tile_index) is None:
                reads.append((TILE_HEIGHT * tile_level, start + cached, end))
        files = self.tables.store.tile_files
        entry = None
        if files is not None and (index // TILE_WIDTH + 1) * TILE_WIDTH <= self.size:
            entry = files.entry(self.tables.origin, index)
        found: dict[int, dict[int, bytes]] = {}
        if entry is None or reads:
            stored_entry, found = self.tables.read_for_proof(index, reads, with_entry=entry is None)
            entry = entry or stored_entry
        for level, start, end in reads:
            key = (level // TILE_HEIGHT, start // TILE_WIDTH)
            more = found.get(level, {})
            if any(i not in more for i in range(start, end)):
                raise LogIntegrityError(f"the store lacks hashes of tree level {level} [{start}, {end}) of {self.tables.origin}")
            have = self._cached(key)
            if len(have) == start - key[1] * TILE_WIDTH:  # else another request extended it meanwhile
                self._keep(key, have + [more[i] for i in range(start, end)])
        if entry is None:
            raise LogIntegrityError(f"the store lacks leaf {index} of {self.tables.origin}")
        return entry, inclusion_proof(self, index, self.size)


class TransparencyLog:
    """One writer's log (one origin) over a LogStore: see the module docstring.

    Thread safety: `stage`/`commit`/`abort` are for the writer thread; `head()` and
    `sign_checkpoint` may be called from any thread (the checkpointer).
    """

    def __init__(self, store: LogStore, signer: Signer):
        self.store = store
        self.signer = signer
        self.origin = signer.name
        self.tables = LogTables(store, self.origin)
        self._lock = threading.Lock()
        self._kept_hour: int | None = None
        self._pending_nodes: list[tuple[int, int, bytes]] = []
        self._repair_now()

    @classmethod
    def open(cls, store: LogStore, signer: Signer) -> TransparencyLog:
        """The log of `signer`'s origin in `store`, repaired (module docstring); LogIntegrityError
        when it cannot be appended to."""
        opened = cls(store, signer)
        head = opened.head()
        latest = opened.tables.latest_checkpoint()
        if latest is not None and latest[0] == head.size and head.root != latest[1]:
            raise LogIntegrityError(
                f"the stored leaves of {signer.name} no longer give the root of its checkpoint {head.size}"
            )
        return opened

    @property
    def size(self) -> int:
        with self._lock:
            return self._compact.size

    def head(self) -> Checkpoint:
        """The tree head of everything committed so far (unsigned)."""
        with self._lock:
            return Checkpoint(self.origin, self._compact.size, self._compact.root())

    def stage(self, rows: pa.Table) -> Staged:
        """`rows` (ROWS_SCHEMA) as the table to insert, with retention, leaf indices and salts,
        and their entries. Repairs first when the last batch failed (StorageError if it cannot)."""
        if self._needs_repair:
            self._repair_now()
        table = self.store.with_retention(rows)
        n = table.num_rows
        start = self._compact.size
        salts = os.urandom(SALT_SIZE * n)  # one call per batch, 16 bytes a record end to end
        entries = entry_block(table, salts).tobytes()
        table = table.append_column(
            pa.field("LogOrigin", pa.string()), pa.repeat(pa.scalar(self.origin, pa.string()), n)
        )
        table = table.append_column(pa.field("LeafIndex", pa.uint64()), pa.array(np.arange(start, start + n, dtype=np.uint64)))
        offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * SALT_SIZE).tobytes())
        salt_column = pa.BinaryArray.from_buffers(pa.binary(), n, [None, offsets, pa.py_buffer(salts)])
        table = table.append_column(pa.field("LeafSalt", pa.binary()), salt_column)
        return Staged(table, start, entries)

    def commit(self, staged: Staged) -> None:
        """Append the staged batch's leaves (its records are stored); raises StorageError when
        they could not be stored (the batch must then not be acknowledged; repaired next time)."""
        if staged.start != self._compact.size:
            raise LogIntegrityError("a batch was staged before another one was committed")
        hashes = leaf_hash_block(staged.entries)
        try:
            self.tables.insert_leaves(staged.start, staged.entries, hashes)
            with self._lock:
                # Tile nodes completed here are stored by the next `sign_checkpoint`, before the
                # checkpoint that covers them: one insert per batch fewer for the writer.
                self._compact.extend([hashes[i : i + 32] for i in range(0, len(hashes), 32)])
        except Exception:
            self._needs_repair = True
            raise

    def abort(self, staged: Staged) -> None:
        """The staged batch's insert failed: repair before the next batch (part may be stored)."""
        self._needs_repair = True

    def _repair_now(self) -> None:
        size = repair(self.tables)
        tree = StoredTree(self.tables, size)
        compact = CompactRange(
            size,
            [tree.node(lvl, idx) for lvl, idx in edge_nodes(size)],
            on_node=lambda level, index, node: self._pending_nodes.append((level, index, node)),
            report_levels=STORED_LEVELS,
        )
        with self._lock:
            self._compact = compact
        self._needs_repair = False

    def sign_checkpoint(self) -> tuple[Checkpoint, Note, bool]:
        """Sign the current tree head and store it; returns the checkpoint, its note and whether it
        is kept for good (the first of this process, then the first of every hour)."""
        with self._lock:
            checkpoint = Checkpoint(self.origin, self._compact.size, self._compact.root())
            nodes, self._pending_nodes[:] = list(self._pending_nodes), []
        if nodes:
            # A reader of this checkpoint's tree finds every tile node it covers (a crash
            # before this insert leaves them to `repair`, from the stored leaves).
            try:
                self.tables.insert_nodes(nodes)
            except Exception:
                with self._lock:
                    self._pending_nodes[:0] = nodes
                raise
        note = sign_note(checkpoint.text, self.signer)
        hour = int(time.time() // 3600)
        keep = self._kept_hour != hour
        self.tables.save_checkpoint(checkpoint, note, keep)
        self._kept_hour = hour
        return checkpoint, note, keep


def repair(tables: LogTables) -> int:
    """Bring the stored log of `tables.origin` in line with its stored records; return its size.

    See the module docstring. Raises LogIntegrityError when leaves are missing below the newest
    checkpoint or have gaps (removed, not a crash's doing), StorageError when the store fails.
    """
    distinct, size = tables.leaf_span()
    if distinct != size:
        raise LogIntegrityError(f"the log {tables.origin} has {distinct} leaves with indices up to {size - 1}: some were removed")
    latest = tables.latest_checkpoint()
    if latest is not None and latest[0] > size:
        raise LogIntegrityError(
            f"the log {tables.origin} has {size} leaves, but its checkpoint of size {latest[0]} was signed: leaves were removed"
        )
    by_index = tables.record_entries(size)
    if by_index:
        last = max(by_index)
        entries = [by_index.get(index, VOID_ENTRY) for index in range(size, last + 1)]
        tables.insert_leaves(size, entries, leaf_hashes(entries))
        log.warning("log %s: %d leaves appended at start for records stored before a crash", tables.origin, len(entries))
        size = last + 1
    # The tile-level nodes of complete subtrees that are missing (a crash between inserts).
    for level in sorted(STORED_LEVELS):
        want = size >> level
        if want == 0:
            break
        have = tables.node_count(level)
        if have >= want:
            continue
        per = 1 << TILE_HEIGHT
        hashes = tables.level_hashes(level - TILE_HEIGHT, have * per, want * per)  # the level below
        nodes = [(level, have + i, perfect_root(hashes[i * per : (i + 1) * per])) for i in range(want - have)]
        tables.insert_nodes(nodes)
    return size

