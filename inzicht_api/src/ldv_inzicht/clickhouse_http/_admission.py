"""Which queries a reader runs: one statement, of a reading kind, touching only what the user may read.

The engine decides each step, on the user's own read-only reader:

1. `formatQuery()` parses the text with ClickHouse's parser and prints it back in canonical
   form; it refuses more than one statement. The canonical text is what runs, so what was
   checked is exactly what executes.
2. The statement must be a SELECT (or WITH ... SELECT, UNION ...), or schema metadata: SHOW
   TABLES/DATABASES/COLUMNS, DESCRIBE, EXISTS or SHOW CREATE of a named table. Anything else
   (INSERT, DDL, SET, SYSTEM, KILL, SHOW PROCESSLIST ...) is refused here, and would be refused
   by `readonly=1` too where it writes.
3. For a SELECT, `EXPLAIN AST` (the parse, before any analysis) names every table function and
   function: a table function off the allowlist, or a denied function, is refused before the
   engine tries to resolve it (a `cluster()` that does not exist would otherwise fail as a 500).
4. Then `EXPLAIN QUERY TREE` gives the engine's resolution of every table, table
   function and function the query reaches (through aliases, CTEs, subqueries, joins, IN), and
   each must be on the user's allowlist (`access.Access`). A parameterised view appears as a
   table function; it is served like the view it is, with constants as its arguments. A query
   the analyzer leaves partly unresolved (an identifier inside a table function's arguments,
   as in `view(SELECT ...)`) is refused. Server details a dashboard does not need are refused
   too: functions that tell paths, host names or configuration (`getServerSetting`,
   `hostName`, ...) and the path columns of `system.databases` and `system.tables`.
5. For an organisation user, the admitted SELECT is the user's query under the scope's CTEs
   (`access.Access.scope_prefix`), its database-qualified names of scoped relations made
   unqualified first (`access.Access.unqualified`).
   Steps 3 and 4 check the query that runs, CTEs included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ldv_inzicht.clickhouse_http._access import (
    DENIED_FUNCTION_PREFIXES,
    DENIED_FUNCTIONS,
    DENIED_SERVER_FUNCTIONS,
    DENIED_SYSTEM_COLUMNS,
    TABLE_FUNCTIONS,
    Access,
    sql_string,
)
from ldv_inzicht.clickhouse_http._readers import Reader
from ldv_inzicht.clickhouse_http.errors import ACCESS_DENIED, ClickHouseError

_IN_SCOPE = re.compile(r":? In scope SELECT formatQuery\(.*?\)\.(?= \(\w+\)|$)", re.DOTALL)
_FORMAT_CLAUSE = re.compile(r"\nFORMAT (\w+)$")
_INTO_OUTFILE = re.compile(r"^INTO OUTFILE\b", re.MULTILINE)
_NAME = r"(?:\w+|`(?:[^`\\]|\\.)+`)"
_TABLE_NAME = rf"{_NAME}(?:\.{_NAME})?"
# Only plain forms: a WHERE or LIMIT expression could hold a subquery the allowlist never sees.
_PATTERN = r"(?: (?:NOT )?I?LIKE '(?:[^'\\]|\\.)*')?(?: LIMIT \d+)?"
_METADATA = re.compile(
    rf"^(?:SHOW (?:FULL )?(?:TABLES|DATABASES)(?: FROM {_NAME})?{_PATTERN}"
    rf"|SHOW COLUMNS FROM {_TABLE_NAME}(?: FROM {_NAME})?{_PATTERN}"
    rf"|DESCRIBE TABLE {_TABLE_NAME}"
    rf"|EXISTS (?:TABLE )?{_TABLE_NAME}"
    rf"|SHOW CREATE TABLE {_TABLE_NAME})$"
)
_SELECT = re.compile(r"^(?:SELECT|WITH)\b")
# Node lines of EXPLAIN QUERY TREE; a TABLE or TABLE_FUNCTION line without a readable name is refused.
_TABLE_NAME_FIELD = re.compile(r", table_name: (.+)$")
_TABLE_FUNCTION = re.compile(r"^\s*TABLE_FUNCTION id: \d+")
_TABLE_FUNCTION_NAME_FIELD = re.compile(r", table_function_name: (\w+)$")
_FUNCTION = re.compile(r"^\s*FUNCTION id: \d+, function_name: ([^,]+),")
_AST_FUNCTION = re.compile(r"^\s*Function (\S+)")
_IDENTIFIER = re.compile(r"^\s*IDENTIFIER id: \d+")
_TABLE = re.compile(r"^\s*TABLE id: (\d+)")
_COLUMN = re.compile(r"^\s*COLUMN id: \d+, column_name: ([^,]+), .*source_id: (\d+)$")
# A top-level SETTINGS clause of a canonical query (its last line): kept outside the scope's
# wrapping, where `readonly=1` refuses it as before (inside a subquery the engine ignores it).
_SETTINGS_CLAUSE = re.compile(r"\nSETTINGS [^\n]*$")


@dataclass(frozen=True)
class Admitted:
    """A query to run: its canonical text without FORMAT, and the FORMAT it named (if any)."""

    sql: str
    format: str | None


def denied(what: str) -> ClickHouseError:
    return ClickHouseError(ACCESS_DENIED, f"Code: {ACCESS_DENIED}. DB::Exception: {what} (ACCESS_DENIED)")


def admit(reader: Reader, sql: str, params: Mapping[str, str], access: Access, database: str) -> Admitted:
    """The query to run for `sql`, or ClickHouseError (syntax 400, refused 403, ...)."""
    try:
        canonical = reader.run(f"SELECT formatQuery({sql_string(sql)})", "RawBLOB").data.decode()
    except ClickHouseError as error:
        # The parser's message, without the wrapping call the client never wrote.
        error.message = _IN_SCOPE.sub("", error.message)
        raise
    fmt = None
    match = _FORMAT_CLAUSE.search(canonical)
    if match:
        fmt = match.group(1)
        canonical = canonical[: match.start()]
    if _INTO_OUTFILE.search(canonical):
        raise denied("INTO OUTFILE is not served: results come back in the response")
    if _SELECT.match(canonical):
        runs = scoped(canonical, access)
        _check_ast(reader, runs, params, access, database)
        _check_tree(reader, runs, params, access, database)
        return Admitted(runs, fmt)
    if _METADATA.match(canonical):
        return Admitted(canonical, fmt)
    first = canonical.split(None, 2)[:2]
    raise denied(
        f"{' '.join(first)} is not served: this endpoint is read-only and answers SELECT, SHOW TABLES, "
        "SHOW DATABASES, SHOW COLUMNS, DESCRIBE, EXISTS and SHOW CREATE TABLE"
    )


def scoped(canonical: str, access: Access) -> str:
    """The SELECT that runs for `canonical`: for an organisation user, under the scope's CTEs."""
    canonical = access.unqualified(canonical)
    prefix = access.scope_prefix(canonical)
    if not prefix:
        return canonical
    settings = ""
    if m := _SETTINGS_CLAUSE.search(canonical):
        canonical, settings = canonical[: m.start()], m.group(0)
    return f"{prefix}SELECT * FROM (\n{canonical}\n){settings}"


