"""Receipts for the records a reader may read, and their check against configured keys.

The read API's proof route and the citizen's inzage hand out, for a record the caller has
already been allowed to read, a C2SP tlog-proof receipt of its leaf (`ldv_logboek.tlog.Receipt`)
in the newest checkpoint of its log, with the witnesses' cosignatures. The inzage also checks
every receipt here, against the verifier keys and witness keys it is configured with
(`InzageSettings.log_keys`, `InzageSettings.witnesses`), and checks that the receipt's entry is
the one the stored record gives (so the record shown is the record logged): the page claims
only what this check found.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from ldv_logboek.storage import LogStore, LogTables, StoredTree, leaf_entries, record_positions, stored_entries
from ldv_logboek.tlog import (
    Checkpoint,
    LogIntegrityError,
    NoteError,
    Receipt,
    RecordOpening,
    Verifier,
    cosignature_time,
    inclusion_proof,
    leaf_hash,
    node_in_tiles,
    parse_note,
    perfect_root,
    verify_inclusion,
)


class _AnswerTree:
    """The stored tree at one size for the proofs of one answer: every node memoised, and every
    tile read once, partial ones too (at a fixed size a partial tile does not change), so the
    proofs of many neighbouring leaves share their reads (StoredTree keeps only full tiles)."""

    def __init__(self, tree: StoredTree):
        self._tree = tree
        self._tiles: dict[tuple[int, int], list[bytes]] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        found = self._nodes.get(key)
        if found is None:
            tile_level, tile_index, offset, span = node_in_tiles(level, index)
            tile_key = (tile_level, tile_index)
            if tile_key not in self._tiles:
                self._tiles[tile_key] = self._tree.tile(*tile_key)
            hashes = self._tiles[tile_key][offset : offset + span]
            if len(hashes) != span:
                raise LogIntegrityError(f"node ({level}, {index}) is not in the stored tree")
            found = self._nodes[key] = perfect_root(hashes)
        return found


@dataclass(frozen=True)
class RecordReceipt:
    """A record's place in a log, its receipt (None: not yet in a signed checkpoint) and, when
    asked for, the entry its stored record gives now (None: not asked, or the record is gone)."""

    origin: str
    index: int
    receipt: str | None
    stored_entry: bytes | None = None


class ReceiptMaker:
    """Builds receipts from the store's log tables; one cached tree per origin (full tiles
    never change, so their cache is kept while the tree grows). The reads are per answer, not
    per record: positions, leaf entries and stored records each in one query (per 500)."""

    def __init__(self, store: LogStore):
        self.store = store
        self._trees: dict[str, StoredTree] = {}
        self._lock = threading.Lock()

    def _tree(self, origin: str, size: int) -> StoredTree:
        with self._lock:
            tree = self._trees.get(origin)
            if tree is None or tree.size != size:
                tables = LogTables(self.store, origin)
                tree = StoredTree(tables, size, cache_tiles=1024) if tree is None or tree.size > size else tree.grown(size)
                self._trees[origin] = tree
            return tree

    def for_records(
        self, ids: Iterable[tuple[bytes, bytes]], *, with_stored: bool = False
    ) -> dict[tuple[bytes, bytes], RecordReceipt]:
        """The receipt of each logged record among `ids` ((trace id, span id)) in the newest
        checkpoint of its log (one checkpoint per log for the whole answer); records in no log are
        left out. `with_stored`: also the entry each stored record gives now. The caller must
        have checked that it may read these records."""
        positions = record_positions(self.store, ids)
        by_origin: dict[str, dict[tuple[bytes, bytes], int]] = {}
        for key, (origin, index) in positions.items():
            by_origin.setdefault(origin, {})[key] = index
        out: dict[tuple[bytes, bytes], RecordReceipt] = {}
        for origin, indices in by_origin.items():
            latest = LogTables(self.store, origin).latest_checkpoint()
            covered = {key: i for key, i in indices.items() if latest is not None and i < latest[0]}
            entries = leaf_entries(self.store, origin, covered.values()) if covered else {}
            stored = (
                stored_entries(self.store, origin, {i: key[0] for key, i in covered.items()}) if with_stored and covered else {}
            )
            tree = _AnswerTree(self._tree(origin, latest[0])) if latest is not None else None
            for key, index in indices.items():
                receipt = None
                if latest is not None and tree is not None and index in entries:
                    size, _, note = latest
                    proof = tuple(inclusion_proof(tree, index, size))
                    receipt = Receipt(entries[index], index, proof, note).serialize()
                out[key] = RecordReceipt(origin, index, receipt, stored.get(index))
        return out

    def opening(self, found: RecordReceipt) -> RecordOpening | None:
        """The opening (salt and stored values) of the record at `found`'s leaf; None when the
        record is gone (past its retention). The caller must have checked that it may read it."""
        rows = LogTables(self.store, found.origin).records_from(found.index, found.index + 1)
        return RecordOpening(rows[0][1], tuple(rows[0][2])) if rows else None


@dataclass(frozen=True)
class CheckedReceipt:
    """What a receipt's check found: `ok` only when every check held."""

    ok: bool
    origin: str
    size: int = 0
    witnesses: tuple[str, ...] = ()  # the display names of the witnesses that cosigned
    cosigned_at: datetime | None = None  # the newest of those cosignatures
    reason: str = ""


