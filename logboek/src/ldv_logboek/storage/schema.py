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

# Migration 3: when each record was stored, and views for dashboards (Grafana's ClickHouse data
# source). IngestedAt is filled by the server at insert (DEFAULT now64(9)), so no writer changes.
# Rows stored before this migration keep 1970-01-01 ("unknown"): the column is added with that
# default and materialised before the default becomes now64(9). Without that step ClickHouse
# would compute now64(9) at every read of an old part, and a stalled ingest would look alive.
INGESTED_AT_UNKNOWN = "1970-01-01 00:00:00"
_INGESTED_AT_DDL = (
    f"ALTER TABLE {RECORDS_TABLE} ADD COLUMN IF NOT EXISTS "
    "IngestedAt DateTime64(9, 'UTC') DEFAULT toDateTime64(0, 9, 'UTC') CODEC(Delta, ZSTD(1))",
    f"ALTER TABLE {RECORDS_TABLE} MATERIALIZE COLUMN IngestedAt SETTINGS mutations_sync = 2",
    f"ALTER TABLE {RECORDS_TABLE} MODIFY COLUMN IngestedAt DateTime64(9, 'UTC') DEFAULT now64(9) CODEC(Delta, ZSTD(1))",
)

# The dashboard views. Dashboards need counts, not citizens' pseudonyms: the views named
# `ldv_dashboard_*` have no DataSubjectId and none of the raw attribute maps (SpanAttributes,
# Events.Attributes, Links.Attributes), which hold the subject id and may hold personal data in
# exception messages or an application's own attributes. Their `Attributes` keeps only the
# standard's `dpl.*` attributes (less the subject id) and the exception type. Distinct data
# subjects are counted inside the parameterised view DASHBOARD_SUBJECTS_VIEW, which returns one
# number. RECORDS_WITH_REGISTER_VIEW and ACTIVITY_VERSIONS_VIEW are the views' building blocks:
# the first holds DataSubjectId and the raw maps, so it is not for dashboard users.
# See docs/dashboards.md.
ACTIVITY_VERSIONS_VIEW = "ldv_register_versions_latest"
RECORDS_WITH_REGISTER_VIEW = "ldv_records_with_register"
DASHBOARD_RECORDS_VIEW = "ldv_dashboard_records"
DASHBOARD_SUBJECTS_VIEW = "ldv_dashboard_subjects"
# The span attributes dashboards see: the standard's, except the subject id.
_DASHBOARD_ATTRIBUTES = (
    f"mapFilter((k, v) -> (startsWith(k, '{attr.DPL_PREFIX}') AND k != '{attr.DATA_SUBJECT_ID}') "
    f"OR k = '{attr.EXCEPTION_TYPE}', SpanAttributes)"
)

# The latest stored row of every activity version, with the legal bases taken from the JSON
# document (laws and W3C DPV bases as parallel arrays) and the register's retention period.
_ACTIVITY_VERSIONS_DDL = f"""
CREATE VIEW IF NOT EXISTS {ACTIVITY_VERSIONS_VIEW} AS
SELECT
    ActivityId, Version, toDateTime64(ValidFrom, 9, 'UTC') AS ValidFrom, EndedAt, Name, Controller,
    Confidential, ConfidentialUntil,
    JSONExtract(Document, 'legalBasis', 'Array(Tuple(dpv String, law String, article String))') AS LegalBasis,
    arrayMap(b -> tupleElement(b, 'law'), LegalBasis) AS Laws,
    arrayMap(b -> tupleElement(b, 'dpv'), LegalBasis) AS LegalBases,
    JSONExtractString(Document, 'retentionPeriod') AS RetentionPeriod
FROM (
    SELECT * FROM {REGISTER_VERSIONS_TABLE}
    ORDER BY ActivityId, Version, LoadedAt DESC LIMIT 1 BY ActivityId, Version
)
"""

