"""`ldv schema --cluster`: the schema for a ClickHouse cluster, checked with ClickHouse's own parser.

No ClickHouse cluster (nor ZooKeeper/Keeper) can run here: every statement is parsed by the
engine's `formatQuery()` in chDB, and the local tables are compared with the single-node schema
after the engine normalised both; the statements are not executed on a cluster.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import chdb
import pytest

from ldv_logboek.storage._cluster import cluster_ddl
from ldv_logboek.storage._schema import MIGRATIONS, MIGRATIONS_TABLE, RECORDS_TABLE, Migration


@pytest.fixture(scope="module")
def engine():
    connection = chdb.connect(":memory:")
    yield connection
    connection.close()


def cluster_form(migration: Migration) -> tuple[str, ...]:
    """What a fresh cluster runs for `migration` (its single-node statements unless it says otherwise)."""
    return migration.statements if migration.cluster_statements is None else migration.cluster_statements


def formatted(engine, statement: str) -> str:
    """ClickHouse's canonical form of `statement`; raises on a syntax error."""
    literal = "'" + statement.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return engine.query(f"SELECT formatQuery({literal})", "RawBLOB").bytes().decode()


def test_every_statement_parses(engine) -> None:
    statements = cluster_ddl("ldv_cluster")
    for statement in statements:
        canonical = formatted(engine, statement)
        if not canonical.startswith("INSERT"):
            assert "ON CLUSTER ldv_cluster" in canonical, canonical
    assert len(statements) > sum(len(cluster_form(m)) for m in MIGRATIONS)


def test_records_are_sharded_by_subject_behind_a_distributed_table(engine) -> None:
    statements = [formatted(engine, s) for s in cluster_ddl("ldv_cluster")]
    local = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {RECORDS_TABLE}_local"))
    assert "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')" in local
    distributed = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} "))
    assert f"AS {RECORDS_TABLE}_local" in distributed
    assert f"Distributed(ldv_cluster, currentDatabase(), {RECORDS_TABLE}_local, cityHash64(DataSubjectId))" in distributed
    others = [s for s in statements if s.startswith("CREATE TABLE") and s not in (local, distributed)]
    assert others and all("ReplicatedMergeTree" in s or "ReplicatedReplacingMergeTree" in s for s in others)
    assert all("'/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}'" in s for s in others)


def test_local_tables_have_the_single_node_columns(engine) -> None:
    """Undo the cluster parts (name, ON CLUSTER, Replicated engine) and the engine sees the single-node DDL."""
    single = {}
    for migration in MIGRATIONS:
        for statement in cluster_form(migration):
            canonical = formatted(engine, statement)
            if canonical.startswith("CREATE TABLE"):
                single[canonical.split()[5].split("\n")[0]] = canonical
    compared = 0
    for statement in cluster_ddl("c1"):
        canonical = formatted(engine, statement)
        if not canonical.startswith("CREATE TABLE") or "Distributed(" in canonical or MIGRATIONS_TABLE in canonical:
            continue
        undone = canonical.replace(" ON CLUSTER c1", "").replace(f"{RECORDS_TABLE}_local", RECORDS_TABLE)
        undone = re.sub(r"Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?", r"\1(", undone).replace("MergeTree()", "MergeTree")
        name = undone.split()[5].split("\n")[0]
        assert formatted(engine, undone) == single[name]
        compared += 1
    assert compared == len(single)


def test_the_cluster_records_table_has_todays_layout(engine) -> None:
    """A fresh cluster gets the layout of migration 5 directly, and migration 5 itself runs nothing there."""
    statements = [formatted(engine, s) for s in cluster_ddl("c1")]
    local = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {RECORDS_TABLE}_local"))
    assert "PARTITION BY" not in local
    assert "index_granularity = 256" in local
    assert "PROJECTION by_trace\n    (\n        SELECT _part_offset" in local or "SELECT _part_offset" in local
    assert not any(f"{RECORDS_TABLE}_migrating" in s for s in statements)


def test_the_script_records_every_migration(engine) -> None:
    insert = cluster_ddl("c1")[-1]
    assert insert.startswith(f"INSERT INTO {MIGRATIONS_TABLE}")
    formatted(engine, insert)
    assert [int(v) for v in re.findall(r"\((\d+), '", insert)] == [m.version for m in MIGRATIONS]


def test_unknown_statements_and_bad_names_are_refused() -> None:
    from ldv_logboek.storage._schema import Migration

    with pytest.raises(ValueError, match="no cluster form"):
        cluster_ddl("c1", (Migration(9, "x", ("DROP TABLE otel_traces",)),))
    with pytest.raises(ValueError, match="cluster name"):
        cluster_ddl("c1; DROP TABLE x")


def test_ldv_schema_cluster_prints_and_opens_no_store(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ldv_suite.cli", "schema", "--cluster", "ldv", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(";\n\n") == len(cluster_ddl("ldv"))
    assert "ON CLUSTER ldv" in result.stdout
    assert not (tmp_path / "data").exists()
