"""What a user may read: the relations of the store by kind, and each scope's filters and allowlist.

Two rules, both enforced by the engine:

- **Rows**: an organisation user's query never sees a row of another organisation, whatever
  expression it writes (no message, status, count or timing may depend on such a row). Three
  parts, each needed (the attacks they stop are in docs/architecture.md):
  1. The query runs inside `Access.scope_prefix`: every relation with an `Organisation` column that the
     user may read is a CTE of the same name, `SELECT <columns> FROM <db>.<relation> WHERE
     Organisation = '<code>'`, with every `LowCardinality` cast away. The user's query is the
     body of `SELECT * FROM (...)` under those CTEs, so its unqualified names resolve to them
     (a CTE comes before a table of the same name), and PREWHERE, which reads a table before
     any filter, is refused by the engine on a CTE (code 182). The cast matters: a function of
     a LowCardinality column runs on the column's dictionary, which keeps every value of the
     part it was read from (another organisation's too) after the rows are filtered.
  2. `SCOPE_SETTINGS` on the reader, before `readonly=1`: no filter push-down, no merged
     filters, no skip indexes (which run a condition on index values), no shared condition
     cache. The user's expressions stay in plan steps above the CTE's filter.
  3. `additional_table_filters` with `Organisation = '<code>'` for every relation with that
     column, as before: it scopes the reads inside views (a dashboard view over the records).
  A qualified name of a scoped relation (`default.otel_traces`, as Grafana's query builder
  writes it) would bypass the CTE: outside string literals it is rewritten to the unqualified
  name first (`Access.unqualified`).
- **Relations**: a query may only touch the relations its user's scope allows, as the engine
  itself resolves them (`EXPLAIN QUERY TREE`, see `admission`): the store's tables and views
  (for an organisation user: those with an `Organisation` column and the public register), a few
  `system` tables of schema metadata, and a few table functions that read no stored data.
  Everything else is refused: `merge()`, `mergeTreeIndex()` and other table functions that read a
  table's parts without its filters, other `system` tables (queries of other users, parts), and
  without `raw_rows` the relations that hold a citizen's pseudonym or the raw attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ldv_inzicht.clickhouse_http.settings import ClickHouseUser
from ldv_logboek.storage import MIGRATIONS_TABLE, REGISTER_ORGANISATIONS_TABLE, REGISTER_VERSIONS_TABLE

ORGANISATION_COLUMN = "Organisation"
# Columns that carry a citizen's pseudonym or the raw attributes (which hold it too): a relation
# with any of them is "raw", served only to users with `raw_rows`.
RAW_COLUMNS = frozenset({"DataSubjectId", "SpanAttributes", "Events.Attributes", "Links.Attributes"})
# Relations without an Organisation column that every user may read: the public register of
# processing activities and organisations (its tables and the views over them, all named
# `ldv_register*`), and the schema version.
PUBLIC_TABLES = frozenset({REGISTER_VERSIONS_TABLE, REGISTER_ORGANISATIONS_TABLE, MIGRATIONS_TABLE})
PUBLIC_PREFIX = "ldv_register"
# Views for dashboards. Those without an Organisation column (e.g. a parameterised view that
# returns one count) are served to organisation users too: by the schema's contract they read
# only relations with an Organisation column or the register, and the engine's row filter on
# those reaches through every view.
# A parameterised view lists no columns; one named ldv_dashboard_* is taken to hold no raw columns.
DASHBOARD_PREFIX = "ldv_dashboard_"
# Schema metadata that clients (Grafana's query editor, clickhouse-connect) read; `one` and the
# number generators are what a SELECT without FROM or a series reads. Nothing here holds records
# or other users' queries.
SYSTEM_TABLES = frozenset(
    f"system.{name}"
    for name in (
        "one", "numbers", "numbers_mt", "zeros", "zeros_mt", "columns", "tables", "databases", "settings",
        "functions", "table_functions", "data_type_families", "formats", "time_zones", "table_engines",
    )
)  # fmt: skip
# Table functions that read no stored data (`format` parses data written in the query itself).
TABLE_FUNCTIONS = frozenset(
    {"numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateSeries", "values", "null", "format"}
)
# Scalar functions that read outside the query: files beside the process, joins and dictionaries
# (which would read tables without their filters), HTTP request details.
DENIED_FUNCTIONS = frozenset(
    {"file", "joinGet", "joinGetOrNull", "evalMLMethod", "catboostEvaluate", "getClientHTTPHeader", "currentRequestURL"}
)
DENIED_FUNCTION_PREFIXES = ("dictGet", "dictHas", "dictIsIn")
# Server details a dashboard does not need (paths, host names, configuration): refused as functions.
DENIED_SERVER_FUNCTIONS = frozenset(
    name.lower()
    for name in (
        "getServerSetting", "getMergeTreeSetting", "hostName", "hostname", "fqdn", "fullHostName", "getMacro",
        "serverUUID", "getOSKernelVersion", "filesystemAvailable", "filesystemCapacity", "filesystemUnreserved",
        "filesystemFree", "tcpPort", "getServerPort", "buildId", "currentProfiles", "enabledProfiles",
        "defaultProfiles", "currentRoles", "enabledRoles", "defaultRoles", "zookeeperSessionUptime",
    )
)  # fmt: skip
# Columns of the served system tables that hold a server path, host or configuration value.
DENIED_SYSTEM_COLUMNS = {
    "system.databases": frozenset({"data_path", "metadata_path", "uuid"}),
    "system.tables": frozenset({"data_paths", "metadata_path", "storage_policy", "uuid"}),
}
# Settings of an organisation user's readers that keep the user's expressions in plan steps above
# the scope's filter (see the module docstring): each was needed in the attack tests.
SCOPE_SETTINGS = (
    "query_plan_filter_push_down = 0",
    "enable_optimize_predicate_expression = 0",
    "query_plan_merge_filters = 0",
    "use_skip_indexes = 0",
    "use_query_condition_cache = 0",
)
# Databases whose tables are catalogued (the store's); information_schema mirrors system.
_NOT_STORE_DATABASES = frozenset({"system", "INFORMATION_SCHEMA", "information_schema"})


@dataclass(frozen=True)
class Relation:
    """A table or view of the store, by what its columns allow."""

    name: str  # database.table
    columns: frozenset[str]
    types: tuple[tuple[str, str], ...] = ()  # (column, type) in table order; empty when unknown

    @property
    def by_organisation(self) -> bool:
        return ORGANISATION_COLUMN in self.columns

    @property
    def raw(self) -> bool:
        # A parameterised view lists no columns: unknown counts as raw, except for a dashboard view.
        if not self.columns:
            return not self.for_dashboards
        return bool(self.columns & RAW_COLUMNS)

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[-1]

    @property
    def database(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def public(self) -> bool:
        return self.table in PUBLIC_TABLES or self.table.startswith(PUBLIC_PREFIX)

    @property
    def for_dashboards(self) -> bool:
        return self.table.startswith(DASHBOARD_PREFIX)


@dataclass(frozen=True)
class Catalog:
    """The store's relations, read once from `system.columns` when the endpoint starts.

    A table or view created later is unknown, so refused, until the endpoint restarts.
    """

    relations: Mapping[str, Relation]

    @classmethod
    def from_columns(cls, rows: Iterable[tuple[str, ...]]) -> Catalog:
        """From `(database, table, column[, type])` rows in column order; column '' for a relation without listed columns."""
        columns: dict[str, list[tuple[str, str]]] = {}
        for database, table, column, *rest in rows:
            if database in _NOT_STORE_DATABASES:
                continue
            names = columns.setdefault(f"{database}.{table}", [])
            if column:
                names.append((column, rest[0] if rest else ""))
        return cls(
            {
                name: Relation(name, frozenset(c for c, _ in cols), tuple(cols) if all(t for _, t in cols) else ())
                for name, cols in columns.items()
            }
        )


def sql_string(text: str) -> str:
    """A ClickHouse string literal of `text`."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def without_low_cardinality(type_name: str) -> str:
    """`type_name` with every `LowCardinality(T)` replaced by `T` (also inside Map, Array, Tuple)."""
    marker = "LowCardinality("
    while (start := type_name.find(marker)) >= 0:
        depth, end = 1, start + len(marker)
        while depth:
            depth += {"(": 1, ")": -1}.get(type_name[end], 0)
            end += 1
        type_name = type_name[:start] + type_name[start + len(marker) : end - 1] + type_name[end:]
    return type_name