# Every record with the register version in force at its Timestamp (ASOF: the latest version
# whose ValidFrom is not after it), which decides RegisterStatus:
#   registered  a version was in force;
#   unknown     the activity id is not in the register;
#   not_valid   the activity is in the register but no version was in force (before the first
#               version, or at/after the activity's end);
#   none        the record names no activity (allowed for records about no data subject).
# RetentionUntil: Timestamp plus the register's ISO 8601 retention period (years, months, weeks,
# days; NULL without one). StorageUntil: Timestamp plus the store's TTL (RetentionDays).
_RECORDS_WITH_REGISTER_DDL = f"""
CREATE VIEW IF NOT EXISTS {RECORDS_WITH_REGISTER_VIEW} AS
SELECT
    r.Timestamp AS Timestamp, r.IngestedAt AS IngestedAt, r.TraceId AS TraceId, r.SpanId AS SpanId,
    r.ParentSpanId AS ParentSpanId, r.TraceState AS TraceState, r.SpanName AS SpanName, r.SpanKind AS SpanKind,
    r.ServiceName AS ServiceName, r.ResourceAttributes AS ResourceAttributes, r.ScopeName AS ScopeName,
    r.ScopeVersion AS ScopeVersion, r.SpanAttributes AS SpanAttributes, r.Duration AS Duration,
    r.StatusCode AS StatusCode, r.StatusMessage AS StatusMessage,
    r.`Events.Timestamp` AS `Events.Timestamp`, r.`Events.Name` AS `Events.Name`,
    r.`Events.Attributes` AS `Events.Attributes`, r.`Links.TraceId` AS `Links.TraceId`,
    r.`Links.SpanId` AS `Links.SpanId`, r.`Links.TraceState` AS `Links.TraceState`,
    r.`Links.Attributes` AS `Links.Attributes`,
    r.Organisation AS Organisation, r.ProcessingActivityId AS ProcessingActivityId,
    r.DataSubjectId AS DataSubjectId, r.DataSubjectIdType AS DataSubjectIdType,
    r.ForeignProcessor AS ForeignProcessor, r.ExternalReadApi AS ExternalReadApi, r.RetentionDays AS RetentionDays,
    multiIf(
        r.ProcessingActivityId = '', 'none',
        v.ActivityId != '' AND (v.EndedAt IS NULL OR r.Timestamp < v.EndedAt), 'registered',
        r.ProcessingActivityId IN (SELECT ActivityId FROM {REGISTER_VERSIONS_TABLE}), 'not_valid',
        'unknown'
    ) AS RegisterStatus,
    RegisterStatus = 'registered' AS Registered,
    if(Registered, v.Version, 0) AS ActivityVersion,
    if(Registered, v.Name, '') AS ActivityName,
    if(Registered, v.Controller, '') AS Controller,
    Registered AND v.Confidential AND (v.ConfidentialUntil IS NULL OR r.Timestamp < v.ConfidentialUntil)
        AS Confidential,
    if(Registered, v.Laws, []) AS Laws,
    if(Registered, v.LegalBases, []) AS LegalBases,
    if(Registered, v.RetentionPeriod, '') AS RetentionPeriod,
    if(RetentionPeriod = '', NULL,
       r.Timestamp
       + toIntervalYear(toUInt32OrZero(extract(RetentionPeriod, '^P(?:[^T]*?)([0-9]+)Y')))
       + toIntervalMonth(toUInt32OrZero(extract(RetentionPeriod, '^P(?:[^T]*?)([0-9]+)M')))
       + toIntervalWeek(toUInt32OrZero(extract(RetentionPeriod, '^P(?:[^T]*?)([0-9]+)W')))
       + toIntervalDay(toUInt32OrZero(extract(RetentionPeriod, '^P(?:[^T]*?)([0-9]+)D')))
    ) AS RetentionUntil,
    r.Timestamp + toIntervalDay(r.RetentionDays) AS StorageUntil
FROM {RECORDS_TABLE} AS r
ASOF LEFT JOIN {ACTIVITY_VERSIONS_VIEW} AS v
    ON r.ProcessingActivityId = v.ActivityId AND r.Timestamp >= v.ValidFrom
"""

