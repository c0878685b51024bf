"""`ldv audit`: replay every transparency log in a store against the records it holds.

For each log (origin) in the store, in leaf order, in chunks:

- every leaf's hash is SHA-256(0x00 || entry), indices run 0..n-1 without gaps, and no index has
  two different leaves;
- every leaf whose record is stored matches it: the entry recomputed from the stored record and
  its salt is the leaf's entry (a changed field, salt or retention breaks it);
- a leaf without its record is "expired" when its `expires_at` has passed (the store's TTL may
  have removed it) and "missing" otherwise; void entries have no record by definition;
- every stored record of the log has a leaf (LeafIndex below the log's size);
- the tree the leaves make has, at the size of every stored checkpoint, that checkpoint's root;
  two checkpoints of one size with different roots are a fork; with the log's public key the
  signature of every stored checkpoint is checked;
- each checkpoint the auditor trusts (saved from the last audit, or fetched from a witness) is
  in the tree: the newest stored checkpoint is consistent with it.

The work is done over whole columns (docs/architecture.md, "What is and is not proven"): per
chunk the engine hashes the leaves' entries and recomputes every stored record's entry itself
(`ENTRY_SQL`: only 49 bytes a record leave it), Python compares them with the leaves as arrays
and rebuilds the tree level by level, only hashing.

Records with no log (inserted past the collector's writer, e.g. by the OpenTelemetry
Collector's ClickHouse exporter) are "unlogged". The report is ok only when nothing is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ldv_logboek.errors import NoteError
from ldv_logboek.storage._schema import LEAVES_TABLE, RECORDS_TABLE
from ldv_logboek.storage._store import LogStore
from ldv_logboek.storage._tlog import LogTables
from ldv_logboek.storage._tlog_columns import fixed_width, level_up
from ldv_logboek.tlog import (
    ENTRY_SIZE,
    Checkpoint,
    CompactRange,
    Verifier,
    leaf_hash,
    parse_note,
)

# Leaves per chunk, a power of two (see _audit_log). The records are stored by subject, not by
# leaf, so each chunk's read of them passes over the whole records table: chunks are as large as
# memory allows (~160 bytes a leaf with the next chunk read ahead: ~85 MB).
CHUNK = 1 << 19
_SAMPLE = 5


@dataclass
class LogAudit:
    """What the audit found for one log."""

    origin: str
    size: int = 0
    root: bytes = b""
    records: int = 0
    expired: int = 0
    void: int = 0
    checkpoints: int = 0
    signatures_checked: bool = False
    problems: list[str] = field(default_factory=list)
    newest_checkpoint: str | None = None  # the note of the newest stored checkpoint


@dataclass
class AuditReport:
    """The audit of a whole store."""

    logs: list[LogAudit] = field(default_factory=list)
    unlogged: int = 0
    unlogged_sample: list[str] = field(default_factory=list)
    orphans: dict[str, int] = field(default_factory=dict)  # records of an origin with no leaves at all
    records_checked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.unlogged and not self.orphans and all(not a.problems for a in self.logs)

    def lines(self) -> list[str]:
        out = []
        for a in self.logs:
            state = "ok" if not a.problems else f"{len(a.problems)} problem(s)"
            signed = "signatures checked" if a.signatures_checked else "signatures NOT checked (no --log-key for it)"
            out.append(
                f"log {a.origin}: {a.size} leaves, {a.records} records matched, {a.expired} expired, {a.void} void, "
                f"{a.checkpoints} checkpoints ({signed}): {state}"
            )
            out += [f"  - {p}" for p in a.problems]
        if self.unlogged:
            out.append(f"{self.unlogged} record(s) in no log (stored past the collector's writer), e.g. {', '.join(self.unlogged_sample)}")
        for origin, n in self.orphans.items():
            out.append(f"{n} record(s) name log {origin!r}, which has no leaves in this store")
        rate = self.records_checked / self.seconds if self.seconds else 0.0
        out.append(f"{'OK' if self.ok else 'FAILED'}: {self.records_checked} records checked in {self.seconds:.1f} s ({rate:,.0f}/s)")
        return out


def audit_store(
    store: LogStore,
    *,
    log_keys: Mapping[str, Verifier] | None = None,
    trusted: Sequence[str] = (),
    now: float | None = None,
    chunk: int = CHUNK,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Audit every log in `store` (module docstring). `log_keys` by origin check checkpoint
    signatures; `trusted` are checkpoint notes the auditor saved before (each must be signed by
    its origin's key in `log_keys` and lie in the stored tree)."""
    started = time.monotonic()
    now = time.time() if now is None else now
    keys = dict(log_keys or {})
    report = AuditReport()
    trusted_by_origin: dict[str, list[Checkpoint]] = {}
    pre_problems: list[str] = []
    for text in trusted:
        opened = _open_trusted(text, keys)
        if isinstance(opened, str):
            pre_problems.append(opened)
        else:
            trusted_by_origin.setdefault(opened.origin, []).append(opened)
    origins = LogTables(store, "").origins()
    for origin in sorted(set(origins) | set(trusted_by_origin)):
        audit = _audit_log(store, origin, keys.get(origin), trusted_by_origin.get(origin, []), now, chunk, progress)
        report.logs.append(audit)
        report.records_checked += audit.records
    if pre_problems:
        report.logs.append(LogAudit("(trusted checkpoints)", problems=pre_problems))
    rows = store.query_rows(f"SELECT count() FROM {RECORDS_TABLE} WHERE LogOrigin = ''", {})
    report.unlogged = int(rows[0][0])
    if report.unlogged:
        sample = store.query_rows(
            f"SELECT TraceId, SpanId FROM {RECORDS_TABLE} WHERE LogOrigin = '' LIMIT {_SAMPLE}", {}
        )
        report.unlogged_sample = [f"{t}/{s}" for t, s in sample]
    rows = store.query_rows(
        f"SELECT LogOrigin, count() FROM {RECORDS_TABLE} WHERE LogOrigin != '' "
        f"AND LogOrigin NOT IN (SELECT DISTINCT Origin FROM {LEAVES_TABLE}) GROUP BY LogOrigin",
        {},
    )
    report.orphans = {str(o): int(n) for o, n in rows}
    report.seconds = time.monotonic() - started
    return report