def scoped_relation(relation: Relation, scope: str) -> str:
    """The CTE that stands for `relation` in a query of `scope`: its rows of `scope`, without LowCardinality."""
    columns = []
    for column, type_name in relation.types:
        name = quote_identifier(column)
        plain = without_low_cardinality(type_name)
        columns.append(f"CAST({name}, {sql_string(plain)}) AS {name}" if plain != type_name else name)
    source = f"{quote_identifier(relation.database)}.{quote_identifier(relation.table)}"
    return (
        f"{quote_identifier(relation.table)} AS (SELECT {', '.join(columns)} FROM {source} "
        f"WHERE {ORGANISATION_COLUMN} = {sql_string(scope)})"
    )


def _qualified_pattern(relations: Iterable[Relation]) -> re.Pattern[str] | None:
    """Tokens of a canonical (formatQuery) text: a string literal, a quoted identifier, or a
    database-qualified name of one of `relations` (group `table`: the name without its database).

    Literals and quoted identifiers come first, so nothing inside them is taken for a name.
    """
    alternatives = []
    for relation in relations:
        database = rf"(?:(?<![\w.`]){re.escape(relation.database)}\b|{re.escape(quote_identifier(relation.database))})"
        table = rf"(?:{re.escape(relation.table)}\b|{re.escape(quote_identifier(relation.table))})"
        alternatives.append(rf"{database}\s*\.\s*{table}")
    if not alternatives:
        return None
    names = "|".join(f"(?:{a})" for a in alternatives)
    return re.compile(
        r"(?P<literal>'(?:[^'\\]|\\.)*')"
        rf"|(?P<qualified>{names})"
        r"|(?P<quoted>`(?:[^`\\]|\\.)*`)"
    )


