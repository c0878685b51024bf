"""The SQL of every panel, variable and alert rule, as the ClickHouse plugin receives it.

Everything reads the dashboard views of schema migrations 3 and 4 (`ldv_dashboard_*`) and the public
register table, never the records table, so no query sees a data subject id. Macros are the plugin's (`$__timeFilter`,
`$__timeInterval`, `$__conditionalAll`, `$__fromTime`/`$__toTime`) and Grafana's variables
(`${organisation:singlequote}`); tests/dashboards expands them as the plugin does and runs
every statement on a seeded store.

Counts are of distinct records, the shown-once rule's fragments (`ldv_logboek.rules`: `count_once`,
`SHOWN_ONCE`): senders retry, so a record may be stored twice, and counts it once (the read and
overzicht APIs use the same fragments).
"""

from __future__ import annotations

from ldv_logboek.rules import SHOWN_ONCE, count_once
from ldv_logboek.storage import (
    DASHBOARD_RECORDS_VIEW,
    DASHBOARD_REJECTIONS_VIEW,
    DASHBOARD_SUBJECTS_VIEW,
    INGESTED_AT_UNKNOWN,
    REGISTER_VERSIONS_TABLE,
)

RECORDS = DASHBOARD_RECORDS_VIEW
COUNT = count_once()
ERRORS = count_once("StatusCode = 'Error'")

# The dashboard variables' filters. `$__conditionalAll` turns a filter into 1=1 when "All" is
# chosen (or nothing is); its second argument must be the bare `$name` (the plugin looks the
# variable up by what follows the `$`).
ORGANISATION_FILTER = "$__conditionalAll(Organisation IN (${organisation:singlequote}), $organisation)"
ACTIVITY_FILTER = "$__conditionalAll(ProcessingActivityId IN (${activity:singlequote}), $activity)"
LAW_FILTER = "$__conditionalAll(hasAny(Laws, [${legal_basis:singlequote}]), $legal_basis)"
FILTERS = f"{ORGANISATION_FILTER}\n  AND {ACTIVITY_FILTER}\n  AND {LAW_FILTER}"
WHERE = f"WHERE $__timeFilter(Timestamp)\n  AND {FILTERS}"

# Register states that a supervisor must look at (see the records view in schema.py).
NOT_REGISTERED = "RegisterStatus IN ('unknown', 'not_valid')"
# Records stored before migration 3 have no known ingest time.
INGEST_KNOWN = f"IngestedAt > toDateTime64('{INGESTED_AT_UNKNOWN}', 9, 'UTC')"

# --- variables -----------------------------------------------------------------------------

VAR_ORGANISATIONS = f"SELECT DISTINCT Organisation FROM {RECORDS} WHERE $__timeFilter(Timestamp) ORDER BY Organisation"
# Two columns: the value (the activity id) and the label Grafana shows (its name in the register).
VAR_ACTIVITIES = (
    "SELECT ProcessingActivityId, if(any(ActivityName) != '', any(ActivityName), ProcessingActivityId)\n"
    f"FROM {RECORDS}\nWHERE $__timeFilter(Timestamp) AND ProcessingActivityId != ''\n  AND {ORGANISATION_FILTER}\n"
    "GROUP BY ProcessingActivityId ORDER BY 2"
)
# The register is public: every law any version of any activity names.
VAR_LAWS = (
    "SELECT DISTINCT tupleElement(arrayJoin(JSONExtract(Document, 'legalBasis', 'Array(Tuple(law String))')), 'law') AS law\n"
    f"FROM {REGISTER_VERSIONS_TABLE}\nORDER BY law"
)

# --- stats ---------------------------------------------------------------------------------

