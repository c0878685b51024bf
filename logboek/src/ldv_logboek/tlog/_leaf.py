"""The canonical encoding of a stored record and the log entry that commits to it (version 1).

Defined once, here; docs/architecture.md ("The transparency log") gives it byte for byte.

A record is the values of RECORD_FIELDS, the stored columns of `otel_traces` that the writer
inserts (the insert schema) plus RetentionDays. Its encoding puts every fixed-size value and
every length first, then the bytes, so that it is made over whole columns without a step per
record (ldv_logboek.storage._tlog_columns); all integers big-endian:

    i64 Timestamp (ns) || u64 Duration (ns) || u16 RetentionDays
    || u32 byte length of each of the 11 strings (STRING_FIELDS order)
    || the 11 strings' UTF-8 bytes, in that order
    || map ResourceAttributes || map SpanAttributes
    || i64list Events.Timestamp || strlist Events.Name || maplist Events.Attributes
    || strlist Links.TraceId || strlist Links.SpanId || strlist Links.TraceState || maplist Links.Attributes

    map      u32 n || u32 length of each key || u32 length of each value || the keys' bytes || the values' bytes
             (entries in stored order)
    strlist  u32 n || u32 length of each string || the strings' bytes
    i64list  u32 n || each i64
    maplist  u32 n || each map

    record digest = SHA-256("ldv/record/v1\n" || salt || record encoding)
    entry         = 0x01 || u64 expires_at || record digest                       41 bytes
    void entry    = 41 zero bytes
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
VOID_ENTRY = bytes(ENTRY_SIZE)
SECONDS_PER_DAY = 86_400

# The record's columns, as the leaf commits to them (their order here is the stored table's).
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
# The encoding's order: fixed values, the strings (lengths, then bytes), then maps and lists.
STRING_FIELDS = tuple(name for name, kind in RECORD_FIELDS if kind == "str")
NESTED_FIELDS = (
    "ResourceAttributes", "SpanAttributes", "Events.Timestamp", "Events.Name", "Events.Attributes",
    "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
)  # fmt: skip
_KIND = dict(RECORD_FIELDS)
_INDEX = {name: i for i, name in enumerate(FIELD_NAMES)}

_u32 = struct.Struct(">I").pack
_i64 = struct.Struct(">q").pack
_u64 = struct.Struct(">Q").pack
_u16 = struct.Struct(">H").pack
_sha256 = hashlib.sha256


def _map(value: Iterable[tuple[str, str]] | dict[str, str]) -> bytes:
    items = list(value.items()) if isinstance(value, dict) else list(value)
    keys = [k.encode() for k, _ in items]
    values = [v.encode() for _, v in items]
    return (
        _u32(len(items))
        + b"".join(_u32(len(k)) for k in keys)
        + b"".join(_u32(len(v)) for v in values)
        + b"".join(keys)
        + b"".join(values)
    )


def _nested(kind: str, value: Any) -> bytes:
    if kind == "map":
        return _map(value)
    if kind == "list<i64>":
        return _u32(len(value)) + b"".join(_i64(v) for v in value)
    if kind == "list<str>":
        data = [v.encode() for v in value]
        return _u32(len(data)) + b"".join(_u32(len(d)) for d in data) + b"".join(data)
    return _u32(len(value)) + b"".join(_map(m) for m in value)  # list<map>


def encode_record(values: Sequence[Any]) -> bytes:
    """The canonical encoding of one record: `values` in RECORD_FIELDS order.

    Strings as `str`, integers as `int`, maps as a dict or a list of (key, value) pairs in
    stored order, lists as lists.
    """
    if len(values) != len(RECORD_FIELDS):
        raise ProofError(f"a record has {len(RECORD_FIELDS)} fields, not {len(values)}")
    strings = [values[_INDEX[name]].encode() for name in STRING_FIELDS]
    return b"".join(
        [
            _i64(values[_INDEX["Timestamp"]]),
            _u64(values[_INDEX["Duration"]]),
            _u16(values[_INDEX["RetentionDays"]]),
            *(_u32(len(s)) for s in strings),
            *strings,
            *(_nested(_KIND[name], values[_INDEX[name]]) for name in NESTED_FIELDS),
        ]
    )


def record_digest(salt: bytes, values: Sequence[Any]) -> bytes:
    """SHA-256("ldv/record/v1\\n" || salt || encode_record(values))."""
    if len(salt) != SALT_SIZE:
        raise ProofError(f"a salt is {SALT_SIZE} bytes")
    return _sha256(RECORD_TAG + salt + encode_record(values)).digest()


def expires_at(timestamp_ns: int, retention_days: int) -> int:
    """When the store may remove a record: its time in whole seconds plus its retention (POSIX s)."""
    return max(0, timestamp_ns // 1_000_000_000 + retention_days * SECONDS_PER_DAY)


def record_entry(salt: bytes, values: Sequence[Any]) -> bytes:
    """The log entry of a stored record (41 bytes): its Timestamp is the first value, its RetentionDays the last."""
    return bytes([ENTRY_RECORD]) + _u64(expires_at(values[0], values[-1])) + record_digest(salt, values)


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