def _open_trusted(text: str, keys: Mapping[str, Verifier]) -> Checkpoint | str:
    """The trusted checkpoint in `text`, or the problem with it."""
    try:
        note = parse_note(text)
        checkpoint = Checkpoint.from_text(note.text)
    except NoteError as exc:
        return f"a trusted checkpoint is not a checkpoint: {exc}"
    key = keys.get(checkpoint.origin)
    if key is None:
        return f"no --log-key for the trusted checkpoint of {checkpoint.origin}"
    try:
        if note.signed_by(key) is None:
            return f"the trusted checkpoint of {checkpoint.origin} is not signed by its key"
    except NoteError as exc:
        return f"the trusted checkpoint of {checkpoint.origin}: {exc}"
    return checkpoint


def _audit_log(
    store: LogStore,
    origin: str,
    key: Verifier | None,
    trusted: list[Checkpoint],
    now: float,
    chunk: int,
    progress: Callable[[str], None] | None,
) -> LogAudit:
    tables = LogTables(store, origin)
    audit = LogAudit(origin)
    problem = audit.problems.append
    distinct, size = tables.leaf_span()
    audit.size = size
    if distinct != size:
        problem(f"leaf indices have gaps: {distinct} leaves, highest index {size - 1} (leaves removed)")
    # Two stored checkpoints of one size with different roots: a fork, whichever they are.
    for size_c in tables.forked_sizes():
        problem(f"two checkpoints of size {size_c} with different roots (a fork)")
    # Roots and signatures of the checkpoints kept for good (one an hour) and the newest; the
    # others (every 250 ms, kept 30 days) are covered by the fork check above.
    checkpoints = tables.checkpoints(kept_only=True)
    audit.checkpoints = len(checkpoints)
    audit.signatures_checked = key is not None
    roots_wanted: dict[int, bytes] = {}
    for size_c, root_c, note_text in checkpoints:
        roots_wanted.setdefault(size_c, root_c)
        if key is not None:
            try:
                note = parse_note(note_text)
                if note.signed_by(key) is None or Checkpoint.from_text(note.text) != Checkpoint(origin, size_c, root_c):
                    problem(f"the checkpoint of size {size_c} is not signed by the log's key, or not as stored")
            except NoteError as exc:
                problem(f"the checkpoint of size {size_c}: {exc}")
    if checkpoints:
        audit.newest_checkpoint = checkpoints[-1][2]
    for checkpoint in trusted:
        if checkpoint.size in roots_wanted and roots_wanted[checkpoint.size] != checkpoint.root:
            problem(f"the trusted checkpoint of size {checkpoint.size} and a stored one differ (a fork)")
        roots_wanted.setdefault(checkpoint.size, checkpoint.root)
        if checkpoint.size > size:
            problem(f"the trusted checkpoint has size {checkpoint.size}, the log only {size} leaves (truncated)")
    for size_c in sorted(s for s in roots_wanted if s > size):
        if not any(c.size == size_c for c in trusted):
            problem(f"a checkpoint of size {size_c} was signed, the log has {size} leaves (truncated)")

    compact = CompactRange()
    roots_found: dict[int, bytes] = {}
    if 0 in roots_wanted:
        roots_found[0] = compact.root()
    wanted_sizes = sorted(s for s in roots_wanted if 0 < s <= size)
    missing: list[int] = []
    changed: list[int] = []
    conflicting: list[int] = []
    bad_hash: list[int] = []
    malformed: list[int] = []
    # The next chunk's leaves and records are read (by the engine, which releases the GIL) while
    # this one is hashed and compared. Chunks start at multiples of `chunk`, a power of two, so
    # each chunk's tree levels are whole subtrees of the log's tree.
    chunks = [(start, min(start + chunk, size)) for start in range(0, size, chunk)]
    with ThreadPoolExecutor(max_workers=2) as reader:

        def read(bounds: tuple[int, int]) -> tuple[Future[pa.Table], Future[pa.Table]]:
            # The two reads side by side: on two cores the records' (the larger) and the
            # leaves' overlap instead of following each other.
            return reader.submit(tables.stored_entries_table, *bounds), reader.submit(tables.leaves_checked, *bounds)

        pending = read(chunks[0]) if chunks else None
        for number, (start, end) in enumerate(chunks):
            assert pending is not None
            leaves = pending[1].result()
            indices = leaves.column("LeafIndex").to_numpy()
            entries = fixed_width(leaves.column("Entry"), ENTRY_SIZE)
            hashes = fixed_width(leaves.column("LeafHash"), 32)
            hash_ok = leaves.column("HashOk").to_numpy(zero_copy_only=False).astype(bool)
            if len(indices) > 1 and not np.all(indices[1:] != indices[:-1]):
                # A leaf stored twice (a retried insert not merged yet): one row per index; two
                # different rows at one index (read next to each other) are a rewritten leaf.
                again = np.flatnonzero(indices[1:] == indices[:-1])
                differ = np.any(entries[again] != entries[again + 1], axis=1) | np.any(hashes[again] != hashes[again + 1], axis=1)
                conflicting += [int(i) for i in np.unique(indices[again[differ]])]
                first = np.concatenate(([True], indices[1:] != indices[:-1]))
                indices, entries, hashes, hash_ok = indices[first], entries[first], hashes[first], hash_ok[first]
            # The engine hashed every entry (SHA256 of 0x00 || Entry); the tree is rebuilt from
            # the entries themselves, so a stored hash that differs is replaced by the true one.
            wrong = np.flatnonzero(~hash_ok)
            if len(wrong):
                hashes = hashes.copy()
                for position in wrong:
                    bad_hash.append(int(indices[position]))
                    hashes[position] = np.frombuffer(leaf_hash(entries[position].tobytes()), dtype=np.uint8)
            # The chunk's tree, level by level, then the log's right edge and any roots asked for.
            levels = [hashes.tobytes()]
            while len(levels[-1]) >= 64:
                below = levels[-1]
                levels.append(level_up(below[: len(below) // 64 * 64]))
            base = CompactRange(compact.size, compact.nodes)
            while wanted_sizes and wanted_sizes[0] <= compact.size + len(indices):
                wanted = wanted_sizes.pop(0)
                roots_found[wanted] = _extended(base, levels, wanted - compact.size).root()
            compact = _extended(base, levels, len(indices))
            # Every stored record against its leaf, as whole columns (the records' entries, the
            # engine's larger read, are waited for only now: the tree above was built meanwhile).
            records = pending[0].result()
            pending = read(chunks[number + 1]) if number + 1 < len(chunks) else None
            has_record = np.zeros(len(indices), dtype=bool)
            if records.num_rows:
                recomputed = fixed_width(records.column("Entry"), ENTRY_SIZE)
                record_indices = records.column("LeafIndex").to_numpy()
                positions = np.searchsorted(indices, record_indices)
                inside = positions < len(indices)
                inside[inside] &= indices[positions[inside]] == record_indices[inside]
                positions, recomputed, record_indices = positions[inside], recomputed[inside], record_indices[inside]
                has_record[positions] = True
                differs = np.any(entries[positions] != recomputed, axis=1)
                changed += [int(i) for i in np.unique(record_indices[differs])]
                audit.records += int(has_record.sum())
            # Leaves without their record: void, expired, or missing.
            alone = ~has_record
            void = alone & ~np.any(entries, axis=1)
            audit.void += int(void.sum())
            rest = alone & ~void
            typed = rest & (entries[:, 0] == 1)
            malformed += [int(i) for i in indices[rest & ~typed]]
            expires = entries[:, 1:9].copy().view(">u8").reshape(-1)
            expired = typed & (expires <= now)
            audit.expired += int(expired.sum())
            missing += [int(i) for i in indices[typed & ~expired]]
            if progress is not None:
                progress(f"{origin}: {end} of {size} leaves")
    audit.root = compact.root()
    for found, text in (
        (conflicting, "leaves stored twice with different contents at {at} (rewritten)"),
        (bad_hash, "{n} stored leaf hash(es) do not hash their entry, at {at}"),
        (missing, "{n} record(s) missing before their retention ended, at {at}"),
        (changed, "{n} record(s) changed since they were logged, at {at}"),
        (malformed, "{n} leaf entr(y/ies) of no known type, at {at}"),
    ):
        if found:
            problem(text.format(n=len(found), at=_indices(found)))
    beyond = store.query_rows(
        f"SELECT LeafIndex FROM {RECORDS_TABLE} WHERE LogOrigin = {{o:String}} AND LeafIndex >= {{n:UInt64}} "
        f"ORDER BY LeafIndex LIMIT {_SAMPLE}",
        {"o": origin, "n": size},
    )
    if beyond:
        problem(f"record(s) without a leaf (index {_indices(i for (i,) in beyond)} and up, the log has {size})")
    for size_c, root_c in sorted(roots_wanted.items()):
        if size_c in roots_found and roots_found[size_c] != root_c:
            problem(f"the leaves do not give the root of the checkpoint of size {size_c} (the log was rewritten)")
    return audit


def _extended(base: CompactRange, levels: list[bytes], count: int) -> CompactRange:
    """`base` (a copy) with the first `count` leaves of a chunk added, from the chunk's levels
    (`levels[k]`: its level-k hashes, 32 bytes each), as the perfect subtrees that make them up."""
    compact = CompactRange(base.size, base.nodes)
    offset = 0
    for level in range(count.bit_length() - 1, -1, -1):
        if count >> level & 1:
            at = (offset >> level) * 32
            compact.append_subtree(level, levels[level][at : at + 32])
            offset += 1 << level
    return compact


def _indices(values: Iterable[int]) -> str:
    items = [int(v) for v in values]
    text = ", ".join(str(i) for i in items[:_SAMPLE])
    return text + (", ..." if len(items) > _SAMPLE else "")