STAT_PROCESSINGS = f"SELECT {COUNT} AS Verwerkingen\nFROM {RECORDS}\n{WHERE}"
# Distinct data subjects are counted inside the parameterised view: no query sees an id.
# A `*_all` argument is true when the variable is on "All", which switches that filter off.
STAT_SUBJECTS = (
    f"SELECT DataSubjects AS Betrokkenen\nFROM {DASHBOARD_SUBJECTS_VIEW}(\n"
    "  from = $__fromTime, to = $__toTime,\n"
    "  organisations = [${organisation:singlequote}], all_organisations = ($__conditionalAll(0, $organisation)),\n"
    "  activities = [${activity:singlequote}], all_activities = ($__conditionalAll(0, $activity)),\n"
    "  laws = [${legal_basis:singlequote}], all_laws = ($__conditionalAll(0, $legal_basis)))"
)
STAT_ERROR_SHARE = (
    f"SELECT if(total = 0, 0, errors / total) AS Foutaandeel\nFROM (\n"
    f"  SELECT {COUNT} AS total, {ERRORS} AS errors\n"
    f"  FROM {RECORDS}\n  {WHERE})"
)
STAT_UNREGISTERED = (
    f"SELECT {count_once(NOT_REGISTERED)} AS \"Niet geregistreerd\"\nFROM {RECORDS}\n{WHERE}"
)
STAT_CONFIDENTIAL = f"SELECT {count_once('Confidential')} AS Vertrouwelijk\nFROM {RECORDS}\n{WHERE}"

# --- over time -----------------------------------------------------------------------------

SERIES_PER_ORGANISATION = (
    f"SELECT $__timeInterval(Timestamp) AS time, Organisation, {COUNT} AS Verwerkingen\n"
    f"FROM {RECORDS}\n{WHERE}\nGROUP BY time, Organisation\nORDER BY time, Organisation"
)
SERIES_PER_ACTIVITY = (
    "SELECT $__timeInterval(Timestamp) AS time,\n"
    "  if(ActivityName != '', ActivityName, ProcessingActivityId) AS Activiteit, "
    f"{COUNT} AS Verwerkingen\n"
    f"FROM {RECORDS}\n{WHERE}\nGROUP BY time, Activiteit\nORDER BY time, Activiteit"
)

# --- register ------------------------------------------------------------------------------

# One row per law and legal basis in the version in force at each record; a record under two
# laws counts under both, a record without a registered version under "(niet in register)".
TABLE_PER_LAW = (
    "SELECT if(Wet = '', '(niet in register)', Wet) AS Wet, Grondslag, "
    f"{COUNT} AS Verwerkingen\n"
    f"FROM {RECORDS}\nLEFT ARRAY JOIN Laws AS Wet, LegalBases AS Grondslag\n{WHERE}\n"
    "GROUP BY Wet, Grondslag\nORDER BY Verwerkingen DESC, Wet, Grondslag"
)
TABLE_TOP_ACTIVITIES = (
    "SELECT if(ActivityName != '', ActivityName, ProcessingActivityId) AS Activiteit, Organisation AS Organisatie,\n"
    f"  {COUNT} AS Verwerkingen, {ERRORS} AS Fouten,\n"
    "  round(100 * Fouten / Verwerkingen, 1) AS \"Fout %\"\n"
    f"FROM {RECORDS}\n{WHERE}\nGROUP BY Activiteit, Organisatie\n"
    "ORDER BY Verwerkingen DESC, Activiteit\nLIMIT 20"
)
# Each record once (LIMIT 1 BY), newest first; TraceId links to the Verwerking dashboard.
TABLE_NOT_REGISTERED = (
    "SELECT Timestamp AS Tijd, Organisation AS Organisatie, ProcessingActivityId AS Activiteit,\n"
    "  RegisterStatus AS Registerstatus, SpanName AS Handeling, TraceId\n"
    f"FROM {RECORDS}\n{WHERE}\n  AND {NOT_REGISTERED}\n"
    f"ORDER BY Tijd DESC, TraceId, SpanId\n{SHOWN_ONCE}\nLIMIT 500"
)

# --- flows ---------------------------------------------------------------------------------

