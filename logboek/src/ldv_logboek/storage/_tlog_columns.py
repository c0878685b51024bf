"""The canonical record encoding (ldv_logboek.tlog._leaf) computed over whole Arrow columns.

The writer logs every record it stores, so this runs for every record: one Python step per
record would cost tens of microseconds. Here each field of every record becomes its encoded
bytes with Arrow kernels (lengths as big-endian u32 from numpy, `binary_join_element_wise` to
put length and bytes together, `binary_join` to join a map's or a list's entries per record),
the fields are joined per record, and Python only hashes: SHA-256 of the tag, the salt and the
encoding, then of the entry. `tests/logboek/test_tlog_columns.py` holds it equal to the
definition (`encode_record`) over generated records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ldv_logboek.tlog import RECORD_FIELDS, SALT_SIZE

_EMPTY = b""
_RECORD_TAG = b"ldv/record/v1\n"


def _fixed(values: np.ndarray, dtype: str, width: int) -> pa.Array:
    """Big-endian bytes of integers as a binary array, `width` bytes each."""
    data = np.ascontiguousarray(values.astype(dtype)).tobytes()
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(values), [None, pa.py_buffer(data)]).cast(pa.binary())


def _u32(values: pa.Array) -> pa.Array:
    return _fixed(np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64), ">u4", 4)


def _strings(array: pa.Array) -> pa.Array:
    """u32 length || bytes of each string."""
    binary = array.cast(pa.binary())
    return pc.binary_join_element_wise(_u32(pc.binary_length(binary)), binary, _EMPTY)


def _count_prefixed(offsets: pa.Array, items: pa.Array) -> pa.Array:
    """u32 count || the items of each list, where list i holds items[offsets[i]:offsets[i+1]]."""
    offs = np.asarray(offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offs, pa.int32()), items), _EMPTY)
    return pc.binary_join_element_wise(_fixed(np.diff(offs), ">u4", 4), joined, _EMPTY)


def _maps(array: pa.MapArray) -> pa.Array:
    entries = pc.binary_join_element_wise(_strings(array.keys), _strings(array.items), _EMPTY)
    return _count_prefixed(array.offsets, entries)


def _field(array: pa.Array, kind: str) -> pa.Array:
    if kind == "str":
        return _strings(array)
    if kind == "i64":
        return _fixed(array.cast(pa.int64()).to_numpy(zero_copy_only=False), ">i8", 8)
    if kind == "u64":
        return _fixed(array.cast(pa.uint64()).to_numpy(zero_copy_only=False), ">u8", 8)
    if kind == "u16":
        return _fixed(array.cast(pa.uint16()).to_numpy(zero_copy_only=False), ">u2", 2)
    if kind == "map":
        return _maps(array)
    inner = kind[5:-1]  # list<...>
    values = array.values
    if inner == "i64":
        items = _fixed(values.cast(pa.int64()).to_numpy(zero_copy_only=False), ">i8", 8)
    elif inner == "str":
        items = _strings(values)
    else:
        items = _maps(values)
    return _count_prefixed(array.offsets, items)


def encodings(table: pa.Table) -> pa.Array:
    """The canonical encoding of each record of `table` (its RECORD_FIELDS columns), as a binary array."""
    table = table.combine_chunks()
    parts = []
    for name, kind in RECORD_FIELDS:
        column = table.column(name)
        array = column.chunk(0) if column.num_chunks == 1 else pa.concat_arrays(column.chunks)
        if array.null_count:
            raise ValueError(f"column {name} has nulls; a stored record has none")
        parts.append(_field(array, kind))
    return pc.binary_join_element_wise(*parts, _EMPTY)


def entries_of_table(table: pa.Table, salts: Sequence[bytes]) -> list[bytes]:
    """The log entry of each record of `table`, with its salt: `record_entry` over whole columns."""
    if any(len(s) != SALT_SIZE for s in salts) or len(salts) != table.num_rows:
        raise ValueError("one salt of 16 bytes per record")
    encoded = encodings(table).to_pylist()
    # expires_at for every record at once (ldv_logboek.tlog.expires_at), as 0x01 || u64.
    seconds = np.floor_divide(table.column("Timestamp").cast(pa.int64()).to_numpy(), 1_000_000_000)
    expires = np.maximum(0, seconds + table.column("RetentionDays").to_numpy().astype(np.int64) * 86_400)
    heads = [b"\x01" + h for h in _fixed(expires, ">u8", 8).to_pylist()]
    sha256 = hashlib.sha256
    tag = _RECORD_TAG
    return [head + sha256(tag + salt + body).digest() for head, salt, body in zip(heads, salts, encoded)]
