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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ldv_logboek.storage import LogStore, LogTables, StoredTree, record_positions
from ldv_logboek.tlog import (
    Checkpoint,
    NoteError,
    Receipt,
    Verifier,
    cosignature_time,
    inclusion_proof,
    parse_note,
    verify_receipt,
)


@dataclass(frozen=True)
class RecordReceipt:
    """A record's place in a log and its receipt (None: not yet in a signed checkpoint)."""

    origin: str
    index: int
    receipt: str | None


class ReceiptMaker:
    """Builds receipts from the store's log tables; one cached tree per origin (full tiles
    never change, so their cache is kept while the tree grows)."""

    def __init__(self, store: LogStore):
        self.store = store
        self._trees: dict[str, StoredTree] = {}
        self._lock = threading.Lock()

    def receipt(self, origin: str, index: int, latest: tuple[int, bytes, str] | None = None) -> str | None:
        """The receipt of leaf `index` of `origin` in its newest checkpoint (or in `latest`, one
        already read); None if not covered yet."""
        tables = LogTables(self.store, origin)
        latest = latest or tables.latest_checkpoint()
        if latest is None or index >= latest[0]:
            return None
        size, _, note = latest
        with self._lock:
            tree = self._trees.get(origin)
            if tree is None or tree.size != size:
                tree = StoredTree(tables, size, cache_tiles=1024) if tree is None or tree.size > size else tree.grown(size)
                self._trees[origin] = tree
        leaves = tables.leaves(index, index + 1)
        if not leaves:
            return None
        return Receipt(leaves[0][1], index, tuple(inclusion_proof(tree, index, size)), note).serialize()

    def for_records(self, ids: Iterable[tuple[bytes, bytes]]) -> dict[tuple[bytes, bytes], RecordReceipt]:
        """The receipt of each logged record among `ids` ((trace id, span id)); records in no log
        are left out. The caller must have checked that it may read these records."""
        positions = record_positions(self.store, ids)
        # One checkpoint per log for the whole answer: every receipt of one overview is against it.
        latest = {origin: LogTables(self.store, origin).latest_checkpoint() for origin, _ in positions.values()}
        return {
            key: RecordReceipt(origin, index, self.receipt(origin, index, latest[origin]) if latest[origin] else None)
            for key, (origin, index) in positions.items()
        }

    def stored_entry(self, origin: str, index: int) -> bytes | None:
        """The entry recomputed from the stored record at `index` (None: no such record)."""
        return LogTables(self.store, origin).record_entries(index, index + 1).get(index)


@dataclass(frozen=True)
class CheckedReceipt:
    """What a receipt's check found: `ok` only when every check held."""

    ok: bool
    origin: str
    size: int = 0
    witnesses: tuple[str, ...] = ()  # the display names of the witnesses that cosigned
    cosigned_at: datetime | None = None  # the newest of those cosignatures
    reason: str = ""


def check_receipt(
    text: str,
    log_keys: Sequence[Verifier],
    witnesses: Mapping[str, Verifier],
    stored_entry: bytes | None,
) -> CheckedReceipt:
    """Check `text` against the log key of its origin among `log_keys`, the `witnesses` (display
    name -> cosignature key; at least one must have cosigned when any is configured) and the
    entry the stored record gives."""
    try:
        receipt = Receipt.parse(text)
        origin = Checkpoint.from_text(parse_note(receipt.checkpoint_note).text).origin
    except NoteError as exc:
        return CheckedReceipt(False, "", reason=str(exc))
    key = next((k for k in log_keys if k.name == origin), None)
    if key is None:
        return CheckedReceipt(False, origin, reason="no verifier key configured for this log")
    try:
        checkpoint, receipt, _ = verify_receipt(text, key)
    except NoteError as exc:
        return CheckedReceipt(False, origin, reason=str(exc))
    if stored_entry is None or stored_entry != receipt.entry:
        return CheckedReceipt(False, origin, checkpoint.size, reason="the stored record does not give the logged entry")
    note = parse_note(receipt.checkpoint_note)
    names: list[str] = []
    times: list[int] = []
    for name, verifier in witnesses.items():
        signature = note.signed_by(verifier)
        if signature is not None:
            names.append(name)
            times.append(cosignature_time(signature))
    if witnesses and not names:
        return CheckedReceipt(False, origin, checkpoint.size, reason="no configured witness cosigned the checkpoint")
    at = datetime.fromtimestamp(max(times), UTC) if times else None
    return CheckedReceipt(True, origin, checkpoint.size, tuple(names), at)
