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

Records with no log (inserted past the collector's writer, e.g. by the OpenTelemetry
Collector's ClickHouse exporter) are "unlogged". The report is ok only when nothing is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ldv_logboek.errors import NoteError
from ldv_logboek.storage._schema import LEAVES_TABLE, RECORDS_TABLE
from ldv_logboek.storage._store import LogStore
from ldv_logboek.storage._tlog import LogTables, iter_chunks
from ldv_logboek.tlog import (
    Checkpoint,
    CompactRange,
    Verifier,
    leaf_hashes,
    parse_entry,
    parse_note,
)

CHUNK = 200_000
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

    def problem(self, text: str) -> None:
        self.problems.append(text)


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
    pre_problems: dict[str, list[str]] = {}
    for text in trusted:
        checkpoint, problem = _open_trusted(text, keys)
        if checkpoint is None:
            pre_problems.setdefault("", []).append(problem or "unreadable trusted checkpoint")
            continue
        trusted_by_origin.setdefault(checkpoint.origin, []).append(checkpoint)
    origins = LogTables(store, "").origins()
    for origin in sorted(set(origins) | set(trusted_by_origin)):
        audit = _audit_log(store, origin, keys.get(origin), trusted_by_origin.get(origin, []), now, chunk, progress)
        report.logs.append(audit)
        report.records_checked += audit.records
    if pre_problems:
        report.logs.append(LogAudit("(trusted checkpoints)", problems=pre_problems[""]))
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


def _open_trusted(text: str, keys: Mapping[str, Verifier]) -> tuple[Checkpoint | None, str | None]:
    try:
        note = parse_note(text)
        checkpoint = Checkpoint.from_text(note.text)
    except NoteError as exc:
        return None, f"a trusted checkpoint is not a checkpoint: {exc}"
    key = keys.get(checkpoint.origin)
    if key is None:
        return None, f"no --log-key for the trusted checkpoint of {checkpoint.origin}"
    try:
        if note.signed_by(key) is None:
            return None, f"the trusted checkpoint of {checkpoint.origin} is not signed by its key"
    except NoteError as exc:
        return None, f"the trusted checkpoint of {checkpoint.origin}: {exc}"
    return checkpoint, None


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
    distinct, size = tables.leaf_span()
    audit.size = size
    if distinct != size:
        audit.problem(f"leaf indices have gaps: {distinct} leaves, highest index {size - 1} (leaves removed)")
    conflicting = store.query_rows(
        f"SELECT LeafIndex FROM {LEAVES_TABLE} WHERE Origin = {{o:String}} GROUP BY LeafIndex "
        f"HAVING uniqExact(Entry, LeafHash) > 1 ORDER BY LeafIndex LIMIT {_SAMPLE}",
        {"o": origin},
    )
    if conflicting:
        audit.problem(f"leaves stored twice with different contents at {_indices(i for (i,) in conflicting)} (rewritten)")

    # Two stored checkpoints of one size with different roots: a fork, whichever they are.
    for size_c in tables.forked_sizes():
        audit.problem(f"two checkpoints of size {size_c} with different roots (a fork)")
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
                    audit.problem(f"the checkpoint of size {size_c} is not signed by the log's key, or not as stored")
            except NoteError as exc:
                audit.problem(f"the checkpoint of size {size_c}: {exc}")
    if checkpoints:
        audit.newest_checkpoint = checkpoints[-1][2]
    for checkpoint in trusted:
        if checkpoint.size in roots_wanted and roots_wanted[checkpoint.size] != checkpoint.root:
            audit.problem(f"the trusted checkpoint of size {checkpoint.size} and a stored one differ (a fork)")
        roots_wanted.setdefault(checkpoint.size, checkpoint.root)
        if checkpoint.size > size:
            audit.problem(f"the trusted checkpoint has size {checkpoint.size}, the log only {size} leaves (truncated)")
    for size_c in sorted(s for s in roots_wanted if s > size):
        if not any(c.size == size_c for c in trusted):
            audit.problem(f"a checkpoint of size {size_c} was signed, the log has {size} leaves (truncated)")

    compact = CompactRange()
    roots_found: dict[int, bytes] = {}
    if 0 in roots_wanted:
        roots_found[0] = compact.root()
    wanted_sizes = sorted(s for s in roots_wanted if 0 < s <= size)
    missing: list[int] = []
    changed: list[int] = []
    bad_hash: list[int] = []
    # The next chunk's leaves and records are read (by the engine, which releases the GIL) while
    # this one is hashed and compared.
    chunks = list(iter_chunks(0, size, chunk))
    with ThreadPoolExecutor(max_workers=1) as reader:

        def read(bounds: tuple[int, int]) -> tuple[list[tuple[int, bytes, bytes]], dict[int, bytes]]:
            return tables.leaves(*bounds), tables.record_entries(*bounds)

        pending = reader.submit(read, chunks[0]) if chunks else None
        for number, (start, end) in enumerate(chunks):
            assert pending is not None
            leaves, records = pending.result()
            pending = reader.submit(read, chunks[number + 1]) if number + 1 < len(chunks) else None
            entries = [entry for _, entry, _ in leaves]
            recomputed = leaf_hashes(entries)
            append = compact.append
            for (index, entry, stored_hash), computed in zip(leaves, recomputed):
                if stored_hash != computed:
                    bad_hash.append(index)
                found = records.pop(index, None)
                if found is not None and found == entry:
                    audit.records += 1
                else:
                    parsed = parse_entry(entry) if len(entry) == 41 else None
                    if found is not None:
                        audit.records += 1
                        changed.append(index)
                    elif parsed is None:
                        audit.void += 1
                    elif parsed[0] <= now:
                        audit.expired += 1
                    else:
                        missing.append(index)
                # The tree is rebuilt from the entries themselves, not the stored hashes.
                append(computed)
                if wanted_sizes and compact.size == wanted_sizes[0]:
                    roots_found[compact.size] = compact.root()
                    wanted_sizes.pop(0)
            if progress is not None:
                progress(f"{origin}: {end} of {size} leaves")
    audit.root = compact.root()
    if bad_hash:
        audit.problem(f"{len(bad_hash)} stored leaf hash(es) do not hash their entry, at {_indices(bad_hash)}")
    if missing:
        audit.problem(f"{len(missing)} record(s) missing before their retention ended, at {_indices(missing)}")
    if changed:
        audit.problem(f"{len(changed)} record(s) changed since they were logged, at {_indices(changed)}")
    beyond = store.query_rows(
        f"SELECT LeafIndex FROM {RECORDS_TABLE} WHERE LogOrigin = {{o:String}} AND LeafIndex >= {{n:UInt64}} "
        f"ORDER BY LeafIndex LIMIT {_SAMPLE}",
        {"o": origin, "n": size},
    )
    if beyond:
        audit.problem(f"record(s) without a leaf (index {_indices(i for (i,) in beyond)} and up, the log has {size})")
    for size_c, root_c in sorted(roots_wanted.items()):
        if size_c in roots_found and roots_found[size_c] != root_c:
            audit.problem(f"the leaves do not give the root of the checkpoint of size {size_c} (the log was rewritten)")
    return audit


def _indices(values: Iterable[int]) -> str:
    items = [int(v) for v in values]
    text = ", ".join(str(i) for i in items[:_SAMPLE])
    return text + (", ..." if len(items) > _SAMPLE else "")

