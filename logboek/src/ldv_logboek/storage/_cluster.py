"""The schema for a ClickHouse cluster: replicated tables, the records sharded behind a Distributed table.

`cluster_ddl(cluster)` turns every migration into its cluster form, `ON CLUSTER` throughout:

- The records table becomes `<name>_local` (ReplicatedMergeTree, one replica set per shard) and
  a Distributed table `<name>` over it, sharded by the data subject: one citizen's records stay
  on one shard, so an inzage reads one shard's range. Writers and readers keep using `<name>`.
- Every other table (the register, the schema version) is replicated to every node, unsharded:
  it is small, and joins with the records then run locally on each shard.
- Views, and ALTERs of tables, get `ON CLUSTER`; a column change of the records table is made on
  the local and the Distributed table alike.
- A migration with `cluster_statements` runs those instead: the records table is created in
  today's layout at once (migration 1's place), so migration 5's copy into it is nothing on a
  fresh cluster. An existing cluster of schema 4 is upgraded per shard by hand (new local table,
  `INSERT ... SELECT`, `EXCHANGE TABLES`; see docs/architecture.md).

The script ends by recording every migration in `ldv_schema_migrations`, so `ldv serve
--store-dsn` finds the schema current and applies nothing itself. A statement of a kind not
listed above raises ValueError: a new migration must get its cluster form here.
"""

from __future__ import annotations

import re

from ldv_logboek.storage._schema import MIGRATIONS, MIGRATIONS_DDL, MIGRATIONS_TABLE, RECORDS_TABLE, Migration

# Sharded tables and their sharding key; all other tables are replicated to every node.
SHARDING_KEYS = {RECORDS_TABLE: "cityHash64(DataSubjectId)"}
LOCAL_SUFFIX = "_local"
# ZooKeeper/Keeper paths: per shard for sharded tables, one for the whole cluster otherwise
# (the replica name then has to be unique across shards too).
_SHARD_PATH = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
_ALL_PATH = "'/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}'"

_CREATE_TABLE = re.compile(r"^CREATE TABLE (IF NOT EXISTS )?(\w+)\b", re.IGNORECASE)
_CREATE_VIEW = re.compile(r"^CREATE (MATERIALIZED VIEW|VIEW) (IF NOT EXISTS )?(\w+)\b", re.IGNORECASE)
_ALTER_TABLE = re.compile(r"^ALTER TABLE (\w+)\b", re.IGNORECASE)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(MergeTree|ReplacingMergeTree)\b(?:\(([^)]*)\))?")
# ALTERs that change columns apply to the Distributed table too; others (MATERIALIZE, indexes,
# projections, TTL, mutations) only to the local table that holds the data.
_COLUMN_ALTER = re.compile(r"^\s*(ADD|MODIFY|DROP|RENAME|COMMENT) COLUMN\b", re.IGNORECASE)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _replicated(statement: str, path: str) -> str:
    def engine(match: re.Match[str]) -> str:
        arguments = ", ".join(a for a in (path, (match.group(2) or "").strip()) if a)
        return f"ENGINE = Replicated{match.group(1)}({arguments})"

    replaced, count = _ENGINE.subn(engine, statement, count=1)
    if count != 1:
        raise ValueError(f"no cluster form for a table engine other than (Replacing)MergeTree: {statement[:80]!r}")
    return replaced


def _statement(statement: str, cluster: str) -> list[str]:
    statement = statement.strip()
    on = f"ON CLUSTER {cluster}"
    if m := _CREATE_TABLE.match(statement):
        exists, name, body = m.group(1) or "", m.group(2), statement[m.end() :]
        if name not in SHARDING_KEYS:
            return [_replicated(f"CREATE TABLE {exists}{name} {on}{body}", _ALL_PATH)]
        local = name + LOCAL_SUFFIX
        return [
            _replicated(f"CREATE TABLE {exists}{local} {on}{body}", _SHARD_PATH),
            f"CREATE TABLE {exists}{name} {on} AS {local} "
            f"ENGINE = Distributed({cluster}, currentDatabase(), {local}, {SHARDING_KEYS[name]})",
        ]
    if m := _CREATE_VIEW.match(statement):
        return [f"CREATE {m.group(1)} {m.group(2) or ''}{m.group(3)} {on}{statement[m.end() :]}"]
    if m := _ALTER_TABLE.match(statement):
        name, rest = m.group(1), statement[m.end() :]
        if name not in SHARDING_KEYS:
            return [f"ALTER TABLE {name} {on}{rest}"]
        statements = [f"ALTER TABLE {name}{LOCAL_SUFFIX} {on}{rest}"]
        if _COLUMN_ALTER.match(rest):
            # The Distributed table carries the same columns (it holds no data).
            statements.append(f"ALTER TABLE {name} {on}{rest}")
        return statements
    raise ValueError(f"no cluster form for this statement: {statement[:80]!r}")


def cluster_ddl(cluster: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Every statement, in order, that creates the schema on `cluster` and records its version."""
    if not re.fullmatch(r"\w+", cluster):
        raise ValueError(f"cluster name {cluster!r}: letters, digits and _ only")
    statements = _statement(MIGRATIONS_DDL, cluster)
    for migration in migrations:
        for statement in migration.cluster_statements if migration.cluster_statements is not None else migration.statements:
            statements += _statement(statement, cluster)
    values = ", ".join(f"({m.version}, {_quote(m.description)})" for m in migrations)
    statements.append(f"INSERT INTO {MIGRATIONS_TABLE} (version, description) VALUES {values}")
    return statements


def cluster_script(cluster: str) -> str:
    """`cluster_ddl` as one script for `clickhouse-client --multiquery`."""
    return "".join(statement.strip() + ";\n\n" for statement in cluster_ddl(cluster))
