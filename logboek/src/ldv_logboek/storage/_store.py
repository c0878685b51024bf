"""Writing and reading LDV records in ClickHouse (embedded chDB or a server)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import chdb
import pyarrow as pa
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from ldv_logboek._record import LogRecord, Status
from ldv_logboek.rules import CONFIDENTIAL_HIDDEN, COUNT_ONCE, MAX_TIME_MS, SHOWN_ONCE, hidden_params
from ldv_logboek.storage._arrow_insert import SCHEMA, insert_arrow_into, rows_table, with_retention
from ldv_logboek.storage._client import StorageUnavailable, connect, embedded_path, storage_errors
from ldv_logboek.storage._pool import ConnectionPool, Lane
from ldv_logboek.storage._query import Cursor, Page, RecordQuery
from ldv_logboek.storage._register_store import RegisterStore
from ldv_logboek.storage._retention import Retention, may_have_ended, retention_ended
from ldv_logboek.storage._schema import DEFAULT_RETENTION_DAYS, READ_SETTINGS, RECORDS_TABLE, REJECTIONS_TABLE, migrate
from ldv_logboek.storage._tile_files import TileFiles

_T = TypeVar("_T")

# The columns an insert names, in order: the Arrow table's (`SCHEMA`); the server computes the rest.
INSERT_COLUMNS = list(SCHEMA.names)

_SELECT = f"""
SELECT toUnixTimestamp64Nano(Timestamp), TraceId, SpanId, ParentSpanId, SpanName, StatusCode,
       StatusMessage, Duration, ResourceAttributes, SpanAttributes, SpanKind, TraceState,
       ScopeName, ScopeVersion
