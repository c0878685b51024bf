"""Where stored records are in the transparency log: (LogOrigin, LeafIndex) by (trace, span),
and the entries of many scattered leaves in one read (the readers' receipts of one answer).

The readers' side of the log (a receipt for a record the caller may read): the caller has
already found the record through the read restrictions; this only maps its ids to its leaf.
A record delivered twice has two leaves; the first (lowest index) is the one given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ldv_logboek.storage._schema import LEAVES_TABLE, RECORDS_TABLE
from ldv_logboek.storage._store import LogStore
from ldv_logboek.storage._tlog import as_bytes
from ldv_logboek.storage._tlog_sql import ENTRY_SQL

_CHUNK = 500  # ids per query: keeps the bound parameters small


def record_positions(store: LogStore, ids: Iterable[tuple[bytes, bytes]]) -> dict[tuple[bytes, bytes], tuple[str, int]]:
    """(origin, leaf index) of each logged record among `ids` ((trace id, span id) as bytes);
    records in no log (inserted past the collector's writer) are left out."""
    wanted = sorted({(t.hex(), s.hex()) for t, s in ids})
    found: dict[tuple[bytes, bytes], tuple[str, int]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = store.query_rows(
            f"SELECT TraceId, SpanId, argMin(LogOrigin, LeafIndex), min(LeafIndex) FROM {RECORDS_TABLE} "
            "WHERE TraceId IN {t:Array(String)} AND (TraceId, SpanId) IN "
            "(SELECT tupleElement(p, 1), tupleElement(p, 2) FROM (SELECT arrayJoin({p:Array(Tuple(String, String))}) AS p)) "
            "AND LogOrigin != '' GROUP BY TraceId, SpanId",
            {"t": sorted({t for t, _ in chunk}), "p": chunk},
        )
        for trace, span, origin, index in rows:
            found[(bytes.fromhex(str(trace)), bytes.fromhex(str(span)))] = (str(origin), int(index))
    return found


def leaf_entries(store: LogStore, origin: str, indices: Iterable[int]) -> dict[int, bytes]:
    """The stored log entry of each leaf of `origin` among `indices` (one read for them all)."""
    wanted = sorted(set(indices))
    found: dict[int, bytes] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = store.query_rows(
            f"SELECT LeafIndex, Entry FROM {LEAVES_TABLE} WHERE Origin = {{o:String}} "
            "AND LeafIndex IN {i:Array(UInt64)} LIMIT 1 BY LeafIndex",
            {"o": origin, "i": wanted[start : start + _CHUNK]},
        )
        found.update((int(i), as_bytes(entry)) for i, entry in rows)
    return found


def stored_entries(store: LogStore, origin: str, traces: Mapping[int, bytes]) -> dict[int, bytes]:
    """The log entry recomputed from the stored record at each leaf index of `origin` in
    `traces` (leaf index -> the record's trace id, which finds it through the by-trace
    projection), by the engine (`ENTRY_SQL`, equal to the writer's `record_entry`); an index
    whose record is gone is left out."""
    wanted = sorted(traces.items())
    found: dict[int, bytes] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = store.query_rows(
            f"SELECT LeafIndex, hex({ENTRY_SQL}) FROM {RECORDS_TABLE} WHERE TraceId IN {{t:Array(String)}} "
            "AND LogOrigin = {o:String} AND LeafIndex IN {i:Array(UInt64)} LIMIT 1 BY LeafIndex",
            {"t": sorted({t.hex() for _, t in chunk}), "o": origin, "i": [i for i, _ in chunk]},
        )
        found.update((int(index), bytes.fromhex(str(entry))) for index, entry in rows)
    return found
