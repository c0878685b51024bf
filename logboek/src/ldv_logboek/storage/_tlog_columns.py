"""The canonical record encoding (ldv_logboek.tlog._leaf) computed over whole Arrow columns.

The writer logs every record it stores, so this runs for every record; a Python step per record
costs tens of microseconds. The encoding puts every fixed-size value and length first and the
bytes after, so that each of its parts is, per record, one contiguous slice of a buffer that
Arrow already holds (a string column's data, a map's key or value data, a list's child data) or
that numpy makes for all records at once (the fixed values and lengths, big-endian). Each part
is a zero-copy binary view (`_view`: new offsets over an existing buffer), and one
`binary_join_element_wise` lays the parts of every record end to end; Python then only hashes.
`tests/logboek/test_tlog_columns.py` holds it equal to the definition (`encode_record`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ldv_logboek.tlog import ENTRY_SIZE, SALT_SIZE
from ldv_logboek.tlog._leaf import _KIND, NESTED_FIELDS, RECORD_TAG, STRING_FIELDS

_EMPTY = b""


def _offsets(array: pa.Array) -> np.ndarray:
    """The absolute offsets (n + 1) of a list, map, string or binary array, as int64."""
    if isinstance(array, (pa.ListArray, pa.MapArray)):
        return np.asarray(array.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    raw = np.frombuffer(array.buffers()[1], dtype=np.int32)
    return raw[array.offset : array.offset + len(array) + 1].astype(np.int64)


def _view(offsets: np.ndarray, data: pa.Buffer | bytes) -> pa.Array:
    """A binary array whose element i is data[offsets[i]:offsets[i+1]] (no copy of `data`)."""
    buffer = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    if len(offsets) <= 1:
        return pa.array([], pa.binary())
    return pa.BinaryArray.from_buffers(
        pa.binary(), len(offsets) - 1, [None, pa.py_buffer(offsets.astype(np.int32).tobytes()), buffer]
    )


def _fixed_rows(columns: Sequence[np.ndarray], dtypes: Sequence[str]) -> pa.Array:
    """Per row, the big-endian bytes of each column's value, end to end (one binary element a row)."""
    n = len(columns[0]) if columns else 0
    if n == 0:
        return pa.array([], pa.binary())
    parts = [np.ascontiguousarray(c.astype(t)).view(np.uint8).reshape(n, -1) for c, t in zip(columns, dtypes)]
    block = np.ascontiguousarray(np.hstack(parts))  # n > 0: there is a column, so a part
    return _view(np.arange(n + 1, dtype=np.int64) * block.shape[1], block.tobytes())


def _strings_data(strings: pa.Array) -> tuple[np.ndarray, pa.Buffer]:
    """(absolute offsets, data buffer) of a string or binary array."""
    return _offsets(strings), strings.buffers()[2] or pa.py_buffer(b"")


def _u32_lengths(offsets: np.ndarray) -> bytes:
    return np.diff(offsets).astype(">u4").tobytes()


def _list_parts(outer: np.ndarray, child: pa.Array, kind: str) -> list[pa.Array]:
    """The parts of a list of `kind` ("str", "i64", "map") whose element i holds child[outer[i]:outer[i+1]]."""
    counts = _fixed_rows([np.diff(outer)], [">u4"])
    if kind == "i64":
        values = child.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(">i8").tobytes()
        return [counts, _view(outer * 8, values)]
    if kind == "str":
        offsets, data = _strings_data(child)
        lengths = _u32_lengths(offsets)
        return [counts, _view(outer * 4, lengths), _view(offsets[outer], data)]
    # kind == "map": one encoding per map of the child, then the consecutive ones per element.
    offsets, data = _strings_data(pc.binary_join_element_wise(*_map_parts(child), _EMPTY))
    return [counts, _view(offsets[outer], data)]


def _map_parts(maps: pa.Array) -> list[pa.Array]:
    """u32 n || key lengths || value lengths || keys || values, per map of a MapArray, as parts."""
    outer = _offsets(maps)
    key_offsets, key_data = _strings_data(maps.keys.cast(pa.string()))
    value_offsets, value_data = _strings_data(maps.items.cast(pa.string()))
    return [
        _fixed_rows([np.diff(outer)], [">u4"]),
        _view(outer * 4, _u32_lengths(key_offsets)),
        _view(outer * 4, _u32_lengths(value_offsets)),
        _view(key_offsets[outer], key_data),
        _view(value_offsets[outer], value_data),
    ]


