"""Records as one Arrow table, and its insert: the engine reads the columns without a Python row loop.

`records_table(records, retention_days)` builds the table of the store's INSERT_COLUMNS (`SCHEMA`,
the same names in the same order) in one pass over the
records (attribute maps as flat key and value arrays with offsets, which pyarrow takes without
looking at each dict again). `insert_arrow_into(client, RECORDS_TABLE, table, embedded)` hands it
to the engine:

- embedded (chDB): `INSERT INTO otel_traces (...) SELECT * FROM Python(table)` on a connection
  of chDB's own public API (`chdb.connect` on the store's data directory, beside the
  clickhouse-connect client, as the readers are): chDB's `Python()` table function reads the
  Arrow buffers in place, in the same process;
- a ClickHouse server: clickhouse-connect's `insert_arrow` (the Arrow format in the request body).

Only the columns INSERT_COLUMNS names are sent; the server computes the rest (the LDV columns'
DEFAULT expressions, IngestedAt, and whatever later migrations add).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from ldv_logboek import attributes as attr
from ldv_logboek._record import Event, Link, LogRecord, Status

_TIME = pa.timestamp("ns", tz="UTC")
_MAP = pa.map_(pa.string(), pa.string())
SCHEMA = pa.schema(
    [
        ("Timestamp", _TIME),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("ParentSpanId", pa.string()),
        ("TraceState", pa.string()),
        ("SpanName", pa.string()),
        ("SpanKind", pa.string()),
        ("ServiceName", pa.string()),
        ("ResourceAttributes", _MAP),
        ("ScopeName", pa.string()),
        ("ScopeVersion", pa.string()),
        ("SpanAttributes", _MAP),
        ("Duration", pa.uint64()),
        ("StatusCode", pa.string()),
        ("StatusMessage", pa.string()),
        ("Events.Timestamp", pa.list_(_TIME)),
        ("Events.Name", pa.list_(pa.string())),
        ("Events.Attributes", pa.list_(_MAP)),
        ("Links.TraceId", pa.list_(pa.string())),
        ("Links.SpanId", pa.list_(pa.string())),
        ("Links.TraceState", pa.list_(pa.string())),
        ("Links.Attributes", pa.list_(_MAP)),
        ("RetentionDays", pa.uint16()),
    ]
)
# The rows of records before the store decides their retention: SCHEMA without RetentionDays.
ROWS_SCHEMA = pa.schema(list(SCHEMA)[:-1])


def times(ns: list[int]) -> pa.Array:
    """Nanoseconds since the epoch as the Timestamp column's type."""
    # From int64: pyarrow converts Python ints to a timestamp type two hundred times slower.
    return pa.array(ns, pa.int64()).cast(_TIME)


def records_table(records: Sequence[LogRecord], retention_days: Sequence[int]) -> pa.Table:
    """The Arrow table of `records` (`SCHEMA`), with each record's retention in days."""
    return with_retention(rows_table(records), retention_days)


def with_retention(rows: pa.Table, retention_days: Sequence[int]) -> pa.Table:
    """`rows` (`ROWS_SCHEMA`) with their RetentionDays: the table to insert (`SCHEMA`)."""
    return rows.append_column(SCHEMA.field("RetentionDays"), pa.array(retention_days, pa.uint16()))


def rows_table(records: Sequence[LogRecord]) -> pa.Table:
    """The rows of `records` (`ROWS_SCHEMA`): the insert columns but the retention.

    This runs for every stored record: one comprehension per column (cheaper in CPython than
    one loop appending to twenty lists). Events and links are rare on LDV records: their
    columns are built only when a record has one.
    """
    n = len(records)
    service_key = attr.SERVICE_NAME
    starts = [r.start_time_ns for r in records]
    columns: list[pa.Array] = [
        times(starts),
        _strings([r.trace_id.hex() for r in records]),
        _strings([r.span_id.hex() for r in records]),
        _strings([r.parent_span_id.hex() for r in records]),
        _strings([r.trace_state for r in records]),
        _strings([r.name for r in records]),
        _strings([r.kind for r in records]),
        _strings([r.resource_attributes.get(service_key, "") for r in records]),
        _map([r.resource_attributes for r in records]),
        _strings([r.scope_name for r in records]),
        _strings([r.scope_version for r in records]),
        _map([r.attributes for r in records]),
        pa.array([max(r.end_time_ns - r.start_time_ns, 0) for r in records], pa.uint64()),
        _strings([r.status.value for r in records]),
        _strings([r.status_message for r in records]),
        *_nested_columns(records, [i for i, r in enumerate(records) if r.events or r.links], n),
    ]
    return pa.Table.from_arrays(columns, schema=ROWS_SCHEMA)


