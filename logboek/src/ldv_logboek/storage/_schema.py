"""The versioned ClickHouse schema of the Logboek.

`migrate` brings a store of any earlier version to `SCHEMA_VERSION`, idempotently: each
migration is recorded in `ldv_schema_migrations` and applied once. Never edit a released
migration; add a new one.

The records table keeps the column names and types of the OpenTelemetry Collector's
ClickHouse exporter (`otel_traces`), so an organisation that already runs that exporter can
write into it, and adds the LDV columns as DEFAULT expressions over the attributes: they are
filled in whoever inserts.

Its layout since migration 5 (`_records_layout_5_ddl`): no time partitions, ordered by data
subject, granularity 256, and a `_part_offset` projection for trace lookups, so that a lookup
costs the same however many days the store keeps; why, and what retention and the migration
cost, is in docs/architecture.md ("Storage layout"). Reads add READ_SETTINGS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from ldv_logboek import attributes as attr

RECORDS_TABLE = "otel_traces"
MIGRATIONS_TABLE = "ldv_schema_migrations"
DEFAULT_RETENTION_DAYS = 3650


@dataclass(frozen=True)
class Migration:
    """One schema version. `migrate` runs `statements` in order, or calls `apply` when given.

    `apply` is for a step that must look before it acts (a copy that is safe to re-run after
    an interruption); `statements` then still lists what it runs, for reading and for tests.
    `cluster_statements`, when given, is what a fresh cluster runs instead (see cluster.py).
    """

    version: int
    description: str
    statements: tuple[str, ...]
    apply: Callable[[Client], None] | None = None
    cluster_statements: tuple[str, ...] | None = None


# The records' columns of migration 1 (the OpenTelemetry exporter's, then the LDV columns), which
# layout 5 (migration 5) keeps in the same order, names and types; IngestedAt (migration 3) follows.
_RECORDS_COLUMNS = f"""\
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
    RetentionDays UInt16 DEFAULT {DEFAULT_RETENTION_DAYS},"""

_RECORDS_DDL = f"""
CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} (
{_RECORDS_COLUMNS}
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

# Migration 5: the records layout whose lookup cost does not grow with the days retained
# (docs/architecture.md, "Storage layout"; measured in docs/benchmarks.md and bench/lookup.py).
# The columns are those of migrations 1 and 3, in the same order, with the same names and types
# (the OpenTelemetry Collector's exporter still inserts into it by column name). What changed:
# - No time partitions. A lookup probes every part of the table, and daily partitions made that
#   one part per day retained (thousands at the default retention): cost grew with retention.
#   Unpartitioned, the table settles at a handful of parts whatever the time span.
# - index_granularity 256 and compress blocks of 4-64 KiB: a citizen's ~10 records sit in one
#   or two granules, so a lookup decompresses ~256 rows per column instead of 8,192.
# - `by_trace` keeps only `_part_offset` in TraceId order (a lightweight projection): the trace
#   lookup finds the rows' offsets there and reads them from the table, at a fraction of the
#   disk and insert cost of a full copy. ClickHouse uses such a projection only for parts whose
#   estimated rows reach `min_table_rows_to_use_projection_index` (a query setting, 1,000,000 by
#   default): the store's reads set it to 0 (READ_SETTINGS), or a trace lookup scans.
# - Retention: the row TTL on RetentionDays stays. Without partitions a TTL pass rewrites the
#   parts holding expired rows instead of dropping whole parts, so it runs once a day
#   (merge_with_ttl_timeout 86,400 s instead of every 4 hours); its cost is in the docs.
# - The skip index on ProcessingActivityId covers 8,192 rows per index granule, as before.
# The COMMENT marks the layout, so the migration can tell after an interruption which table
# holds which layout.
RECORDS_LAYOUT_COMMENT = "ldv records layout 5"
RECORDS_STAGING_TABLE = f"{RECORDS_TABLE}_migrating"


def _records_layout_5_ddl(table: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {table} (
{_RECORDS_COLUMNS}
    IngestedAt DateTime64(9, 'UTC') DEFAULT now64(9) CODEC(Delta, ZSTD(1)),
    INDEX idx_activity ProcessingActivityId TYPE set(1024) GRANULARITY 32,
    PROJECTION by_trace (SELECT _part_offset ORDER BY TraceId)
)
ENGINE = MergeTree
ORDER BY (DataSubjectId, Timestamp)
TTL toDateTime(Timestamp) + toIntervalDay(RetentionDays)
SETTINGS index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 65536,
    merge_with_ttl_timeout = 86400, ttl_only_drop_parts = 0
COMMENT '{RECORDS_LAYOUT_COMMENT}'
"""


# Settings every read of the records table should carry (LogStore.find appends them): without
# the first, the `_part_offset` projection is skipped for parts under a million rows.
READ_SETTINGS = "min_table_rows_to_use_projection_index = 0"

# Every stored column of the records table (migrations 1 and 3), in table order: the copy
# names them, so DEFAULT columns keep their stored values instead of being recomputed, and
# IngestedAt keeps 1970-01-01 for records of before migration 3.
_RECORDS_STORED_COLUMNS = ", ".join(
    f"`{c}`"
    for c in (
        "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
        "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode",
        "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes", "Links.TraceId", "Links.SpanId",
        "Links.TraceState", "Links.Attributes", "Organisation", "ProcessingActivityId", "DataSubjectId",
        "DataSubjectIdType", "ForeignProcessor", "ExternalReadApi", "RetentionDays", "IngestedAt",
    )
)  # fmt: skip
_DROP_STAGING = f"DROP TABLE IF EXISTS {RECORDS_STAGING_TABLE} SYNC"
_COPY_INTO_STAGING = (
    f"INSERT INTO {RECORDS_STAGING_TABLE} ({_RECORDS_STORED_COLUMNS}) "
    f"SELECT {_RECORDS_STORED_COLUMNS} FROM {RECORDS_TABLE}"
)
_SWAP_STAGING = f"EXCHANGE TABLES {RECORDS_TABLE} AND {RECORDS_STAGING_TABLE}"
# What `_relayout_records` runs, in order, when the records table does not have layout 5 yet.
_RELAYOUT_STATEMENTS = (
    _DROP_STAGING,
    _records_layout_5_ddl(RECORDS_STAGING_TABLE),
    _COPY_INTO_STAGING,
    _SWAP_STAGING,
    _DROP_STAGING,
)


def _relayout_records(client: Client) -> None:
    """Move the records into the layout-5 table: new table, copy, swap, drop the old one.

    Safe to re-run, and an interruption at any point loses no record: the old table is only
    dropped once the swap made the full copy the records table, and the swap (EXCHANGE TABLES)
    is atomic. If the records table already has layout 5 (a run that stopped after the swap),
    only the leftover old table is dropped; otherwise a leftover partial copy is dropped and the
    copy starts again. Run it with no writer connected (migrate runs at start, before serving):
    a record inserted into the old table after the copy would be dropped with it.
    The views of migration 3 name the table, so they read the new one after the swap.
    """
    comment = client.query(
        "SELECT comment FROM system.tables WHERE database = currentDatabase() AND name = {name:String}",
        parameters={"name": RECORDS_TABLE},
    ).result_rows  # none when the table does not exist
    if comment and str(comment[0][0]) == RECORDS_LAYOUT_COMMENT:
        client.command(_DROP_STAGING)
        return
    for statement in _RELAYOUT_STATEMENTS:
        client.command(statement)


# Migration 6: the transparency log (issue #15; docs/architecture.md, "The transparency log").
# Each record the collector's writer stores carries the log it is in (LogOrigin, the origin line
# of its checkpoints), its leaf index there and its random salt; a record without LogOrigin was
# not written through a logging writer (e.g. the OpenTelemetry Collector's exporter) and shows
# up as "unlogged" in `ldv audit`. The leaves (41-byte entries and their RFC 9162 leaf hashes),
# the tile-level node hashes (tree levels 8, 16, ...: the hashes of C2SP tlog-tiles level 1,
# 2, ...) and the signed checkpoints have no TTL: a leaf outlives its record, so a record gone
# by retention is "expired", never "missing". Leaves and nodes are ReplacingMergeTree on their
# position: writing the same leaf twice (a retried insert) leaves one; every read still takes
# one row per position (LIMIT 1 BY), and `ldv audit` reports two different rows at one position.
# Granules of 256 rows: a tile (256 hashes) is one or two granules, not 8,192 rows.
LEAVES_TABLE = "ldv_tlog_leaves"
NODES_TABLE = "ldv_tlog_nodes"
CHECKPOINTS_TABLE = "ldv_tlog_checkpoints"
_TLOG_RECORD_COLUMNS_DDL = (
    f"ALTER TABLE {RECORDS_TABLE} ADD COLUMN IF NOT EXISTS LogOrigin LowCardinality(String) DEFAULT ''",
    f"ALTER TABLE {RECORDS_TABLE} ADD COLUMN IF NOT EXISTS LeafIndex UInt64 DEFAULT 0 CODEC(Delta, ZSTD(1))",
    f"ALTER TABLE {RECORDS_TABLE} ADD COLUMN IF NOT EXISTS LeafSalt FixedString(16) DEFAULT '' CODEC(NONE)",
)
_LEAVES_DDL = f"""
CREATE TABLE IF NOT EXISTS {LEAVES_TABLE} (
    Origin LowCardinality(String),
    LeafIndex UInt64 CODEC(Delta, ZSTD(1)),
    Entry FixedString(41) CODEC(NONE),
    LeafHash FixedString(32) CODEC(NONE)
)
ENGINE = ReplacingMergeTree
ORDER BY (Origin, LeafIndex)
SETTINGS index_granularity = 256
"""
_NODES_DDL = f"""
CREATE TABLE IF NOT EXISTS {NODES_TABLE} (
    Origin LowCardinality(String),
    Level UInt8,
    NodeIndex UInt64,
    Hash FixedString(32) CODEC(NONE)
)
ENGINE = ReplacingMergeTree
ORDER BY (Origin, Level, NodeIndex)
SETTINGS index_granularity = 256
"""
# Checkpoints are signed every 250 ms while records arrive (345,600 a day): kept for
# CHECKPOINTS_KEPT_DAYS, except one an hour (Keep = 1) and each writer's first, which stay. The
# trust anchors are the checkpoints auditors saved and witnesses cosigned; these are the log's
# own record of what it signed.
CHECKPOINTS_KEPT_DAYS = 30
_CHECKPOINTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINTS_TABLE} (
    Origin LowCardinality(String),
    Size UInt64,
    RootHash FixedString(32),
    Note String,
    Keep UInt8 DEFAULT 0,
    CreatedAt DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (Origin, Size, CreatedAt)
TTL toDateTime(CreatedAt) + toIntervalDay({CHECKPOINTS_KEPT_DAYS}) DELETE WHERE Keep = 0
"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "records table: OpenTelemetry exporter columns plus LDV columns, subject order, trace projection",
        (_RECORDS_DDL,),
        # A fresh cluster gets today's layout at once (migration 5's copy has nothing to copy).
        cluster_statements=(_records_layout_5_ddl(RECORDS_TABLE),),
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
    Migration(
        5,
        "records layout whose lookups do not grow with retention: no time partitions, granularity 256, "
        "lightweight trace projection; records copied into it",
        _RELAYOUT_STATEMENTS,
        apply=_relayout_records,
        # A fresh cluster creates the layout in migration 1's place (cluster.py): nothing to copy.
        cluster_statements=(),
    ),
    Migration(
        6,
        "transparency log: each record's log, leaf index and salt; leaves, tile nodes and checkpoints (no TTL)",
        _TLOG_RECORD_COLUMNS_DDL + (_LEAVES_DDL, _NODES_DDL, _CHECKPOINTS_DDL),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
# Which migrations a store has (`migrate`; a cluster's script creates it too).
MIGRATIONS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
    "(version UInt32, description String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
    "ENGINE = MergeTree ORDER BY version"
)


def migrate(client: Client, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the migrations this store lacks, in order; return the versions applied."""
    applied: list[int] = []
    client.command(MIGRATIONS_DDL)
    # The highest migration applied to this store (0 for an empty store).
    start = int(client.query(f"SELECT max(version) FROM {MIGRATIONS_TABLE}").result_rows[0][0] or 0)
    for migration in migrations:
        if migration.version <= start:
            continue
        if migration.apply is not None:
            migration.apply(client)
        else:
            for statement in migration.statements:
                client.command(statement)
        client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.description]],
            column_names=["version", "description"],
        )
        applied.append(migration.version)
    return applied
