"""The Arrow insert: its table holds exactly the row form of every record, and the engine stores it so.

`records_table` (one pass, flat maps) is held equal, over generated records, to the obvious
row-by-row form of the insert columns written out here; the stored rows are compared with the
records they came from through real chDB, events and links included.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldv_logboek import attributes as attr
from ldv_logboek._record import Event, Link, LogRecord
from ldv_logboek.rules import MAX_STORED_TIME_NS
from ldv_logboek.storage import LogStore
from ldv_logboek.storage._arrow_insert import SCHEMA, records_table
from ldv_logboek.storage._schema import RECORDS_TABLE
from ldv_logboek.storage._store import INSERT_COLUMNS
from tests.conftest import make_record
from tests.logboek.strategies import records

_STORABLE = 2**63 - 1


def _row(record: LogRecord, retention: int) -> dict[str, Any]:
    """The insert columns of one record, written the plain way (the row form)."""
    return {
        "Timestamp": record.start_time_ns,
        "TraceId": record.trace_id.hex(),
        "SpanId": record.span_id.hex(),
        "ParentSpanId": record.parent_span_id.hex(),
        "TraceState": record.trace_state,
        "SpanName": record.name,
        "SpanKind": record.kind,
        "ServiceName": record.resource_attributes.get(attr.SERVICE_NAME, ""),
        "ResourceAttributes": dict(record.resource_attributes),
        "ScopeName": record.scope_name,
        "ScopeVersion": record.scope_version,
        "SpanAttributes": dict(record.attributes),
        "Duration": max(0, record.end_time_ns - record.start_time_ns),
        "StatusCode": record.status.value,
        "StatusMessage": record.status_message,
        "Events.Timestamp": [e.time_ns for e in record.events],
        "Events.Name": [e.name for e in record.events],
        "Events.Attributes": [dict(e.attributes) for e in record.events],
        "Links.TraceId": [link.trace_id.hex() for link in record.links],
        "Links.SpanId": [link.span_id.hex() for link in record.links],
        "Links.TraceState": [link.trace_state for link in record.links],
        "Links.Attributes": [dict(link.attributes) for link in record.links],
        "RetentionDays": retention,
    }


def _rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows, with times as int ns and maps as dicts (to compare with `_row`)."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_list(column.type) and pa.types.is_timestamp(column.type.value_type):
            column = column.cast(pa.list_(pa.int64()))
        values = column.to_pylist()
        if pa.types.is_map(column.type):
            values = [dict(v) for v in values]
        elif pa.types.is_list(column.type) and pa.types.is_map(column.type.value_type):
            values = [[dict(m) for m in v] for v in values]
        columns[name] = values
    return [dict(zip(columns, row)) for row in zip(*columns.values())]


def _storable(record: LogRecord) -> LogRecord:
    # Times the store cannot hold are refused by the collector before an insert (rule time-range).
    record.start_time_ns %= _STORABLE
    record.end_time_ns %= _STORABLE
    for event in record.events:
        event.time_ns %= _STORABLE
    return record


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(records().map(_storable), max_size=6), st.data())
def test_the_arrow_table_is_the_row_form_of_every_record(batch: list[LogRecord], data: st.DataObject) -> None:
    retention = data.draw(st.lists(st.integers(1, 65535), min_size=len(batch), max_size=len(batch)))
    table = records_table(batch, retention)
    assert table.schema == SCHEMA
    assert _rows_of(table) == [_row(r, days) for r, days in zip(batch, retention)]


def test_the_insert_columns_are_columns_of_the_records_table(store: LogStore) -> None:
    """Every column an insert names exists in the records table with the type the OTel exporter uses."""
    columns = dict(store.client.query(f"SELECT name, type FROM system.columns WHERE table = '{RECORDS_TABLE}'").result_rows)
    assert [name for name in INSERT_COLUMNS if name not in columns] == []
    assert columns["Timestamp"] == "DateTime64(9, 'UTC')" and columns["SpanAttributes"] == "Map(LowCardinality(String), String)"


def test_stored_rows_are_the_records_events_and_links_included(store: LogStore) -> None:
    plain = make_record()
    rich = make_record(name="met gebeurtenis")
    rich.parent_span_id = os.urandom(8)
    rich.events = [Event(rich.start_time_ns + 5, "exception", {"exception.type": "ValueError"}), Event(1, "leeg")]
    rich.links = [Link(os.urandom(16), os.urandom(8), "a=b", {"k": "v"})]
    rich.end_time_ns = MAX_STORED_TIME_NS
    store.insert([plain, rich])
    got = store.client.query(
        f"SELECT SpanId, toUnixTimestamp64Nano(Timestamp), Duration, ParentSpanId, "
        "arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`), `Events.Name`, `Events.Attributes`, "
        "`Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`, RetentionDays, "
        f"SpanAttributes, ResourceAttributes, Organisation FROM {RECORDS_TABLE} WHERE TraceId IN {{t:Array(String)}} "
        "ORDER BY SpanName",
        parameters={"t": [plain.trace_id.hex(), rich.trace_id.hex()]},
    ).result_rows
    expected = [
        (
            r.span_id.hex(),
            r.start_time_ns,
            r.end_time_ns - r.start_time_ns,
            r.parent_span_id.hex(),
            [e.time_ns for e in r.events],
            [e.name for e in r.events],
            [e.attributes for e in r.events],
            [link.trace_id.hex() for link in r.links],
            [link.span_id.hex() for link in r.links],
            [link.trace_state for link in r.links],
            [link.attributes for link in r.links],
            store.retention_days,
            r.attributes,
            r.resource_attributes,
            r.resource_attributes.get(attr.ORGANISATION, ""),
        )
        for r in sorted([plain, rich], key=lambda r: r.name)
    ]
    assert [tuple(row) for row in got] == expected
