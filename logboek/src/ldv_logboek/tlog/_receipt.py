"""Receipts: C2SP tlog-proof (`c2sp.org/tlog-proof@v1`) for one record's entry.

    c2sp.org/tlog-proof@v1
    extra <base64 of the record's 41-byte log entry>
    index <leaf index>
    <inclusion proof, one base64 hash per line, leaf side first>

    <the checkpoint, signed by the log and cosigned by witnesses>

The `extra` line carries the entry, so the receipt verifies offline: the leaf hash is
SHA-256(0x00 || entry). Whoever also holds the record and its salt (the citizen's overview)
checks that the entry commits to it (`record_entry`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from ldv_logboek.errors import NoteError
from ldv_logboek.tlog._leaf import ENTRY_SIZE
from ldv_logboek.tlog._merkle import HASH_SIZE, leaf_hash, verify_inclusion
from ldv_logboek.tlog._note import Checkpoint, Verifier, parse_note

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class Receipt:
    """A parsed receipt (nothing verified yet)."""

    entry: bytes
    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str

    def serialize(self) -> str:
        lines = [HEADER, f"extra {base64.b64encode(self.entry).decode()}", f"index {self.index}"]
        lines += [base64.b64encode(p).decode() for p in self.proof]
        return "\n".join(lines) + "\n\n" + self.checkpoint_note

    @classmethod
    def parse(cls, text: str) -> Receipt:
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise NoteError("a receipt has an empty line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise NoteError(f"a receipt starts with {HEADER}")
        rest = lines[1:]
        if not rest or not rest[0].startswith("extra "):
            raise NoteError("this suite's receipts carry the entry on an `extra` line")
        try:
            entry = base64.b64decode(rest[0][6:], validate=True)
            if not rest[1].startswith("index ") or not rest[1][6:].isdigit():
                raise NoteError("a receipt's index line is `index <n>`")
            index = int(rest[1][6:])
            proof = tuple(base64.b64decode(line, validate=True) for line in rest[2:])
        except (binascii.Error, ValueError, IndexError) as exc:
            raise NoteError("a receipt line is not base64 or is missing") from exc
        if len(entry) != ENTRY_SIZE or any(len(p) != HASH_SIZE for p in proof):
            raise NoteError("a receipt's entry is 41 bytes and its proof 32-byte hashes")
        return cls(entry, index, proof, note)


def verify_receipt(text: str, log: Verifier, witnesses: Sequence[Verifier] = (), min_witnesses: int = 0) -> tuple[Checkpoint, Receipt, list[str]]:
    """Check a receipt: the log's signature, the witnesses' cosignatures (at least `min_witnesses`
    of `witnesses` verify), and the entry's inclusion in the checkpoint's tree. Returns the
    checkpoint, the receipt and the names of the witnesses that cosigned; NoteError otherwise."""
    receipt = Receipt.parse(text)
    note = parse_note(receipt.checkpoint_note)
    if note.signed_by(log) is None:
        raise NoteError(f"the receipt's checkpoint is not signed by {log.name}")
    checkpoint = Checkpoint.from_text(note.text)
    cosigned = [w.name for w in witnesses if note.signed_by(w) is not None]
    if len(cosigned) < min_witnesses:
        raise NoteError(f"cosigned by {len(cosigned)} of the witnesses given, {min_witnesses} needed")
    if not verify_inclusion(receipt.index, checkpoint.size, leaf_hash(receipt.entry), receipt.proof, checkpoint.root):
        raise NoteError(f"the entry is not at index {receipt.index} of the checkpoint's tree")
    return checkpoint, receipt, cosigned
