"""The log entry of a stored record, computed by the engine.

`ldv audit` replays every record: reading a record's ~700 bytes with its maps out of the engine
as Arrow, encoding it again and hashing it in Python costs ~10 µs of CPU a record. Here the
engine builds the canonical encoding (ldv_logboek.tlog._leaf, byte for byte) from the stored
columns itself, with the salt and tag in front, hashes it (SHA256) and returns only the 41-byte
entry: Python's work per record is a numpy compare. `tests/logboek/test_tlog_sql.py` holds
`ENTRY_SQL` equal to the core's `record_entry` over generated records (every field type,
empty values and maps, non-ASCII text).

The expressions use only functions of the engine chDB bundles (ClickHouse 26.x): `reverse` of
`reinterpretAsFixedString` gives an unsigned integer's big-endian bytes, `arrayStringConcat`
lays out the lengths and bytes of a map or list.
"""

from __future__ import annotations

from ldv_logboek.tlog._leaf import _KIND, NESTED_FIELDS, RECORD_TAG, SECONDS_PER_DAY, STRING_FIELDS


def _be(bits: int, expr: str) -> str:
    """The big-endian bytes of `expr` as an unsigned integer of `bits` (two's complement for an
    Int64, e.g. a DateTime64's nanoseconds), as a String: `concat` keeps a FixedString's trailing
    zero bytes, which a conversion to String (also inside `arrayStringConcat`) would drop."""
    return f"concat(reverse(reinterpretAsFixedString(toUInt{bits}({expr}))), '')"


def _lengths(array: str) -> str:
    """u32 length of each string of `array`, end to end."""
    return f"arrayStringConcat(arrayMap(s -> {_be(32, 'length(s)')}, {array}))"


def _map(expr: str) -> str:
    """u32 n || u32 length of each key || of each value || the keys || the values (stored order)."""
    keys, values = f"mapKeys({expr})", f"mapValues({expr})"
    return (
        f"{_be(32, f'length({expr})')}, {_lengths(keys)}, {_lengths(values)}, "
        f"arrayStringConcat(arrayMap(k -> toString(k), {keys})), arrayStringConcat({values})"
    )


def _nested(name: str) -> str:
    column = f"`{name}`"
    kind = _KIND[name]
    if kind == "map":
        return _map(column)
    count = _be(32, f"length({column})")
    if kind == "list<i64>":
        return f"{count}, arrayStringConcat(arrayMap(t -> {_be(64, 'toUnixTimestamp64Nano(t)')}, {column}))"
    if kind == "list<str>":
        return f"{count}, {_lengths(column)}, arrayStringConcat(arrayMap(s -> toString(s), {column}))"
    return f"{count}, arrayStringConcat(arrayMap(m -> concat({_map('m')}), {column}))"  # list<map>


def _string(name: str) -> str:
    return f"toString(`{name}`)"


# The canonical encoding of the record in the current row of the records table.
ENCODING_SQL = "concat(" + ", ".join(
    [
        _be(64, "toUnixTimestamp64Nano(Timestamp)"),
        _be(64, "Duration"),
        _be(16, "RetentionDays"),
        *(_be(32, f"length({_string(name)})") for name in STRING_FIELDS),
        *(_string(name) for name in STRING_FIELDS),
        *(_nested(name) for name in NESTED_FIELDS),
    ]
) + ")"

_TAG = "unhex('" + RECORD_TAG.hex() + "')"
# expires_at: the record's time in whole seconds (rounded down, also before 1970) plus its
# retention, not below 0 (ldv_logboek.tlog.expires_at).
_SECONDS = "intDiv(toUnixTimestamp64Nano(Timestamp), 1000000000) - (modulo(toUnixTimestamp64Nano(Timestamp), 1000000000) < 0)"
_EXPIRES = f"greatest(toInt64(0), {_SECONDS} + toInt64(RetentionDays) * {SECONDS_PER_DAY})"

# The record's log entry (ldv_logboek.tlog.record_entry), 41 bytes: 0x01 || u64 expires_at ||
# SHA-256(tag || LeafSalt || encoding).
ENTRY_SQL = f"concat(char(1), {_be(64, _EXPIRES)}, SHA256(concat({_TAG}, LeafSalt, {ENCODING_SQL})))"