def _check_function(name: str) -> None:
    if name in DENIED_FUNCTIONS or name.startswith(DENIED_FUNCTION_PREFIXES):
        raise denied(f"function {name}() is not served")
    if name.lower() in DENIED_SERVER_FUNCTIONS:
        raise denied(f"function {name}() is not served: it tells server details a dashboard does not need")


def _check_table_function(name: str, access: Access, database: str) -> bool:
    """True for a parameterised view the user may read; refuses a table function off the allowlist."""
    if name in TABLE_FUNCTIONS:
        return False
    if f"{database}.{name}" in access.relations:
        return True
    raise denied(f"table function {name}() is not served")


def _check_ast(reader: Reader, canonical: str, params: Mapping[str, str], access: Access, database: str) -> None:
    lines = reader.run("EXPLAIN AST " + canonical, "TabSeparated", params).data.decode().split("\n")
    for number, line in enumerate(lines):
        if m := _AST_FUNCTION.match(line):
            _check_function(m.group(1))
        elif line.lstrip().startswith("TableExpression") and number + 1 < len(lines):
            # A table function is the Function node directly under a TableExpression.
            if m := _AST_FUNCTION.match(lines[number + 1]):
                _check_table_function(m.group(1), access, database)


def _check_tree(reader: Reader, canonical: str, params: Mapping[str, str], access: Access, database: str) -> None:
    tree = reader.run("EXPLAIN QUERY TREE " + canonical, "TabSeparated", params).data.decode()
    view_indent: int | None = None  # inside the arguments of a parameterised view
    lines = tree.split("\n")
    tables = {  # TABLE node id -> database.table, for the COLUMN nodes that name it as their source
        m.group(1): f.group(1)
        for line in lines
        if (m := _TABLE.match(line)) and (f := _TABLE_NAME_FIELD.search(line))
    }
    scoped = access.scoped_relations
    above: dict[int, str] = {}  # the last line seen at each indentation, of the lines enclosing this one
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        above = {i: text for i, text in above.items() if i < indent}
        above[indent] = line
        if scoped and _TABLE.match(line) and (f := _TABLE_NAME_FIELD.search(line)) and f.group(1) in scoped:
            # A scoped relation is read only as the body of the scope's CTE of its name (a backstop:
            # `scoped` made every name of it resolve there).
            cte = f", cte_name: {f.group(1).split('.', 1)[1]}"
            if above.get(indent - 2, "").strip() != "JOIN TREE" or not above.get(indent - 4, "").endswith(cte):
                raise denied(f"{f.group(1)} is read outside the organisation's scope")
        if (m := _COLUMN.match(line)) and m.group(1) in DENIED_SYSTEM_COLUMNS.get(tables.get(m.group(2), ""), ()):
            raise denied(
                f"column {m.group(1)} of {tables[m.group(2)]} is not served: it tells server details a dashboard "
                "does not need (name the columns you need instead of *)"
            )
        if view_indent is not None:
            if indent > view_indent:
                # Its arguments are `name = constant`: the names stay identifiers; nothing else may be there.
                if not line.lstrip().startswith(
                    ("ARGUMENTS", "LIST id:", "FUNCTION id:", "IDENTIFIER id:", "CONSTANT id:")
                ):
                    raise denied("a parameterised view's arguments must be constants")
                if m := _FUNCTION.match(line):
                    _check_function(m.group(1))
                continue
            view_indent = None
        if _TABLE.match(line):
            m = _TABLE_NAME_FIELD.search(line)
            if m is None or m.group(1) not in access.relations:
                raise denied(f"{m.group(1) if m else 'a table'} is not served to this user")
        elif _TABLE_FUNCTION.match(line):
            m = _TABLE_FUNCTION_NAME_FIELD.search(line)
            if m is None:
                raise denied("a table function without a plain name is not served")
            if _check_table_function(m.group(1), access, database):
                view_indent = indent
        elif m := _FUNCTION.match(line):
            _check_function(m.group(1))
        elif _IDENTIFIER.match(line):
            raise denied("a query the engine cannot resolve fully (e.g. a table function over a query) is not served")