@dataclass(frozen=True)
class Access:
    """What one user may read, and for an organisation user the CTEs its queries run under."""

    scope: str
    relations: frozenset[str]  # database.table, the store's and system's
    # For an organisation user: (relation's table name, its CTE) of every scoped relation it may read.
    scope_ctes: tuple[tuple[str, str], ...] = ()
    qualified_reference: re.Pattern[str] | None = field(default=None, compare=False)

    @property
    def scoped_relations(self) -> frozenset[str]:
        """The relations (database.table) this user reads only through the scope's CTEs."""
        return frozenset(name for name in self.relations if name.split(".", 1)[-1] in dict(self.scope_ctes))

    def scope_prefix(self, sql: str) -> str:
        """`WITH <cte>, ... ` for the scoped relations `sql` names ('' when none, or for a supervisor).

        A relation can only be read through its name, so a CTE for a name the text does not hold
        is not needed (a substring test: a superset is harmless).
        """
        ctes = [cte for table, cte in self.scope_ctes if table in sql]
        return "WITH " + ", ".join(ctes) + " " if ctes else ""

    def unqualified(self, sql: str) -> str:
        """`sql` (canonical) with every database-qualified name of a scoped relation made unqualified."""
        if self.qualified_reference is None:
            return sql

        def replace(match: re.Match[str]) -> str:
            if match.group("qualified") is None:
                return match.group(0)
            return match.group(0).split(".", 1)[1].strip()  # a database name has no dot

        return self.qualified_reference.sub(replace, sql)

    @classmethod
    def for_user(cls, user: ClickHouseUser, catalog: Catalog) -> Access:
        allowed = set(SYSTEM_TABLES)
        for relation in catalog.relations.values():
            if relation.raw and not user.raw_rows:
                continue
            if not user.is_supervisor and relation.by_organisation and not relation.types:
                continue  # without its column types there is no CTE to scope it by: not served
            if user.is_supervisor or relation.by_organisation or relation.public or relation.for_dashboards:
                allowed.add(relation.name)
        ctes: tuple[tuple[str, str], ...] = ()
        pattern = None
        if not user.is_supervisor:
            scoped = [
                r for name, r in sorted(catalog.relations.items()) if r.by_organisation and name in allowed and r.types
            ]
            ctes = tuple((r.table, scoped_relation(r, user.scope)) for r in scoped)
            pattern = _qualified_pattern(scoped)
        return cls(
            scope=user.scope,
            relations=frozenset(allowed),
            scope_ctes=ctes,
            qualified_reference=pattern,
        )


def row_filter_settings(scope: str, catalog: Catalog, *, supervisor: bool) -> list[str]:
    """The `SET` statements that scope a reader connection's rows to `scope` (none for a supervisor)."""
    if supervisor:
        return []
    condition = f"{ORGANISATION_COLUMN} = {sql_string(scope)}"
    entries = [
        f"{sql_string(r.name)}: {sql_string(condition)}" for r in catalog.relations.values() if r.by_organisation
    ]
    if not entries:
        return []
    return [
        "SET additional_table_filters = {" + ", ".join(sorted(entries)) + "}",
        *(f"SET {setting}" for setting in SCOPE_SETTINGS),
    ]