def _strings(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _map(mappings: list[dict[str, str]]) -> pa.Array:
    """One Map(String, String) column: the dicts' keys and values flat, with offsets."""
    keys = [k for m in mappings for k in m]
    values = [v for m in mappings for v in m.values()]
    offsets = list(accumulate(map(len, mappings), initial=0))
    return pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), _strings(keys), _strings(values))


def records_of_rows(rows: pa.Table) -> list[LogRecord]:
    """The records a rows table holds (the inverse of `rows_table`; for tests and diagnostics)."""
    columns = {name: rows.column(name) for name in rows.column_names}
    ns = columns["Timestamp"].cast(pa.int64()).to_pylist()
    event_ns = columns["Events.Timestamp"].cast(pa.list_(pa.int64())).to_pylist()
    plain = {name: column.to_pylist() for name, column in columns.items()}
    out = []
    for i, start in enumerate(ns):
        out.append(
            LogRecord(
                trace_id=bytes.fromhex(plain["TraceId"][i]),
                span_id=bytes.fromhex(plain["SpanId"][i]),
                parent_span_id=bytes.fromhex(plain["ParentSpanId"][i]),
                name=plain["SpanName"][i],
                start_time_ns=start,
                end_time_ns=start + plain["Duration"][i],
                status=Status(plain["StatusCode"][i]),
                attributes=dict(plain["SpanAttributes"][i]),
                resource_attributes=dict(plain["ResourceAttributes"][i]),
                status_message=plain["StatusMessage"][i],
                kind=plain["SpanKind"][i],
                trace_state=plain["TraceState"][i],
                scope_name=plain["ScopeName"][i],
                scope_version=plain["ScopeVersion"][i],
                events=[
                    Event(t, n, dict(a))
                    for t, n, a in zip(event_ns[i], plain["Events.Name"][i], plain["Events.Attributes"][i])
                ],
                links=[
                    Link(bytes.fromhex(t), bytes.fromhex(s), st, dict(a))
                    for t, s, st, a in zip(
                        plain["Links.TraceId"][i], plain["Links.SpanId"][i], plain["Links.TraceState"][i], plain["Links.Attributes"][i]
                    )
                ],
            )
        )
    return out


def _nested_columns(records: Sequence[LogRecord], with_extras: list[int], n: int) -> list[pa.Array]:
    """The seven Events.* and Links.* columns: empty lists, except for the records at `with_extras`."""
    columns: list[list[list[Any]]] = [[[]] * n for _ in range(7)]
    for i in with_extras:
        events, links = records[i].events, records[i].links
        row: tuple[list[Any], ...] = (
            [e.time_ns for e in events],
            [e.name for e in events],
            [list(e.attributes.items()) for e in events],
            [link.trace_id.hex() for link in links],
            [link.span_id.hex() for link in links],
            [link.trace_state for link in links],
            [list(link.attributes.items()) for link in links],
        )
        for column, values in zip(columns, row):
            column[i] = values
    types = (pa.int64(), pa.string(), _MAP, pa.string(), pa.string(), pa.string(), _MAP)
    event_times, *rest = [pa.array(column, pa.list_(value_type)) for column, value_type in zip(columns, types)]
    return [event_times.cast(pa.list_(_TIME)), *rest]


def insert_arrow_into(client: Client, name: str, table: pa.Table, embedded: Any | None = None) -> None:
    """Insert `table` into the table `name` by column name (the records of `records_table`, with the
    transparency log's columns after RetentionDays when it writes them; the log's leaves); raises
    the driver's errors.

    `embedded`: a chDB connection (`chdb.connect`) to the client's engine, for the zero-copy
    insert; None: clickhouse-connect's `insert_arrow` (a server, or chDB through Arrow IPC).
    """
    if embedded is None:
        client.insert_arrow(name, table)
        return
    quoted = ", ".join(f"`{c}`" for c in table.schema.names)
    # chDB's Python() table function finds `table` among this frame's local variables.
    embedded.query(f"INSERT INTO {name} ({quoted}) SELECT * FROM Python(table)")
