"""Where stored records are in the transparency log: (LogOrigin, LeafIndex) by (trace, span).

The readers' side of the log (a receipt for a record the caller may read): the caller has
already found the record through the read restrictions; this only maps its ids to its leaf.
A record delivered twice has two leaves; the first (lowest index) is the one given.
"""

from __future__ import annotations

from collections.abc import Iterable

from ldv_logboek.storage._schema import RECORDS_TABLE
from ldv_logboek.storage._store import LogStore

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
