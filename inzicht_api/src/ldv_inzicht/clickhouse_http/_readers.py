"""Read-only chDB connections on the store's data directory, one set per scope.

They are a lane of the store's own connection pool (`ldv_logboek.storage.ConnectionPool`):
the pool the store's lookups read from, with this endpoint's own limit of queries at a time,
closed with the store. chDB hosts one engine per process and any number of connections to it;
settings are per connection. Each reader connection gets the per-query limits, its scope's row
filters, then `readonly=1`: from then on the engine itself refuses writes, DDL, SET, SYSTEM and
every table function that reaches outside (file, url, s3, remote, mysql, executable, python ...),
and no query can lift a limit or a filter. The store's writer connection is a different connection and
is unaffected. Connections are reused only within one scope, so no setting travels between users.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import chdb

from ldv_inzicht.clickhouse_http._access import Catalog, quote_identifier, row_filter_settings
from ldv_inzicht.clickhouse_http.errors import ClickHouseError
from ldv_inzicht.clickhouse_http.settings import SUPERVISOR, ClickHouseHttpSettings
from ldv_logboek.storage import READ_SETTINGS, ConnectionPool, Lane, StorageUnavailable


@dataclass(frozen=True)
class Result:
    """A query's answer as the engine wrote it, and what it cost."""

    data: bytes
    rows: int  # in the result
    rows_read: int  # from storage
    bytes_read: int


# A table's UUID in the engine's messages (`table default.x (6db13972-...)`): it names the
# table's directory in the store, a server detail; the message keeps the table's name.
_TABLE_UUID = re.compile(r" \([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)")


class Reader:
    """One read-only connection, used by one request at a time."""

    def __init__(self, connection: Any, path: str):
        self._connection = connection
        self._path = path  # the store's directory: never in an answer

    def run(self, sql: str, fmt: str, params: Mapping[str, str] | None = None) -> Result:
        """`sql` in output format `fmt`; engine errors become ClickHouseError, without server paths."""
        try:
            result = self._connection.query(sql, fmt, params=dict(params or {}))
        except Exception as exc:  # noqa: BLE001 - chDB raises RuntimeError with ClickHouse's message
            error = ClickHouseError.from_engine(exc)
            error.message = _TABLE_UUID.sub("", error.message).replace(self._path, "<store>")
            raise error from None
        return Result(
            data=result.bytes() or b"",
            rows=int(result.rows_read()),  # chDB's rows_read() counts the result's rows
            rows_read=int(result.storage_rows_read()),
            bytes_read=int(result.storage_bytes_read()),
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.close()


class ReaderPool:
    """At most `settings.pool_size` queries at a time, each on a reader of its user's scope."""

    def __init__(self, store_pool: ConnectionPool, path: str, settings: ClickHouseHttpSettings):
        self._path = os.path.realpath(path)
        self._settings = settings
        setup = chdb.connect(self._path)
        try:
            # Every table and view, with its columns and their types in table order (none listed
            # for a parameterised view).
            rows = setup.query(
                "SELECT t.database, t.name, c.name, c.type FROM system.tables AS t "
                "LEFT JOIN system.columns AS c ON c.database = t.database AND c.table = t.name "
                "WHERE NOT t.is_temporary ORDER BY t.database, t.name, c.position",
                "JSONCompactEachRow",
            ).bytes()
            self.version, self.timezone = json.loads(
                setup.query("SELECT version(), timezone()", "JSONCompactEachRow").bytes()
            )
        finally:
            setup.close()
        self.catalog = Catalog.from_columns(tuple(json.loads(line)) for line in rows.splitlines() if line)
        # Keyed by (scope, writer): a connection made for one scope never serves another.
        self._lane: Lane[Reader] = store_pool.lane(
            "clickhouse_http",
            settings.pool_size,
            self._open,
            Reader.close,
            wait_seconds=settings.max_execution_time,
        )

    def _open(self, key: Hashable) -> Reader:
        scope, writer = cast("tuple[str, bool]", key)
        s = self._settings
        if writer:
            # A writer (another `ldv serve` using this store): the engine's defaults, unscoped.
            return Reader(chdb.connect(self._path), self._path)
        statements = [
            f"SET max_execution_time = {s.max_execution_time}",
            "SET timeout_overflow_mode = 'throw'",
            f"SET max_result_rows = {s.max_result_rows}",
            f"SET max_result_bytes = {s.max_result_bytes}",
            "SET result_overflow_mode = 'throw'",
            f"SET max_memory_usage = {s.max_memory_usage}",
            f"SET max_threads = {s.max_threads}",
            # The records table's trace projection is skipped for small parts unless this is set:
            # Grafana's trace queries would scan instead (see ldv_logboek.storage._schema).
            f"SET {READ_SETTINGS}",
            *row_filter_settings(scope, self.catalog, supervisor=scope == SUPERVISOR),
            # Last: after this the connection cannot change any setting, nor write.
            "SET readonly = 1",
        ]
        connection = chdb.connect(self._path)
        try:
            for statement in statements:
                connection.query(statement)
        except Exception:
            connection.close()
            raise
        return Reader(connection, self._path)

    @contextlib.contextmanager
    def reader(self, scope: str, database: str = "default", *, writer: bool = False) -> Iterator[Reader]:
        """A reader of `scope` (or a writer) with `database` as its current database, for one request."""
        with contextlib.ExitStack() as stack:
            try:
                reader = stack.enter_context(self._lane.connection((scope, writer)))
            except StorageUnavailable:
                reason = "the endpoint is stopping" if self._lane.closed else "every reader is busy"
                raise ClickHouseError(439, f"Code: 439. DB::Exception: {reason} (CANNOT_SCHEDULE_TASK)") from None
            # Every request sets its database: no USE of an earlier request carries over.
            reader.run(f"USE {quote_identifier(database)}", "TabSeparated")
            yield reader

    def close(self) -> None:
        """Close every idle reader; readers in use close when their request ends."""
        self._lane.close()