@dataclass(frozen=True)
class _CheckedNote:
    checkpoint: Checkpoint | None
    witnesses: tuple[str, ...] = ()
    cosigned_at: datetime | None = None
    reason: str = ""


@lru_cache(maxsize=64)
def _check_note(note_text: str, log_vkeys: tuple[str, ...], witness_vkeys: tuple[tuple[str, str], ...]) -> _CheckedNote:
    """The checkpoint note's signature by the log key of its origin and its cosignatures: the
    same for every receipt of one answer (one checkpoint per log), so checked once."""
    try:
        note = parse_note(note_text)
        checkpoint = Checkpoint.from_text(note.text)
    except NoteError as exc:
        return _CheckedNote(None, reason=str(exc))
    key = next((k for k in map(Verifier.parse, log_vkeys) if k.name == checkpoint.origin), None)
    if key is None:
        return _CheckedNote(None, reason="no verifier key configured for this log")
    if note.signed_by(key) is None:
        return _CheckedNote(None, reason=f"the checkpoint is not signed by {key.name}")
    cosigned = [(name, s) for name, vkey in witness_vkeys if (s := note.signed_by(Verifier.parse(vkey))) is not None]
    if witness_vkeys and not cosigned:
        return _CheckedNote(None, reason="no configured witness cosigned the checkpoint")
    times = [cosignature_time(signature) for _, signature in cosigned]
    names = tuple(name for name, _ in cosigned)
    return _CheckedNote(checkpoint, names, datetime.fromtimestamp(max(times), UTC) if times else None)


def check_receipt(
    text: str,
    log_keys: tuple[str, ...],
    witnesses: Mapping[str, str],
    stored_entry: bytes | None,
) -> CheckedReceipt:
    """Check `text` against the log key of its origin among `log_keys`, the `witnesses` (display
    name -> cosignature key; at least one must have cosigned when any is configured), the
    inclusion proof and the entry the stored record gives."""
    try:
        receipt = Receipt.parse(text)
        origin = Checkpoint.from_text(parse_note(receipt.checkpoint_note).text).origin
    except NoteError as exc:
        return CheckedReceipt(False, "", reason=str(exc))
    note = _check_note(receipt.checkpoint_note, log_keys, tuple(witnesses.items()))
    if note.checkpoint is None:
        return CheckedReceipt(False, origin, reason=note.reason)
    checkpoint = note.checkpoint
    if not verify_inclusion(receipt.index, checkpoint.size, leaf_hash(receipt.entry), receipt.proof, checkpoint.root):
        return CheckedReceipt(False, origin, checkpoint.size, reason=f"the entry is not at index {receipt.index}")
    if stored_entry is None or stored_entry != receipt.entry:
        return CheckedReceipt(False, origin, checkpoint.size, reason="the stored record does not give the logged entry")
    return CheckedReceipt(True, origin, checkpoint.size, note.witnesses, note.cosigned_at)
