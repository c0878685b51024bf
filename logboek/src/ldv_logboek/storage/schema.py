"""The versioned ClickHouse schema of the Logboek.

`migrate` brings a store of any earlier version to `SCHEMA_VERSION`, idempotently: each
migration is recorded in `ldv_schema_migrations` and applied once. Never edit a released
migration; add a new one.

The records table keeps the column names and types of the OpenTelemetry Collector's
ClickHouse exporter (`otel_traces`), so an organisation that already runs that exporter can
write into it, and adds the LDV columns as DEFAULT expressions over the attributes: they are
filled in whoever inserts.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from ldv_logboek import attributes as attr

RECORDS_TABLE = "otel_traces"
MIGRATIONS_TABLE = "ldv_schema_migrations"
DEFAULT_RETENTION_DAYS = 3650


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_RECORDS_DDL = f"""
CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} (
    Timestamp DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9, 'UTC'),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Organisation LowCardinality(String) DEFAULT ResourceAttributes['{attr.ORGANISATION}'],
    ProcessingActivityId LowCardinality(String) DEFAULT SpanAttributes['{attr.PROCESSING_ACTIVITY_ID}'],
    DataSubjectId String DEFAULT SpanAttributes['{attr.DATA_SUBJECT_ID}'] CODEC(ZSTD(1)),
    DataSubjectIdType LowCardinality(String) DEFAULT SpanAttributes['{attr.DATA_SUBJECT_ID_TYPE}'],
    ForeignProcessor LowCardinality(String) DEFAULT SpanAttributes['{attr.FOREIGN_OPERATION_PROCESSOR}'],
    ExternalReadApi LowCardinality(String) DEFAULT SpanAttributes['{attr.EXTERNAL_READ_API_ID}'],
    RetentionDays UInt16 DEFAULT {DEFAULT_RETENTION_DAYS},
    INDEX idx_activity ProcessingActivityId TYPE set(1024) GRANULARITY 4,
    PROJECTION by_trace (SELECT * ORDER BY TraceId, Timestamp)
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (DataSubjectId, Timestamp)
TTL toDateTime(Timestamp) + toIntervalDay(RetentionDays)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 0
"""

# The register of processing activities (migration 2). One row per activity version and per
# organisation; the full entry is kept as a JSON document, the columns beside it are what SQL
# (dashboards, joins with the records table) needs. ReplacingMergeTree on LoadedAt: reloading
# the same register file replaces rows instead of duplicating them; readers still take the
# latest row per key themselves (LIMIT 1 BY), because merges happen when ClickHouse likes.
REGISTER_VERSIONS_TABLE = "ldv_register_activity_versions"
REGISTER_ORGANISATIONS_TABLE = "ldv_register_organisations"

_REGISTER_VERSIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {REGISTER_VERSIONS_TABLE} (
    ActivityId String,
    Version UInt32,
    ValidFrom DateTime64(3, 'UTC'),
    EndedAt Nullable(DateTime64(3, 'UTC')),
    Name String,
    Controller String,
    Confidential Bool,
    ConfidentialUntil Nullable(DateTime64(3, 'UTC')),
    Document String CODEC(ZSTD(1)),
    LoadedAt DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(LoadedAt)
ORDER BY (ActivityId, Version)
"""

_REGISTER_ORGANISATIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {REGISTER_ORGANISATIONS_TABLE} (
    OrganisationId String,
    Code String,
    Name String,
    ReadApiUrl String,
    Document String CODEC(ZSTD(1)),
    LoadedAt DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(LoadedAt)
ORDER BY OrganisationId
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "records table: OpenTelemetry exporter columns plus LDV columns, subject order, trace projection",
        (_RECORDS_DDL,),
    ),
    Migration(
        2,
        "register of processing activities: activity versions and organisations",
        (_REGISTER_VERSIONS_DDL, _REGISTER_ORGANISATIONS_DDL),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(client: Client) -> int:
    """The highest migration applied to this store (0 for an empty store)."""
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(version UInt32, description String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version"
    )
    version = client.query(f"SELECT max(version) FROM {MIGRATIONS_TABLE}").result_rows[0][0]
    return int(version or 0)


def migrate(client: Client, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the migrations this store lacks, in order; return the versions applied."""
    applied: list[int] = []
    start = current_version(client)
    for migration in migrations:
        if migration.version <= start:
            continue
        for statement in migration.statements:
            client.command(statement)
        client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.description]],
            column_names=["version", "description"],
        )
        applied.append(migration.version)
    return applied