FROM {RECORDS_TABLE}
"""

# Where an embedded store keeps its logs' full tiles as files (ldv_logboek.storage._tile_files).
TILE_FILES_DIR = "tlog-tiles"

# Reader connections of a store unless told otherwise (`LDV_SERVE_STORE_READERS`): lookups run
# beside each other and beside the writer; the machine's cores bound what more would gain.
DEFAULT_READERS = 4

_STATUS = {s.value: s for s in Status}


class LogStore:
    """The Logboek's records in ClickHouse: one writer connection and a pool of readers.

    Thread safety: one instance per process, safe for any number of threads. Reads never wait
    for writes:

    - Writes (`insert`, `insert_record_rows`, `insert_rejection_counts`, `insert_rows`, `migrate`)
      go to the writer, `client`, one at a time under `writer_lock` (one chDB connection or clickhouse-connect
      session takes one statement at a time). Writers batch (the collector's group commit):
      every insert is one ClickHouse part, so never insert per record.
    - Reads (`find`, `count`, `query_rows`, and the register through them) each take a reader
      connection of the store's pool (`pool`, lane "store", `readers` connections at most;
      more wait for one), so a lookup runs beside an insert, not behind it. A row is visible
      to every reader as soon as the insert that wrote it returned. With `readers=0`, or
      without a way to open readers (an in-memory chDB, a server client given without
      `open_reader`), reads share the writer and its lock, as one connection must.

    Code beside the store that needs the writer itself (tests, migrations) holds `writer_lock`
    around its calls on `client`. Reader connections open when first needed, normally after
    `migrate` at start; `close` closes the writer and every connection of `pool`.
    """

    def __init__(
        self,
        client: Client,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        retention_by_organisation: Mapping[str, int] | None = None,
        readers: int = DEFAULT_READERS,
        open_reader: Callable[[], Client] | None = None,
        tile_dir: Path | None = None,
    ):
        self.client = client
        self.retention_days = retention_days
        self.retention_by_organisation = dict(retention_by_organisation or {})
        self._lock = threading.Lock()  # the writer's: every call on `client` holds it
        self._register: RegisterStore | None = None
        self._retention_rules: tuple[Any, Retention] | None = None  # (the register it was made of, the rules)
        self._closed = False
        self.pool = ConnectionPool()
        path = embedded_path(client)
        if tile_dir is None and path is not None:
            tile_dir = Path(path) / TILE_FILES_DIR
        # The logs' full tiles as files (read by StoredTree; copied by a TileMirror): none for an in-memory engine.
        self.tile_files = TileFiles(tile_dir) if tile_dir is not None else None
        # The Arrow insert's own connection to an embedded engine (chDB's public API), opened at the first insert.
        self._embedded_path = path
        self._arrow_conn: Any = None
        if open_reader is None and path is not None:
            open_reader = partial(connect, f"chdb://{path}")
        self._readers: Lane[Client] | None = None
        if readers > 0 and open_reader is not None:
            opener = open_reader
            self._readers = self.pool.lane("store", readers, lambda _key: opener(), lambda client: client.close())

    @classmethod
    def open(
        cls,
        dsn: str,
        *,
        readers: int = DEFAULT_READERS,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        retention_by_organisation: Mapping[str, int] | None = None,
        tile_dir: Path | None = None,
    ) -> LogStore:
        """The store at `dsn` (see `connect`): its writer now, up to `readers` reader connections when
        needed; the logs' tile files in `tile_dir` (default: `tlog-tiles` in an embedded store's
        directory, none for a server)."""
        return cls(
            connect(dsn),
            retention_days=retention_days,
            retention_by_organisation=retention_by_organisation,
            readers=readers,
            open_reader=lambda: connect(dsn),
            tile_dir=tile_dir,
        )

    @property
    def writer_lock(self) -> threading.Lock:
        """The lock every call on the writer (`client`) holds; reads do not take it."""
        return self._lock

    @property
    def readers(self) -> int:
        """How many reader connections reads may use at once; 0: reads share the writer."""
        return self._readers.size if self._readers is not None else 0

    @property
    def closed(self) -> bool:
        """True once `close` was called: every call then raises StorageUnavailable."""
        return self._closed

    def migrate(self) -> list[int]:
        """Create or upgrade the schema; safe to call at every start (and again after a failure).

        A driver failure (a full disk, a lost connection) is a StorageUnavailable or StorageFault.
        """
        with storage_errors("schema migration"), self._lock:
            return migrate(self.client)

    def insert(self, records: Sequence[LogRecord]) -> None:
        """Store `records`; return only when all of them are stored (see `insert_record_rows`)."""
        if not records:
            return
        with storage_errors(f"insert of {len(records)} records"):
            rows = rows_table(records)  # a value Arrow cannot take is a fault, like one the engine refuses
        self.insert_record_rows(rows)

    def insert_record_rows(self, rows: pa.Table) -> None:
        """Store the records in `rows` (`ROWS_SCHEMA`, e.g. of `rows_table`); return only when all are stored.

        `rows` may also be the table of `with_retention` with the transparency log's columns
        (LogOrigin, LeafIndex, LeafSalt) after RetentionDays: stored as given.

        Raises StorageUnavailable (retry later) or StorageFault (a retry does not help).

        Each record's RetentionDays is decided here (`Retention`: the register, the
        organisation, the default). One insert: the records table has no time partitions
        (schema 5), so a request of late records spanning many days is one part like any other.
        Nothing is ever acknowledged that is not stored.
        """
        if not rows.num_rows:
            return
        # RetentionDays decided before (`with_retention`), with the log's columns after it: as given.
        table = rows if "RetentionDays" in rows.schema.names else self.with_retention(rows)
        with storage_errors(f"insert of {rows.num_rows} records"), self._lock:
            self._check_open()
            insert_arrow_into(self.client, RECORDS_TABLE, table, self._embedded_connection())

    def with_retention(self, rows: pa.Table) -> pa.Table:
        """`rows` (`ROWS_SCHEMA`) with each record's RetentionDays appended, as `insert_record_rows`
        decides it (the transparency log commits to it before the insert); StorageFault/Unavailable
        when the register cannot be read."""
        with storage_errors(f"retention of {rows.num_rows} records"):
            starts = rows.column("Timestamp").cast(pa.int64()).to_pylist()
            return with_retention(rows, self._retention().days_of_rows(rows, starts))

    def past_retention(self, rows: pa.Table, now_ns: int | None = None) -> list[int]:
        """Indices of the rows (`ROWS_SCHEMA`) whose retention, as `with_retention` decides it,
        has ended at `now_ns` (default: now), or ends within a minute: the store's TTL would
        delete them as they are written, so the collector refuses them (`retention-passed`,
        ldv_logboek.storage._retention). Only rows older than a day are looked at."""
        now = time.time_ns() if now_ns is None else now_ns
        starts = rows.column("Timestamp").cast(pa.int64()).to_pylist()
        old = may_have_ended(starts, now)
        if not old:
            return []
        subset = rows.take(old)
        with storage_errors(f"retention of {len(old)} records"):
            days = self._retention().days_of_rows(subset, [starts[i] for i in old])
        return [i for i, ended in zip(old, retention_ended([starts[i] for i in old], days, now), strict=True) if ended]

    def _embedded_connection(self) -> Any:
        """The writer's own chDB connection (`chdb.connect`, chDB's public API) for zero-copy Arrow
        inserts, opened on first use; None for a server. Call with `_lock` held."""
        if self._embedded_path is not None and self._arrow_conn is None:
            self._arrow_conn = chdb.connect(os.path.realpath(self._embedded_path))
        return self._arrow_conn

    def _retention(self) -> Retention:
        """The retention rules of this moment: the register's periods per activity (the stored
        register, re-read at most every few seconds), then per organisation, then the default."""
        if self._register is None:
            self._register = RegisterStore(self)
        register = self._register.load()
        rules = self._retention_rules
        if rules is None or rules[0] is not register:
            rules = (register, Retention(self.retention_days, self.retention_by_organisation, register))
            self._retention_rules = rules
        return rules[1]

    def insert_rejection_counts(self, at: datetime, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Store counts of rejected spans, keyed by (organisation, service name, rule), as of `at`.

        One insert for all of them (the collector calls this about once a second at most).
        Raises StorageUnavailable or StorageFault like `insert`.
        """
        if not counts:
            return
        rows = [[at, org, service, rule, spans] for (org, service, rule), spans in counts.items()]
        self.insert_rows(REJECTIONS_TABLE, rows, ["Timestamp", "Organisation", "ServiceName", "Rule", "Spans"], "rejection counts")

    def _check_open(self) -> None:
        # A closed client raises the driver's ProgrammingError: say what it means here.
        if self._closed:
            raise StorageUnavailable("the store is closed (the process is stopping)")

    def find(self, query: RecordQuery) -> Page:
        """Records matching `query`, each once even when it was delivered more than once.

        Every value reaches SQL as a bound parameter, never pasted into the text.
        """
        if query.matches_nothing:
            return Page()
        where: list[str] = []
        params: dict[str, Any] = {}
        subjects = query.data_subject_ids
        for clause, name, value in (
            ("TraceId = {trace_id:String}", "trace_id", query.trace_id.hex() if query.trace_id is not None else None),
            ("ProcessingActivityId = {activity:String}", "activity", query.processing_activity_id or None),
            ("DataSubjectId = {subject:String}", "subject", query.data_subject_id or None),
            ("DataSubjectId IN {subjects:Array(String)}", "subjects", list(subjects) if subjects is not None else None),
            ("Organisation = {organisation:String}", "organisation", query.organisation),
        ):
            if value is not None:
                where.append(clause)
                params[name] = value
        if query.exclude:
            # The confidentiality rule's fragment (ldv_logboek.rules): outside every excluded window.
            where.append(CONFIDENTIAL_HIDDEN)
            params.update(hidden_params((w.activity_id, w.start_ns, w.end_ns) for w in query.exclude))
        # Times past the Timestamp column's range (int64 ns, the year 2262) overflow in
        # ClickHouse: such a bound is simply "later than every record".
        if query.start_time_ms is not None:
            where.append("Timestamp >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')")
            params["start_ms"] = min(query.start_time_ms, MAX_TIME_MS)
        if query.end_time_ms is not None:
            where.append("Timestamp <= fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')")
            params["end_ms"] = min(query.end_time_ms, MAX_TIME_MS)
        if query.after is not None:
            where.append(
                "Timestamp >= fromUnixTimestamp64Nano({after_ts:Int64}, 'UTC') AND "
                "(toUnixTimestamp64Nano(Timestamp), TraceId, SpanId) > "
                "({after_ts:Int64}, {after_trace:String}, {after_span:String})"
            )
            params.update(
                after_ts=query.after.timestamp_ns, after_trace=query.after.trace_id, after_span=query.after.span_id
            )
        sql = (
            _SELECT
            + " WHERE "
            + " AND ".join(where)
            + f" ORDER BY Timestamp, TraceId, SpanId {SHOWN_ONCE} LIMIT {{limit:UInt32}}"
            + " SETTINGS "
            + READ_SETTINGS
        )
        params["limit"] = query.limit + 1
        rows = self.query_rows(sql, params)
        records = [_row_to_record(row) for row in rows[: query.limit]]
        next_cursor = None
        if len(rows) > query.limit:
            last = records[-1]
            next_cursor = Cursor(last.start_time_ns, last.trace_id.hex(), last.span_id.hex()).encode()
        return Page(records=records, next_cursor=next_cursor)

    def count(self) -> int:
        """Distinct records in the store (duplicated deliveries counted once)."""
        return int(self.query_rows(f"SELECT {COUNT_ONCE} FROM {RECORDS_TABLE}", {})[0][0])

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        """Rows of a read-only `sql` with server-side bound `params` (`{name:Type}` placeholders).

        Runs on a reader connection (never waits for an insert); any driver failure becomes
        StorageUnavailable or StorageFault (see `storage_error`). Never format values into
        `sql`; bind them.
        """
        parameters = dict(params or {})
        return self._on_reader(lambda client: client.query(sql, parameters=parameters).result_rows)

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """`query_rows` as an Arrow table (whole columns: the transparency log reads records this way)."""
        parameters = dict(params or {})
        return self._on_reader(lambda client: client.query_arrow(sql, parameters=parameters, use_strings=True))

    def _on_reader(self, read: Callable[[Client], _T]) -> _T:
        """`read` on a reader connection (the writer's, one statement at a time, without readers);
        any driver failure becomes StorageUnavailable or StorageFault."""
        with storage_errors("query"):
            self._check_open()
            if self._readers is None:
                with self._lock:
                    self._check_open()
                    return read(self.client)
            # A reader whose link failed is not reused: the next read opens a fresh one.
            with self._readers.connection(discard_on=(OperationalError, OSError)) as reader:
                return read(reader)

    def insert_arrow(self, table: str, data: pa.Table, what: str) -> None:
        """Insert the Arrow table `data` into `table` by column name on the writer; errors as `insert`."""
        if not data.num_rows:
            return
        with storage_errors(f"insert of {data.num_rows} {what}"), self._lock:
            self._check_open()
            insert_arrow_into(self.client, table, data, self._embedded_connection())

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str], what: str) -> None:
        """Insert `rows` into `table` on the writer (e.g. the register); `what` names them in errors.

        Raises StorageUnavailable or StorageFault like `insert`.
        """
        if not rows:
            return
        with storage_errors(f"insert of {len(rows)} {what}"), self._lock:
            self._check_open()
            self.client.insert(table, rows, column_names=list(column_names))

    def close(self) -> None:
        """Close the writer, every reader connection (those in use close when their read ends) and
        the tile files' descriptors."""
        with self._lock:
            self._closed = True
            if self._arrow_conn is not None:
                self._arrow_conn.close()
            self.client.close()
            if self.tile_files is not None:
                self.tile_files.close()
        self.pool.close()


def _row_to_record(row: Sequence[Any]) -> LogRecord:
    (ts, trace_id, span_id, parent, name, status, status_msg, duration, resource, attributes, kind, state, scope, scope_v) = row
    return LogRecord(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent) if parent else b"",
        name=name,
        start_time_ns=int(ts),
        end_time_ns=int(ts) + int(duration),
        status=_STATUS.get(status, Status.UNSET),
        status_message=status_msg,
        resource_attributes=dict(resource),
        attributes=dict(attributes),
        kind=kind,
        trace_state=state,
        scope_name=scope,
        scope_version=scope_v,
    )