# A flow is a call from one organisation's processing to another's: a record whose parent
# span (same trace, ParentSpanId = SpanId) belongs to another organisation in this Logboek.
# When the parent is not here, the caller named in dpl.core.foreign_operation.processor is
# the source. The node graph panel needs two frames, refIds "nodes" and "edges".
_FLOW_PAIRS = (
    "SELECT if(p.Organisation != '', p.Organisation, c.ForeignProcessor) AS source, c.Organisation AS target,\n"
    "    c.TraceId AS TraceId, c.SpanId AS SpanId\n"
    f"  FROM {RECORDS} AS c\n"
    f"  LEFT JOIN (SELECT TraceId, SpanId, Organisation FROM {RECORDS} WHERE $__timeFilter(Timestamp)) AS p\n"
    "    ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId\n"
    "  WHERE $__timeFilter(c.Timestamp) AND c.ParentSpanId != ''\n"
    "    AND ((p.Organisation != '' AND p.Organisation != c.Organisation) OR (p.Organisation = '' AND c.ForeignProcessor != ''))\n"
    "    AND ($__conditionalAll(c.Organisation IN (${organisation:singlequote}), $organisation)\n"
    "      OR $__conditionalAll(p.Organisation IN (${organisation:singlequote}), $organisation))"
)
FLOW_EDGES = (
    "SELECT concat(source, ' -> ', target) AS id, source, target, "
    f"{COUNT} AS mainstat\n"
    f"FROM (\n  {_FLOW_PAIRS})\nGROUP BY source, target\nORDER BY source, target"
)
FLOW_NODES = (
    "SELECT party AS id, party AS title, sum(calls) AS mainstat\n"
    "FROM (\n"
    f"  SELECT arrayJoin([source, target]) AS party, {COUNT} AS calls\n"
    f"  FROM (\n  {_FLOW_PAIRS})\n"
    "  GROUP BY party)\nGROUP BY party\nORDER BY party"
)

# --- retention -----------------------------------------------------------------------------

# What is still stored now, whatever the dashboard's time range: records past the retention
# period their register version states, and records past the store's TTL that ClickHouse has
# not removed yet (TTL is applied when parts merge).
TABLE_RETENTION = (
    "SELECT Organisation AS Organisatie, if(ActivityName != '', ActivityName, ProcessingActivityId) AS Activiteit,\n"
    "  any(RetentionPeriod) AS Bewaartermijn,\n"
    f"  {count_once('RetentionUntil < now64(9)')} AS \"Voorbij bewaartermijn\",\n"
    f"  {count_once('StorageUntil < now64(9)')} AS \"Voorbij TTL\",\n"
    "  min(Timestamp) AS Oudste\n"
    f"FROM {RECORDS}\nWHERE {FILTERS}\n"
    "GROUP BY Organisatie, Activiteit\n"
    "HAVING \"Voorbij bewaartermijn\" > 0 OR \"Voorbij TTL\" > 0\n"
    "ORDER BY \"Voorbij bewaartermijn\" DESC, Organisatie, Activiteit"
)

# --- ingest health -------------------------------------------------------------------------

# From the end of the processing (Timestamp + Duration) to the moment the store committed it.
_DELAY_MS = "(toUnixTimestamp64Milli(IngestedAt) - toUnixTimestamp64Milli(Timestamp) - intDiv(Duration, 1000000))"
SERIES_INGEST_DELAY = (
    "SELECT $__timeInterval(IngestedAt) AS time,\n"
    f"  quantileExact(0.5)({_DELAY_MS}) / 1000 AS \"Vertraging p50\",\n"
    f"  max({_DELAY_MS}) / 1000 AS \"Vertraging max\"\n"
    f"FROM {RECORDS}\nWHERE $__timeFilter(IngestedAt) AND {INGEST_KNOWN}\n  AND {FILTERS}\n"
    "GROUP BY time\nORDER BY time"
)
SERIES_INGESTED = (
    f"SELECT $__timeInterval(IngestedAt) AS time, {COUNT} AS Opgeslagen\n"
    f"FROM {RECORDS}\nWHERE $__timeFilter(IngestedAt) AND {INGEST_KNOWN}\n  AND {FILTERS}\n"
    "GROUP BY time\nORDER BY time"
)
# Seconds since the last record was stored, over the whole store (an ingest stall).
STAT_SINCE_LAST_INGEST = (
    "SELECT dateDiff('second', max(IngestedAt), now64(9)) AS \"Sinds laatste opslag\"\n"
    f"FROM {RECORDS}\nWHERE {INGEST_KNOWN}"
)