def _array(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    array = column.chunk(0) if column.num_chunks == 1 else pa.concat_arrays(column.chunks)
    if array.null_count:
        raise ValueError(f"column {name} has nulls; a stored record has none")
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def encodings(table: pa.Table, prefix: pa.Array) -> pa.Array:
    """The canonical encoding of each record of `table` (its RECORD_FIELDS columns), as a binary
    array, with `prefix` (a binary array, one element a record) in front of each."""
    strings = [_array(table, name).cast(pa.string()) for name in STRING_FIELDS]
    string_data = [_strings_data(s) for s in strings]
    header = _fixed_rows(
        [
            _array(table, "Timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False),
            _array(table, "Duration").cast(pa.uint64()).to_numpy(zero_copy_only=False),
            _array(table, "RetentionDays").cast(pa.uint16()).to_numpy(zero_copy_only=False),
            *(np.diff(offsets) for offsets, _ in string_data),
        ],
        [">i8", ">u8", ">u2", *([">u4"] * len(strings))],
    )
    parts = [prefix, header, *(_view(offsets, data) for offsets, data in string_data)]
    for name in NESTED_FIELDS:
        array, kind = _array(table, name), _KIND[name]
        parts += _map_parts(array) if kind == "map" else _list_parts(_offsets(array), array.values, kind[5:-1])
    return pc.binary_join_element_wise(*parts, _EMPTY)


def entry_block(table: pa.Table, salts: bytes) -> np.ndarray:
    """The log entry of each record of `table`, with its salt (`salts`: 16 bytes a record, end
    to end), as an (n, 41) uint8 array: `record_entry` over whole columns. Python only hashes."""
    n = table.num_rows
    if len(salts) != SALT_SIZE * n:
        raise ValueError("one salt of 16 bytes per record")
    block = np.empty((n, ENTRY_SIZE), dtype=np.uint8)
    if n == 0:
        return block
    # Tag and salt in front of every encoding, so each record is hashed from one buffer.
    salted = np.frombuffer(salts, dtype=np.uint8).reshape(n, SALT_SIZE)
    tag = np.broadcast_to(np.frombuffer(RECORD_TAG, dtype=np.uint8), (n, len(RECORD_TAG)))
    prefixed = np.ascontiguousarray(np.hstack([tag, salted]))
    prefix = _view(np.arange(n + 1, dtype=np.int64) * prefixed.shape[1], prefixed.tobytes())
    encoded = encodings(table, prefix).to_pylist()
    sha256 = hashlib.sha256
    digests = b"".join([sha256(body).digest() for body in encoded])
    # expires_at for every record at once (ldv_logboek.tlog.expires_at), as 0x01 || u64.
    seconds = np.floor_divide(_array(table, "Timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False), 1_000_000_000)
    days = _array(table, "RetentionDays").to_numpy(zero_copy_only=False).astype(np.int64)
    expires = np.maximum(0, seconds + days * 86_400)
    block[:, 0] = 1
    block[:, 1:9] = expires.astype(">u8").view(np.uint8).reshape(n, 8)
    block[:, 9:] = np.frombuffer(digests, dtype=np.uint8).reshape(n, 32)
    return block


def leaf_hash_block(entries: bytes) -> bytes:
    """SHA-256(0x00 || entry) of each 41-byte entry of `entries` (end to end), end to end."""
    sha256 = hashlib.sha256
    view = memoryview(entries)
    return b"".join([sha256(b"\x00" + view[i : i + ENTRY_SIZE]).digest() for i in range(0, len(entries), ENTRY_SIZE)])


def level_up(hashes: bytes) -> bytes:
    """The node hashes of the level above `hashes` (32 bytes each, an even count, end to end)."""
    sha256 = hashlib.sha256
    view = memoryview(hashes)
    return b"".join([sha256(b"\x01" + view[i : i + 64]).digest() for i in range(0, len(hashes), 64)])


def fixed_width(column: pa.ChunkedArray, width: int) -> np.ndarray:
    """A column of `width`-byte values as an (n, width) uint8 array (one copy, no Python per row)."""
    array = column.chunk(0) if column.num_chunks == 1 else pa.concat_arrays(column.chunks)
    n = len(array)
    if n == 0:
        return np.empty((0, width), dtype=np.uint8)
    if pa.types.is_fixed_size_binary(array.type):
        data = np.frombuffer(array.buffers()[1], dtype=np.uint8)
        return data[array.offset * width : (array.offset + n) * width].reshape(n, width)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + n + 1]
    if np.all(np.diff(offsets) == width):
        return np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, width)
    # Values of another width (a rewritten row): padded or cut to `width`, so they compare unequal.
    out = np.zeros((n, width), dtype=np.uint8)
    for i, value in enumerate(array.to_pylist()):
        raw = bytes(value)[:width]
        out[i, : len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return out
