"""C2SP signed notes (c2sp.org/signed-note), checkpoints (c2sp.org/tlog-checkpoint) and Ed25519
cosignatures (c2sp.org/tlog-cosignature, `cosignature/v1`).

Keys:

- a *verifier key* (vkey) is `<name>+<hex key ID>+<base64(type || public key)>`, type 0x01 for a
  log's Ed25519 key and 0x04 for a witness's Ed25519 cosigning key;
- a *signer key* is the same with `PRIVATE+KEY+` in front and the 32-byte Ed25519 seed in place
  of the public key (the form Go's golang.org/x/mod/sumdb/note uses, so keys move between tools);
- the key ID is SHA-256(name || 0x0A || type || public key)[:4].

A note is text ending in a newline, an empty line, then one line per signature:
`— <name> <base64(key ID || signature)>`. A checkpoint is a note whose text is the origin, the
tree size and the base64 root hash, one per line. A cosignature v1 signs
`cosignature/v1\\ntime <t>\\n` + the checkpoint text, and its signature bytes are the key ID, the
timestamp (u64 big-endian) and the Ed25519 signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ldv_logboek.errors import NoteError
from ldv_logboek.tlog._merkle import EMPTY_ROOT, HASH_SIZE

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SIGNATURE_DASH = "\u2014 "
_PRIVATE_PREFIX = "PRIVATE+KEY+"
MAX_SIGNATURES = 64


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or any(ord(c) < 0x20 for c in name):
        raise NoteError(f"invalid key name {name!r}: non-empty, without spaces or '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not base64") from exc


@dataclass(frozen=True)
class Verifier:
    """A public key that checks signatures of one name and type (log 0x01, cosigner 0x04)."""

    name: str
    sig_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.public_key)

    @property
    def vkey(self) -> str:
        """`<name>+<hex key ID>+<base64(type || public key)>`."""
        material = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Read a vkey; NoteError when it is malformed or its key ID does not match."""
        name, hex_id, material = _key_parts(vkey.strip(), "verifier", "<name>+<hex key ID>+<base64 key>")
        verifier = cls(name, material[0], material[1:])
        if verifier.key_id.hex() != hex_id.lower() or len(hex_id) != 8:
            raise NoteError(f"the key ID {hex_id} of verifier key {name} does not match its key")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def _key_parts(text: str, kind: str, form: str) -> tuple[str, str, bytes]:
    """`<name>+<hex key ID>+<base64(type || key)>` of a verifier or signer key: (name, hex key ID,
    type byte and 32 key bytes); NoteError when malformed. The caller checks the key ID."""
    parts = text.split("+", 2)  # base64 may hold "+"
    if len(parts) != 3:
        raise NoteError(f"a {kind} key is {form}")
    name, hex_id, material_b64 = parts
    _check_name(name)
    material = _b64decode(material_b64, f"the {kind} key")
    if len(material) != 33 or material[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError(f"only Ed25519 {kind} keys (type 0x01 or 0x04) are supported")
    return name, hex_id, material


@dataclass(frozen=True)
class Signer:
    """A private Ed25519 key with its name and type: signs notes (0x01) or cosignatures (0x04)."""

    name: str
    sig_type: int
    seed: bytes

    @classmethod
    def generate(cls, name: str, sig_type: int = ED25519) -> Signer:
        """A new random key for `name`."""
        _check_name(name)
        key = Ed25519PrivateKey.generate()
        return cls(name, sig_type, key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def parse(cls, text: str) -> Signer:
        """Read `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`; NoteError when malformed."""
        text = text.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        name, hex_id, material = _key_parts(
            text[len(_PRIVATE_PREFIX) :], "signer", "PRIVATE+KEY+<name>+<hex key ID>+<base64 key>"
        )
        signer = cls(name, material[0], material[1:])
        if signer.verifier.key_id.hex() != hex_id.lower():
            raise NoteError(f"the key ID {hex_id} of signer key {name} does not match its key")
        return signer

    def __repr__(self) -> str:  # never show the seed
        return f"Signer(name={self.name!r}, sig_type={self.sig_type}, key_id={self.verifier.key_id.hex()})"

    @property
    def text(self) -> str:
        """The key as `PRIVATE+KEY+...` text (a secret)."""
        material = base64.b64encode(bytes([self.sig_type]) + self.seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{material}"

    @property
    def verifier(self) -> Verifier:
        public_key = self._key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, self.sig_type, public_key)

    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def sign(self, message: bytes) -> bytes:
        """The raw Ed25519 signature of `message`."""
        return self._key().sign(message)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        return f"{SIGNATURE_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A note's text (ending in a newline) and its signature lines, as read; nothing verified yet."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def serialize(self) -> str:
        return self.text + "\n" + "".join(s.line for s in self.signatures)

    def signed_by(self, verifier: Verifier) -> NoteSignature | None:
        """This note's signature by `verifier` when it verifies; NoteError when one by that key fails."""
        found = None
        for sig in self.signatures:
            if sig.name != verifier.name or sig.key_id != verifier.key_id:
                continue
            message = self.text.encode()
            body = sig.signature
            if verifier.sig_type == COSIGNATURE_V1:
                if len(body) != 8 + 64:
                    raise NoteError(f"cosignature of {verifier.name} is not 72 bytes")
                (timestamp,) = struct.unpack(">Q", body[:8])
                message = cosigned_message(self.text, timestamp)
                body = body[8:]
            if not verifier.verify(message, body):
                raise NoteError(f"the signature of {verifier.name} does not verify")
            found = sig
        return found

    def with_signatures(self, extra: tuple[NoteSignature, ...]) -> Note:
        """This note with `extra` signatures added (those already present kept once)."""
        have = {(s.name, s.key_id, s.signature) for s in self.signatures}
        added = tuple(s for s in extra if (s.name, s.key_id, s.signature) not in have)
        return Note(self.text, self.signatures + added)


def parse_signature_lines(text: str) -> tuple[NoteSignature, ...]:
    """Signature lines (`— name base64`), each ending in a newline; NoteError when malformed."""
    out: list[NoteSignature] = []
    if text and not text.endswith("\n"):
        raise NoteError("a signature line ends in a newline")
    for line in text.splitlines():
        if not line.startswith(SIGNATURE_DASH):
            raise NoteError("a signature line starts with an em dash and a space")
        parts = line[len(SIGNATURE_DASH) :].split(" ")
        if len(parts) != 2:
            raise NoteError("a signature line is '— <name> <base64 signature>'")
        name, sig_b64 = parts
        _check_name(name)
        raw = _b64decode(sig_b64, "a signature")
        if len(raw) < 5:
            raise NoteError("a signature is a key ID and at least one byte")
        out.append(NoteSignature(name, raw[:4], raw[4:]))
        if len(out) > MAX_SIGNATURES:
            raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    return tuple(out)


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signatures; NoteError when it is not one."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("a note is UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise NoteError("a note holds no control characters but newlines")
    cut = data.rfind("\n\n")
    if cut < 0:
        raise NoteError("a note has an empty line before its signatures")
    text, sigs = data[: cut + 1], data[cut + 2 :]
    signatures = parse_signature_lines(sigs)
    if not signatures:
        raise NoteError("a note has at least one signature")
    return Note(text, signatures)


def sign_note(text: str, signer: Signer) -> Note:
    """`text` (ending in a newline) signed by `signer` (type 0x01)."""
    if not text.endswith("\n"):
        raise NoteError("a note's text ends in a newline")
    sig = NoteSignature(signer.name, signer.verifier.key_id, signer.sign(text.encode()))
    return Note(text, (sig,))


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a `cosignature/v1` signs: the header line, the time line, the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def cosign(checkpoint_text: str, signer: Signer, timestamp: int) -> NoteSignature:
    """A `cosignature/v1` by `signer` (type 0x04) at `timestamp` (POSIX seconds)."""
    if signer.sig_type != COSIGNATURE_V1:
        raise NoteError("a cosignature needs a cosigner key (type 0x04)")
    if not 0 < timestamp < 2**63:
        raise NoteError("a cosignature's timestamp is positive and below 2**63")
    signature = signer.sign(cosigned_message(checkpoint_text, timestamp))
    return NoteSignature(signer.name, signer.verifier.key_id, struct.pack(">Q", timestamp) + signature)


def cosignature_time(sig: NoteSignature) -> int:
    """The timestamp of a cosignature v1 line."""
    if len(sig.signature) != 72:
        raise NoteError("a cosignature is 72 bytes after the key ID")
    return int(struct.unpack(">Q", sig.signature[:8])[0])


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and root hash (c2sp.org/tlog-checkpoint), without signatures."""

    origin: str
    size: int
    root: bytes

    @property
    def text(self) -> str:
        """The note text: three lines, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Read a checkpoint's note text (extension lines are not used by this log: refused)."""
        lines = text.split("\n")
        if len(lines) != 4 or lines[3] != "":
            raise NoteError("a checkpoint is three lines: origin, size, root hash")
        origin, size_text, root_b64 = lines[:3]
        if not origin:
            raise NoteError("a checkpoint's origin is not empty")
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")) or not size_text.isascii():
            raise NoteError("a checkpoint's size is a decimal number without leading zeroes")
        root = _b64decode(root_b64, "the root hash")
        if len(root) != HASH_SIZE:
            raise NoteError("a root hash is 32 bytes")
        size = int(size_text)
        if size == 0 and root != EMPTY_ROOT:
            raise NoteError("the empty tree's root is SHA-256 of nothing")
        return cls(origin, size, root)


def open_checkpoint(data: str | bytes, log: Verifier) -> tuple[Checkpoint, Note]:
    """A checkpoint signed by `log`, verified; NoteError when it is not.

    The origin must be the log key's name (this suite always names its key after the origin).
    """
    note = parse_note(data)
    if note.signed_by(log) is None:
        raise NoteError(f"the checkpoint is not signed by {log.name} ({log.key_id.hex()})")
    checkpoint = Checkpoint.from_text(note.text)
    if checkpoint.origin != log.name:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not the key's name {log.name!r}")
    return checkpoint, note


def load_signer(value: str, sig_type: int = ED25519) -> Signer:
    """A signer key given as its `PRIVATE+KEY+...` text or as the path of a file holding it."""
    text = value.strip()
    if not text.startswith(_PRIVATE_PREFIX):
        try:
            text = Path(text).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise NoteError(f"the signer key is neither PRIVATE+KEY+... text nor a readable file ({exc.strerror})") from exc
    signer = Signer.parse(text)
    if signer.sig_type != sig_type:
        raise NoteError(f"the key {signer.name} is of type {signer.sig_type}, not {sig_type}")
    return signer