# Spans the collector refused, per rule, from its counts (schema migration 4: counts only, no
# span content). A span that broke two rules counts under both. Timestamp is when the collector
# stored the counts (within about a second of the refusal). An organisation user's data source
# sees its own organisation's counts only (the endpoint's row filter).
SERIES_REJECTIONS = (
    "SELECT $__timeInterval(Timestamp) AS time, Rule AS Regel, sum(Spans) AS \"Geweigerde spans\"\n"
    f"FROM {DASHBOARD_REJECTIONS_VIEW}\nWHERE $__timeFilter(Timestamp)\n  AND {ORGANISATION_FILTER}\n"
    "GROUP BY time, Regel\nORDER BY time, Regel"
)

# --- one processing (trace view) -----------------------------------------------------------

# The plugin's own OTel trace-id query shape (its sqlGenerator), on the dashboard view, which
# keeps the OpenTelemetry columns except the raw attribute maps: tags come from its curated
# `Attributes`, and events and links carry no attributes.
TRACE = (
    "SELECT TraceId AS traceID, SpanId AS spanID, ParentSpanId AS parentSpanID,\n"
    "  ServiceName AS serviceName, SpanName AS operationName,\n"
    "  multiply(toUnixTimestamp64Nano(Timestamp), 0.000001) AS startTime,\n"
    "  multiply(Duration, 0.000001) AS duration,\n"
    "  arrayMap(key -> map('key', key, 'value', Attributes[key]), mapKeys(Attributes)) AS tags,\n"
    "  arrayMap(key -> map('key', key, 'value', ResourceAttributes[key]), mapKeys(ResourceAttributes)) AS serviceTags,\n"
    "  if(StatusCode IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) AS statusCode,\n"
    "  arrayMap((name, timestamp) -> tuple(name, toString(toUnixTimestamp64Milli(timestamp)), [])"
    "::Tuple(name String, timestamp String, fields Array(Map(String, String))), "
    "Events.Name, Events.Timestamp) AS logs,\n"
    "  arrayMap((traceID, spanID) -> tuple(traceID, spanID, [])"
    "::Tuple(traceID String, spanID String, tags Array(Map(String, String))), "
    "Links.TraceId, Links.SpanId) AS references,\n"
    "  SpanKind AS kind, TraceState AS traceState\n"
    f"FROM {RECORDS}\nWHERE TraceId = ${{trace_id:singlequote}}\n"
    f"ORDER BY Timestamp, SpanId\n{SHOWN_ONCE}\nLIMIT 1000"
)
TRACE_TABLE = (
    "SELECT Timestamp AS Tijd, Organisation AS Organisatie,\n"
    "  if(ActivityName != '', ActivityName, ProcessingActivityId) AS Activiteit, RegisterStatus AS Registerstatus,\n"
    "  arrayStringConcat(Laws, '; ') AS Wetten, Confidential AS Vertrouwelijk, StatusCode AS Status,\n"
    "  SpanName AS Handeling, SpanId\n"
    f"FROM {RECORDS}\nWHERE TraceId = ${{trace_id:singlequote}}\n"
    f"ORDER BY Tijd, SpanId\n{SHOWN_ONCE}\nLIMIT 1000"
)
# The latest processings, to pick one (each row links to itself in the trace view).
TABLE_RECENT_TRACES = (
    "SELECT TraceId, min(Timestamp) AS Begin, groupUniqArray(Organisation) AS Organisaties, "
    f"{COUNT} AS Handelingen,\n"
    "  countIf(StatusCode = 'Error') > 0 AS Fout\n"
    f"FROM {RECORDS}\n{WHERE}\nGROUP BY TraceId\nORDER BY Begin DESC, TraceId\nLIMIT 100"
)

# --- alert rules (no dashboard variables: they run in Grafana's alerting engine) -------------

ALERT_UNREGISTERED = (
    f"SELECT {count_once(NOT_REGISTERED)} AS unregistered\n"
    f"FROM {RECORDS}\nWHERE $__timeFilter(Timestamp)"
)
ALERT_ERROR_SHARE = (
    "SELECT if(total = 0, 0, errors / total) AS error_share\nFROM (\n"
    f"  SELECT {COUNT} AS total, {ERRORS} AS errors\n"
    f"  FROM {RECORDS}\n  WHERE $__timeFilter(Timestamp))"
)
ALERT_INGEST_STALL = (
    "SELECT dateDiff('second', max(IngestedAt), now64(9)) AS seconds_since_last_ingest\n"
    f"FROM {RECORDS}\nWHERE {INGEST_KNOWN}"
)
