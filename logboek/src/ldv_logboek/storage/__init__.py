"""ClickHouse storage of LDV records: client factory, versioned schema, inserts and queries.

Needs the `store` extra of ldv-logboek (clickhouse-connect, and chDB for the embedded engine).
"""

from ldv_logboek.errors import StorageError, StorageFault, StorageUnavailable
from ldv_logboek.rules import MAX_TIME_MS, MIN_TIME_MS
from ldv_logboek.storage._arrow_insert import ROWS_SCHEMA, records_of_rows, rows_table, times
from ldv_logboek.storage._audit import AuditReport, LogAudit, audit_store
from ldv_logboek.storage._client import connect, embedded_path, out_of_space, redact, storage_error
from ldv_logboek.storage._cluster import cluster_script
from ldv_logboek.storage._pool import ConnectionPool, Lane
from ldv_logboek.storage._query import (
    MAX_PAGE_SIZE,
    ActivityWindow,
    Cursor,
    Page,
    RecordQuery,
)
from ldv_logboek.storage._register_store import RegisterStore, SaveResult
from ldv_logboek.storage._schema import (
    CHECKPOINTS_TABLE,
    DASHBOARD_RECORDS_VIEW,
    DASHBOARD_REJECTIONS_VIEW,
    DASHBOARD_SUBJECTS_VIEW,
    INGESTED_AT_UNKNOWN,
    LEAVES_TABLE,
    MIGRATIONS_TABLE,
    NODES_TABLE,
    READ_SETTINGS,
    RECORDS_TABLE,
    REGISTER_ORGANISATIONS_TABLE,
    REGISTER_VERSIONS_TABLE,
    REJECTIONS_TABLE,
    SCHEMA_VERSION,
    migrate,
)
from ldv_logboek.storage._store import LogStore
from ldv_logboek.storage._tile_files import TileFiles
from ldv_logboek.storage._tile_mirror import TileMirror
from ldv_logboek.storage._tlog import LogTables, StoredTree, TransparencyLog
from ldv_logboek.storage._tlog_positions import leaf_entries, record_positions, stored_entries

__all__ = [
    "DASHBOARD_RECORDS_VIEW",
    "DASHBOARD_REJECTIONS_VIEW",
    "DASHBOARD_SUBJECTS_VIEW",
    "INGESTED_AT_UNKNOWN",
    "READ_SETTINGS",
    "REGISTER_VERSIONS_TABLE",
    "REJECTIONS_TABLE",
    "SCHEMA_VERSION",
    "ActivityWindow",
    "ConnectionPool",
    "Lane",
    "LogStore",
    "RegisterStore",
    "SaveResult",
    "Page",
    "RecordQuery",
    "StorageError",
    "StorageFault",
    "StorageUnavailable",
    "storage_error",
    "out_of_space",
    "Cursor",
    "cluster_script",
    "connect",
    "embedded_path",
    "leaf_entries",
    "migrate",
    "record_positions",
    "stored_entries",
    "redact",
    "MAX_PAGE_SIZE",
    "MAX_TIME_MS",
    "MIGRATIONS_TABLE",
    "MIN_TIME_MS",
    "RECORDS_TABLE",
    "REGISTER_ORGANISATIONS_TABLE",
    "ROWS_SCHEMA",
    "times",
    "records_of_rows",
    "rows_table",
    "CHECKPOINTS_TABLE",
    "LEAVES_TABLE",
    "NODES_TABLE",
    "LogTables",
    "StoredTree",
    "TileFiles",
    "TileMirror",
    "TransparencyLog",
    "AuditReport",
    "LogAudit",
    "audit_store",
]
