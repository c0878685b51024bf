"""ClickHouse storage of LDV records: client factory, versioned schema, inserts and queries.

Needs the `store` extra of ldv-logboek (clickhouse-connect, and chDB for the embedded engine).
"""

from ldv_logboek.errors import StorageError, StorageFault, StorageUnavailable
from ldv_logboek.storage.client import connect, embedded_path, redact, storage_error
from ldv_logboek.storage.cluster import cluster_script
from ldv_logboek.storage.pool import ConnectionPool, Lane
from ldv_logboek.storage.query import ActivityWindow, Cursor, Page, RecordQuery
from ldv_logboek.storage.schema import (
    DASHBOARD_RECORDS_VIEW,
    DASHBOARD_REJECTIONS_VIEW,
    DASHBOARD_SUBJECTS_VIEW,
    INGESTED_AT_UNKNOWN,
    READ_SETTINGS,
    REGISTER_VERSIONS_TABLE,
    REJECTIONS_TABLE,
    SCHEMA_VERSION,
    migrate,
)
from ldv_logboek.storage.store import DEFAULT_READERS, LogStore

__all__ = [
    "DASHBOARD_RECORDS_VIEW",
    "DASHBOARD_REJECTIONS_VIEW",
    "DASHBOARD_SUBJECTS_VIEW",
    "INGESTED_AT_UNKNOWN",
    "READ_SETTINGS",
    "REGISTER_VERSIONS_TABLE",
    "REJECTIONS_TABLE",
    "SCHEMA_VERSION",
    "DEFAULT_READERS",
    "ActivityWindow",
    "ConnectionPool",
    "Lane",
    "LogStore",
    "Page",
    "RecordQuery",
    "StorageError",
    "StorageFault",
    "StorageUnavailable",
    "storage_error",
    "Cursor",
    "cluster_script",
    "connect",
    "embedded_path",
    "migrate",
    "redact",
]
