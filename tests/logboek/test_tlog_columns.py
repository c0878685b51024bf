"""The writer's column-wise entries equal the definition (`ldv_logboek.tlog.record_entry`), record
by record, over generated records (unicode, events, links, empty and odd values) and slices; and
the stored record read back from the store gives the same entry (what `ldv audit` recomputes)."""

from __future__ import annotations

import os

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek.storage import rows_table
from ldv_logboek.storage._arrow_insert import with_retention
from ldv_logboek.storage._tlog_columns import entry_block
from ldv_logboek.tlog import ENTRY_SIZE, encode_record, record_entry
from tests.logboek.strategies import records

MAX_NS = 2**63 - 1


def values_of(record: LogRecord, retention: int) -> tuple[object, ...]:
    """The record's fields in RECORD_FIELDS order, straight from the LogRecord (not from Arrow)."""
    start = record.start_time_ns
    return (
        start, record.trace_id.hex(), record.span_id.hex(), record.parent_span_id.hex(), record.trace_state, record.name,
        record.kind, record.resource_attributes.get(attr.SERVICE_NAME, ""), list(record.resource_attributes.items()),
        record.scope_name, record.scope_version, list(record.attributes.items()),
        record.end_time_ns - start if record.end_time_ns > start else 0, record.status.value, record.status_message,
        [e.time_ns for e in record.events], [e.name for e in record.events], [list(e.attributes.items()) for e in record.events],
        [link.trace_id.hex() for link in record.links], [link.span_id.hex() for link in record.links],
        [link.trace_state for link in record.links], [list(link.attributes.items()) for link in record.links], retention,
    )  # fmt: skip


def entries_of_table(table: pa.Table, salts: list[bytes]) -> list[bytes]:
    """The writer's entries (`entry_block`) of `table`, one bytes a record."""
    data = entry_block(table, b"".join(salts)).tobytes()
    return [data[i : i + ENTRY_SIZE] for i in range(0, len(data), ENTRY_SIZE)]


storable = records().filter(
    lambda r: r.start_time_ns <= MAX_NS and r.end_time_ns <= MAX_NS and all(e.time_ns <= MAX_NS for e in r.events)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.lists(storable, min_size=1, max_size=8), st.integers(1, 65_535), st.integers(0, 3))
def test_column_wise_entries_are_the_defined_entries(batch: list[LogRecord], retention: int, cut: int) -> None:
    table = with_retention(rows_table(batch), [retention] * len(batch))
    salts = [os.urandom(16) for _ in batch]
    expected = [record_entry(salt, values_of(r, retention)) for salt, r in zip(salts, batch)]
    assert entries_of_table(table, salts) == expected
    sliced = table.slice(min(cut, len(batch) - 1))
    assert entries_of_table(sliced, salts[-sliced.num_rows :]) == expected[-sliced.num_rows :]
    chunked = pa.concat_tables([table, table])
    assert entries_of_table(chunked, salts + salts) == expected + expected


def test_the_encoding_is_pinned_byte_for_byte() -> None:
    """A fixed record's encoding and entry: a change to the encoding breaks every stored log."""
    values = (
        1_700_000_000_123_456_789, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "", "", "inkomen opvragen",
        "Internal", "toeslagen-api", [("service.name", "toeslagen-api")], "ldv_sdk", "0.1.0",
        [("dpl.core.processing_activity_id", "https://register.example/pa/1"), ("é", "ü")], 2_000_000, "Ok", "",
        [1_700_000_000_200_000_000], ["exception"], [[("exception.type", "ValueError")]], [], [], [], [], 3650,
    )  # fmt: skip
    encoded = encode_record(values)
    assert encoded[:8] == (1_700_000_000_123_456_789).to_bytes(8, "big")
    assert encoded[8:16] == (2_000_000).to_bytes(8, "big") and encoded[16:18] == (3650).to_bytes(2, "big")
    assert encoded[18:22] == (32).to_bytes(4, "big")  # TraceId's length, then the 10 other strings' lengths
    assert encoded[62:94] == b"0af7651916cd43dd8448eb211c80319c"  # the strings' bytes after the 11 lengths
    assert len(encoded) == 367
    entry = record_entry(bytes(range(16)), values)
    assert entry[:9] == b"\x01" + (1_700_000_000 + 3650 * 86_400).to_bytes(8, "big")
    assert entry.hex() == PINNED_ENTRY


PINNED_ENTRY = "0100000000781ff400e10d5e5c959678cf4a817740c593b49dab1a3a5d55f8d41442a6d7f3b90baf88"
