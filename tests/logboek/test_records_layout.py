"""Migration 5: the records layout without time partitions, and the copy that moves a store into it.

Real chDB stores made by the released migrations 1-4 with records in them are migrated and
compared row by row; interruptions are simulated by running the migration's own statements
up to a point, as a process that died there would have left the store.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ldv_logboek.storage import SCHEMA_VERSION, LogStore, RecordQuery, connect, migrate
from ldv_logboek.storage._schema import (
    DASHBOARD_RECORDS_VIEW,
    MIGRATIONS,
    MIGRATIONS_TABLE,
    READ_SETTINGS,
    RECORDS_LAYOUT_COMMENT,
    RECORDS_STAGING_TABLE,
    RECORDS_TABLE,
    RECORDS_WITH_REGISTER_VIEW,
)
from tests.conftest import make_record

DAY_NS = 86_400 * 1_000_000_000
DAYS = 60  # days of the old layout's daily partitions the records span
SUBJECTS = [f"hmac-sha256:{i:064x}" for i in range(40)]


@pytest.fixture
def v4_store(tmp_path: Path) -> Iterator[LogStore]:
    """A store made by migrations 1-4 with records: some stored before migration 3 (no IngestedAt),
    most after, over DAYS days (so over as many of the old layout's daily partitions)."""
    store = LogStore(connect(f"chdb://{tmp_path}"))
    assert migrate(store.client, MIGRATIONS[:2]) == [1, 2]
    now = time.time_ns()
    early = [make_record(subject=SUBJECTS[i % 40], start_ns=now - (i % DAYS) * DAY_NS) for i in range(300)]
    store.insert(early)
    assert migrate(store.client, MIGRATIONS[:4]) == [3, 4]
    later = [make_record(subject=SUBJECTS[i % 40], start_ns=now - (i % DAYS) * DAY_NS - 7) for i in range(900)]
    trace = make_record(subject=SUBJECTS[0]).trace_id
    later += [make_record(subject=SUBJECTS[i], trace_id=trace, start_ns=now - i) for i in range(3)]
    later += later[:5]  # retried deliveries: duplicates stay duplicates
    store.insert(later)
    store.trace_id = trace  # type: ignore[attr-defined]
    yield store
    store.close()


def all_rows(store: LogStore) -> list[tuple[Any, ...]]:
    """Every stored row, all stored columns, in one order (duplicates included)."""
    return [
        tuple(row)
        for row in store.client.query(
            f"SELECT * EXCEPT (Duration), Duration FROM {RECORDS_TABLE} "
            "ORDER BY TraceId, SpanId, Timestamp, IngestedAt"
        ).result_rows
    ]


def version(store: LogStore) -> int:
    return int(store.client.query(f"SELECT max(version) FROM {MIGRATIONS_TABLE}").result_rows[0][0])


def table_names(store: LogStore) -> set[str]:
    return {r[0] for r in store.client.query("SELECT name FROM system.tables WHERE database = currentDatabase()").result_rows}


def assert_layout_5(store: LogStore) -> None:
    comment, partition_key, engine_full = store.client.query(
        "SELECT comment, partition_key, engine_full FROM system.tables WHERE name = {t:String}",
        parameters={"t": RECORDS_TABLE},
    ).result_rows[0]
    assert comment == RECORDS_LAYOUT_COMMENT
    assert partition_key == ""
    assert "index_granularity = 256" in engine_full
    assert RECORDS_STAGING_TABLE not in table_names(store)


def assert_lookups_work(store: LogStore) -> None:
    trace = store.find(RecordQuery(trace_id=store.trace_id, limit=10)).records  # type: ignore[attr-defined]
    assert sorted(r.attributes["dpl.core.data_subject_id"] for r in trace) == sorted(SUBJECTS[:3])
    subject = store.find(RecordQuery(data_subject_id=SUBJECTS[7], limit=1000)).records
    assert len(subject) == len({r.span_id for r in subject}) == len(range(7, 300, 40)) + len(range(7, 900, 40))
    # The dashboard views of migration 3 name the table: they read the new one.
    assert store.client.query(f"SELECT count() FROM {DASHBOARD_RECORDS_VIEW}").result_rows[0][0] == len(all_rows(store))
    assert store.client.query(f"SELECT count() FROM {RECORDS_WITH_REGISTER_VIEW}").result_rows[0][0] > 0


def test_a_store_of_schema_4_keeps_every_record_in_layout_5(v4_store: LogStore) -> None:
    before = all_rows(v4_store)
    assert v4_store.client.query(
        f"SELECT uniqExact(partition) FROM system.parts WHERE table = '{RECORDS_TABLE}' AND active"
    ).result_rows[0][0] == DAYS
    assert migrate(v4_store.client, MIGRATIONS[:5]) == [5]
    assert version(v4_store) == 5
    after = all_rows(v4_store)
    assert len(after) == len(before) == 1208
    assert after == before  # every column of every row, IngestedAt (1970 for the early ones) included
    assert sum(1 for r in after if r[-2].year == 1970) == 300  # IngestedAt stays "unknown" for those
    assert_layout_5(v4_store)
    assert_lookups_work(v4_store)
    assert v4_store.count() == 1203
    v4_store.insert([make_record(subject=SUBJECTS[1])])  # the writer's insert still fits the table
    assert v4_store.count() == 1204
    assert v4_store.migrate() == [6] and version(v4_store) == SCHEMA_VERSION  # the transparency log's columns and tables


def test_running_the_migration_again_copies_nothing(v4_store: LogStore) -> None:
    v4_store.migrate()
    migration = MIGRATIONS[4]
    assert migration.version == 5 and migration.apply is not None
    uuid = v4_store.client.query("SELECT uuid FROM system.tables WHERE name = {t:String}", parameters={"t": RECORDS_TABLE}).result_rows
    migration.apply(v4_store.client)
    assert v4_store.client.query("SELECT uuid FROM system.tables WHERE name = {t:String}", parameters={"t": RECORDS_TABLE}).result_rows == uuid
    assert v4_store.migrate() == []
    assert len(all_rows(v4_store)) == 1208
    assert_layout_5(v4_store)


@pytest.mark.parametrize("died_after", [1, 2, 3, 4], ids=["created", "copied", "swapped", "half-copied"])
def test_an_interrupted_migration_loses_nothing_when_run_again(v4_store: LogStore, died_after: int) -> None:
    """The process died after some of the migration's steps; the next start completes it."""
    before = all_rows(v4_store)
    statements = MIGRATIONS[4].statements  # drop leftover, create, copy, swap, drop old
    if died_after == 4:
        # Died in the middle of the copy: part of the rows in the new table.
        v4_store.client.command(statements[1])
        v4_store.client.command(statements[2] + " WHERE cityHash64(SpanId) % 2 = 0")
    else:
        for statement in statements[: died_after + 1]:
            v4_store.client.command(statement)
    assert version(v4_store) == 4
    assert migrate(v4_store.client, MIGRATIONS[:5]) == [5]
    assert all_rows(v4_store) == before
    assert_layout_5(v4_store)
    assert_lookups_work(v4_store)


def test_a_trace_lookup_reads_the_trace_projection_not_the_table(tmp_path: Path) -> None:
    """With READ_SETTINGS, the `_part_offset` projection answers a trace lookup even in a small part."""
    store = LogStore(connect(f"chdb://{tmp_path}"))
    try:
        store.migrate()
        store.insert([make_record(subject=SUBJECTS[i % 40]) for i in range(20_000)])
        target = make_record(subject=SUBJECTS[3])
        store.insert([target])
        store.client.command(f"OPTIMIZE TABLE {RECORDS_TABLE} FINAL")
        sql = f"SELECT SpanId FROM {RECORDS_TABLE} WHERE TraceId = {{t:String}}"
        params = {"t": target.trace_id.hex()}
        explain = f"EXPLAIN projections = 1 {sql}"

        def plan(settings: str) -> str:
            return "\n".join(r[0] for r in store.client.query(explain + settings, parameters=params).result_rows)

        used = plan(f" SETTINGS {READ_SETTINGS}")
        assert "Name: by_trace" in used and "will be applied during reading" in used, used
        # A granule or two of the projection per part (the rows' offsets), of ~80 granules a part.
        section = used[used.index("Name: by_trace") :]
        parts, marks = (int(re.search(rf"{what}: (\d+)", section).group(1)) for what in ("Parts", "Marks"))  # type: ignore[union-attr]
        assert marks <= 2 * parts <= 4, used
        # The trap the setting avoids: under a million rows the projection is not even considered.
        assert "by_trace" not in plan("")
        assert [r.span_id for r in store.find(RecordQuery(trace_id=target.trace_id)).records] == [target.span_id]
    finally:
        store.close()
