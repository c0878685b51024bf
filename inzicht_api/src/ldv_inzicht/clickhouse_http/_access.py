"""What a user may read: the relations of the store by kind, and each scope's filters and allowlist.

Two rules, both enforced by the engine:

- **Rows**: an organisation-scoped user's reader connections carry ClickHouse's
  `additional_table_filters` with `Organisation = '<code>'` for every table and view that has an
  `Organisation` column, set before `readonly=1` (after which no query can change it). The engine
  adds the filter to every read of those relations: in subqueries, joins, CTEs, `IN`, and in
  views reading them.
- **Relations**: a query may only touch the relations its user's scope allows, as the engine
  itself resolves them (`EXPLAIN QUERY TREE`, see `admission`): the store's tables and views
  (for an organisation user: those with an `Organisation` column and the public register), a few
  `system` tables of schema metadata, and a few table functions that read no stored data.
  Everything else is refused: `merge()`, `mergeTreeIndex()` and other table functions that read a
  table's parts without its filters, other `system` tables (queries of other users, parts), and
  without `raw_rows` the relations that hold a citizen's pseudonym or the raw attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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
# Databases whose tables are catalogued (the store's); information_schema mirrors system.
_NOT_STORE_DATABASES = frozenset({"system", "INFORMATION_SCHEMA", "information_schema"})


@dataclass(frozen=True)
class Relation:
    """A table or view of the store, by what its columns allow."""

    name: str  # database.table
    columns: frozenset[str]

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
    def from_columns(cls, rows: Iterable[tuple[str, str, str]]) -> Catalog:
        """From `(database, table, column)` rows; column '' for a relation without listed columns."""
        columns: dict[str, set[str]] = {}
        for database, table, column in rows:
            if database in _NOT_STORE_DATABASES:
                continue
            names = columns.setdefault(f"{database}.{table}", set())
            if column:
                names.add(column)
        return cls({name: Relation(name, frozenset(cols)) for name, cols in columns.items()})


def sql_string(text: str) -> str:
    """A ClickHouse string literal of `text`."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Access:
    """What one user may read."""

    scope: str
    raw_rows: bool
    relations: frozenset[str]  # database.table, the store's and system's

    @classmethod
    def for_user(cls, user: ClickHouseUser, catalog: Catalog) -> Access:
        allowed = set(SYSTEM_TABLES)
        for relation in catalog.relations.values():
            if relation.raw and not user.raw_rows:
                continue
            if user.is_supervisor or relation.by_organisation or relation.public or relation.for_dashboards:
                allowed.add(relation.name)
        return cls(scope=user.scope, raw_rows=user.raw_rows, relations=frozenset(allowed))


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
    return ["SET additional_table_filters = {" + ", ".join(sorted(entries)) + "}"]
