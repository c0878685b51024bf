"""The decision of a C2SP tlog-witness `add-checkpoint` call (c2sp.org/tlog-witness), without I/O.

`AddCheckpoint.parse(body)` reads the request (`old <size>`, proof lines, an empty line, the
signed checkpoint); `decide(request, logs, latest)` says what the witness answers:

    200  cosign: the checkpoint is signed by the origin's key and consistent with the last one
    400  malformed request, or old size above the checkpoint's size
    403  no verifying signature of the origin's key (or one by that key fails)
    404  unknown origin
    409  old size is not the size of the last checkpoint cosigned (body: that size, text/x.tlog.size)
    422  the consistency proof does not verify, a proof with old size 0, the same size with
         another root, or a size-0 checkpoint whose root is not the empty tree's

The caller persists the new (size, root) and answers atomically with this decision (one lock).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from ldv_logboek.errors import NoteError
from ldv_logboek.tlog._merkle import HASH_SIZE, verify_consistency
from ldv_logboek.tlog._note import Checkpoint, Note, Verifier, parse_note

MAX_PROOF_LINES = 63


@dataclass(frozen=True)
class AddCheckpoint:
    """An add-checkpoint request as read."""

    old_size: int
    proof: tuple[bytes, ...]
    note_text: str  # the signed checkpoint as sent

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """NoteError when the body is not an add-checkpoint request."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("the request is UTF-8") from exc
        head, sep, checkpoint = text.partition("\n\n")
        if not sep:
            raise NoteError("the request has an empty line before the checkpoint")
        lines = head.split("\n")
        first = lines[0]
        if not first.startswith("old "):
            raise NoteError("the request starts with 'old <size>'")
        size_text = first[4:]
        if not size_text.isdigit() or not size_text.isascii() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError("the old size is a decimal number without leading zeroes")
        proof_lines = lines[1:]
        if len(proof_lines) > MAX_PROOF_LINES:
            raise NoteError(f"at most {MAX_PROOF_LINES} proof lines")
        proof = []
        for line in proof_lines:
            try:
                digest = base64.b64decode(line, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise NoteError("a proof line is a base64 hash") from exc
            if len(digest) != HASH_SIZE:
                raise NoteError("a proof line is a 32-byte hash")
            proof.append(digest)
        return cls(int(size_text), tuple(proof), checkpoint)


@dataclass(frozen=True)
class Decision:
    """What the witness answers: the HTTP status, and on 200 the checkpoint to cosign and record."""

    status: int
    reason: str
    checkpoint: Checkpoint | None = None
    note: Note | None = None
    latest_size: int | None = None  # on 409: the size the witness last cosigned


def decide(request: AddCheckpoint, logs: Mapping[str, Verifier], latest: Mapping[str, tuple[int, bytes]]) -> Decision:
    """The witness's answer to `request`, given the log keys it trusts by origin and the last
    (size, root) it cosigned per origin."""
    try:
        note = parse_note(request.note_text)
    except NoteError as exc:
        return Decision(400, f"not a signed note: {exc}")
    origin = note.text.split("\n", 1)[0]
    verifier = logs.get(origin)
    if verifier is None:
        return Decision(404, f"unknown log origin {origin!r}")
    try:
        if note.signed_by(verifier) is None:
            return Decision(403, "no signature of the log's key")
    except NoteError as exc:
        return Decision(403, str(exc))
    try:
        checkpoint = Checkpoint.from_text(note.text)
    except NoteError as exc:
        # A size-0 checkpoint with another root than the empty tree's is 422 by the spec.
        if "empty tree" in str(exc):
            return Decision(422, str(exc))
        return Decision(400, f"not a checkpoint: {exc}")
    if request.old_size > checkpoint.size:
        return Decision(400, "old size above the checkpoint's size")
    last_size, last_root = latest.get(origin, (0, b""))
    if request.old_size != last_size:
        return Decision(409, f"the last checkpoint cosigned has size {last_size}", latest_size=last_size)
    if request.old_size == 0:
        if request.proof:
            return Decision(422, "a proof from size 0 is empty")
    elif request.old_size == checkpoint.size:
        if request.proof or checkpoint.root != last_root:
            return Decision(422, "same size, another root: the log forked")
    elif not verify_consistency(request.old_size, checkpoint.size, last_root, checkpoint.root, request.proof):
        return Decision(422, "the consistency proof does not verify: the log is not an extension of what was cosigned")
    return Decision(200, "cosigned", checkpoint, note)