_DASHBOARD_RECORDS_DDL = f"""
CREATE VIEW IF NOT EXISTS {DASHBOARD_RECORDS_VIEW} AS
SELECT
    Timestamp, IngestedAt, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, {_DASHBOARD_ATTRIBUTES} AS Attributes, Duration, StatusCode,
    `Events.Timestamp`, `Events.Name`, `Links.TraceId`, `Links.SpanId`, `Links.TraceState`,
    Organisation, ProcessingActivityId, DataSubjectIdType, ForeignProcessor, ExternalReadApi, RetentionDays,
    RegisterStatus, Registered, ActivityVersion, ActivityName, Controller, Confidential, Laws, LegalBases,
    RetentionPeriod, RetentionUntil, StorageUntil
FROM {RECORDS_WITH_REGISTER_VIEW}
"""

# One number: distinct data subjects of the records that match. A `*_all` flag set to true
# switches its filter off (Grafana's "All"; see ldv_dashboards.sql).
_DASHBOARD_SUBJECTS_DDL = f"""
CREATE VIEW IF NOT EXISTS {DASHBOARD_SUBJECTS_VIEW} AS
SELECT uniqExactIf(DataSubjectId, DataSubjectId != '') AS DataSubjects
FROM {RECORDS_WITH_REGISTER_VIEW}
WHERE Timestamp >= {{from:DateTime}} AND Timestamp <= {{to:DateTime}}
    AND ({{all_organisations:UInt8}} OR Organisation IN {{organisations:Array(String)}})
    AND ({{all_activities:UInt8}} OR ProcessingActivityId IN {{activities:Array(String)}})
    AND ({{all_laws:UInt8}} OR hasAny(Laws, {{laws:Array(String)}}))
"""

# Migration 4: rejected spans, counted per rule (ingest health). The collector refuses a span
# that breaks the standard and stores nothing of it; it only counts, per organisation, service
# and rule, and flushes the counts about once a second (ldv_collector._rejections). Counts only:
# no span content, names, ids or attribute values. A span that breaks two rules counts under
# both, so a sum over rules can exceed the spans refused. Monthly partitions and a TTL of
# REJECTIONS_TTL_DAYS (a year and a month: a year back, compared month by month): these are
# diagnostics, not records. Time first in the order: every read is a dashboard's time range.
# ServiceName and Organisation are what the sender's resource says (the authenticated sender's
# organisation when there is one); Organisation gives organisation users their own rows only.
REJECTIONS_TABLE = "ldv_ingest_rejections"
DASHBOARD_REJECTIONS_VIEW = "ldv_dashboard_rejections"
REJECTIONS_TTL_DAYS = 400

_REJECTIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {REJECTIONS_TABLE} (
    Timestamp DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    Organisation LowCardinality(String),
    ServiceName LowCardinality(String),
    Rule LowCardinality(String),
    Spans UInt32
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (Timestamp, Organisation, Rule)
TTL toDateTime(Timestamp) + toIntervalDay({REJECTIONS_TTL_DAYS})
"""

_DASHBOARD_REJECTIONS_DDL = f"""
CREATE VIEW IF NOT EXISTS {DASHBOARD_REJECTIONS_VIEW} AS
SELECT Timestamp, Organisation, ServiceName, Rule, Spans
FROM {REJECTIONS_TABLE}
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
    Migration(
        3,
        "ingest time of every record (IngestedAt) and the dashboard views without data subject ids",
        _INGESTED_AT_DDL
        + (_ACTIVITY_VERSIONS_DDL, _RECORDS_WITH_REGISTER_DDL, _DASHBOARD_RECORDS_DDL, _DASHBOARD_SUBJECTS_DDL),
    ),
    Migration(
        4,
        "rejected spans counted per organisation, service and rule (counts only), and their dashboard view",
        (_REJECTIONS_DDL, _DASHBOARD_REJECTIONS_DDL),
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
