"""The canonical encoding of a stored record and the log entry that commits to it (version 1).

Defined once, here; docs/architecture.md ("The transparency log") gives it byte for byte.

A record is the values of RECORD_FIELDS, the stored columns of `otel_traces` that the writer
inserts (the insert schema) plus RetentionDays, in this order. Each value is encoded as:

    string   u32 length (big-endian) || UTF-8 bytes
    int64    8 bytes, big-endian two's complement      (Timestamp, Events.Timestamp: ns since the epoch)
    uint64   8 bytes, big-endian                       (Duration, ns)
    uint16   2 bytes, big-endian                       (RetentionDays)
    map      u32 count || (string key || string value) per entry, in stored order
    list     u32 count || each element

    record digest = SHA-256("ldv/record/v1\\n" || salt || encoding of every field)
    entry         = 0x01 || u64 expires_at (big-endian) || record digest          41 bytes
    void entry    = 0x00 || 40 zero bytes                                          41 bytes
    leaf hash     = SHA-256(0x00 || entry)                                         (RFC 9162)

`salt` is 16 random bytes per record, stored with it (column `LeafSalt`): a published entry or
leaf hash reveals nothing about the record, not even whether a guessed record is in the log.
`expires_at` is when the store may remove the record (its TTL): the record's Timestamp in whole
seconds plus RetentionDays × 86,400, in POSIX seconds. It is in the entry, so an auditor can
tell an expired record from a missing one with the record gone, and no one can move it
without changing the leaf. A void entry holds an index that a batch reserved and never stored
(a failed insert, a crash before the insert): never acknowledged, so no record is missing there.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from ldv_logboek.errors import ProofError

SALT_SIZE = 16
ENTRY_SIZE = 41
RECORD_TAG = b"ldv/record/v1\n"
ENTRY_RECORD = 0x01
ENTRY_VOID = 0x00
VOID_ENTRY = bytes(ENTRY_SIZE)
SECONDS_PER_DAY = 86_400

# (column, kind) in encoding order. Kinds: str, i64, u64, u16, map, list<...>.
RECORD_FIELDS: tuple[tuple[str, str], ...] = (
    ("Timestamp", "i64"),
    ("TraceId", "str"),
    ("SpanId", "str"),
    ("ParentSpanId", "str"),
    ("TraceState", "str"),
    ("SpanName", "str"),
    ("SpanKind", "str"),
    ("ServiceName", "str"),
    ("ResourceAttributes", "map"),
    ("ScopeName", "str"),
    ("ScopeVersion", "str"),
    ("SpanAttributes", "map"),
    ("Duration", "u64"),
    ("StatusCode", "str"),
    ("StatusMessage", "str"),
    ("Events.Timestamp", "list<i64>"),
    ("Events.Name", "list<str>"),
    ("Events.Attributes", "list<map>"),
    ("Links.TraceId", "list<str>"),
    ("Links.SpanId", "list<str>"),
    ("Links.TraceState", "list<str>"),
    ("Links.Attributes", "list<map>"),
    ("RetentionDays", "u16"),
)
FIELD_NAMES = tuple(name for name, _ in RECORD_FIELDS)

_u32 = struct.Struct(">I").pack
_i64 = struct.Struct(">q").pack
_u64 = struct.Struct(">Q").pack
_u16 = struct.Struct(">H").pack
_sha256 = hashlib.sha256


def _str(value: str) -> bytes:
    data = value.encode()
    return _u32(len(data)) + data


def _map(value: Iterable[tuple[str, str]] | dict[str, str]) -> bytes:
    items = list(value.items()) if isinstance(value, dict) else list(value)
    return _u32(len(items)) + b"".join(_str(k) + _str(v) for k, v in items)


_SCALAR = {"str": _str, "i64": _i64, "u64": _u64, "u16": _u16, "map": _map}


def _encoder(kind: str) -> Any:
    if kind.startswith("list<"):
        inner = _SCALAR[kind[5:-1]]
        return lambda values: _u32(len(values)) + b"".join(inner(v) for v in values)
    return _SCALAR[kind]


_ENCODERS = tuple(_encoder(kind) for _, kind in RECORD_FIELDS)


def encode_record(values: Sequence[Any]) -> bytes:
    """The canonical encoding of one record: `values` in RECORD_FIELDS order.

    Strings as `str`, integers as `int`, maps as a dict or a list of (key, value) pairs in
    stored order, lists as lists.
    """
    if len(values) != len(RECORD_FIELDS):
        raise ProofError(f"a record has {len(RECORD_FIELDS)} fields, not {len(values)}")
    return b"".join(encode(v) for encode, v in zip(_ENCODERS, values))


def record_digest(salt: bytes, values: Sequence[Any]) -> bytes:
    """SHA-256("ldv/record/v1\\n" || salt || encode_record(values))."""
    if len(salt) != SALT_SIZE:
        raise ProofError(f"a salt is {SALT_SIZE} bytes")
    return _sha256(RECORD_TAG + salt + encode_record(values)).digest()


def expires_at(timestamp_ns: int, retention_days: int) -> int:
    """When the store may remove a record: its time in whole seconds plus its retention (POSIX s)."""
    return max(0, timestamp_ns // 1_000_000_000 + retention_days * SECONDS_PER_DAY)


def record_entry(salt: bytes, values: Sequence[Any]) -> bytes:
    """The log entry of a stored record (41 bytes)."""
    timestamp_ns = values[0]
    retention = values[-1]
    return bytes([ENTRY_RECORD]) + _u64(expires_at(timestamp_ns, retention)) + record_digest(salt, values)


def parse_entry(entry: bytes) -> tuple[int, bytes] | None:
    """(expires_at, record digest) of a record entry; None for a void entry; ProofError otherwise."""
    if len(entry) != ENTRY_SIZE:
        raise ProofError(f"an entry is {ENTRY_SIZE} bytes")
    if entry == VOID_ENTRY:
        return None
    if entry[0] != ENTRY_RECORD:
        raise ProofError("unknown entry type")
    return int(struct.unpack(">Q", entry[1:9])[0]), entry[9:]


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    """SHA-256(0x00 || entry) of each entry (the RFC 9162 leaf hashes)."""
    return [_sha256(b"\x00" + e).digest() for e in entries]
