"""The engine's record entry (`ENTRY_SQL`, the canonical encoding built and hashed in SQL) equals
the core's definition (`record_entry`) byte for byte, over generated records stored in a real
embedded store: every field type, empty strings, maps and lists, non-ASCII text, timestamps
before 1970 and far ahead; and the engine's tile roots equal the core's subtree hashes."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldv_logboek import LogRecord
from ldv_logboek._record import Event, Link, Status
from ldv_logboek.storage import RECORDS_TABLE, LogStore, connect, rows_table
from ldv_logboek.storage._arrow_insert import with_retention
from ldv_logboek.storage._tlog_sql import ENTRY_SQL
from ldv_logboek.tlog import record_entry
from tests.conftest import make_record
from tests.logboek.test_tlog_columns import storable, values_of

_origins = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogStore]:
    path: Path = tmp_path_factory.mktemp("tlog_sql")
    opened = LogStore(connect(f"chdb://{path / 'db'}"))
    opened.migrate()
    # Generated records have any time and retention: keep the expired ones (a test store).
    with opened.writer_lock:
        opened.client.command(f"ALTER TABLE {RECORDS_TABLE} REMOVE TTL")
    yield opened
    opened.close()


def stored_entries(store: LogStore, batch: list[LogRecord], retentions: list[int]) -> tuple[list[bytes], list[bytes]]:
    """Store `batch` under a new origin; (the engine's entries, the core's entries), in order."""
    origin = f"test/{next(_origins)}"
    table = with_retention(rows_table(batch), retentions)
    salts = [os.urandom(16) for _ in batch]
    n = len(batch)
    table = table.append_column("LogOrigin", pa.array([origin] * n, pa.string()))
    table = table.append_column("LeafIndex", pa.array(np.arange(n, dtype=np.uint64)))
    table = table.append_column("LeafSalt", pa.array(salts, pa.binary()))
    store.insert_record_rows(table)
    rows = store.query_rows(
        f"SELECT LeafIndex, hex({ENTRY_SQL}) FROM {RECORDS_TABLE} WHERE LogOrigin = {{o:String}} ORDER BY LeafIndex", {"o": origin}
    )
    engine = [bytes.fromhex(e) for _, e in rows]
    core = [record_entry(salt, values_of(r, days)) for salt, r, days in zip(salts, batch, retentions)]
    return engine, core


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
@given(st.lists(storable, min_size=1, max_size=10), st.lists(st.integers(0, 65_535), min_size=10, max_size=10))
def test_the_engines_entry_is_the_cores_entry(store: LogStore, batch: list[LogRecord], retentions: list[int]) -> None:
    engine, core = stored_entries(store, batch, retentions[: len(batch)])
    assert engine == core


def test_edge_cases_empty_values_non_ascii_maps_and_times_before_1970(store: LogStore) -> None:
    trace, span = bytes(range(1, 17)), bytes(range(1, 9))
    base = make_record()
    bare = LogRecord(
        trace_id=trace, span_id=span, parent_span_id=b"", name="", kind="Internal", start_time_ns=0, end_time_ns=0,
        attributes={}, resource_attributes={}, scope_name="", scope_version="", status=Status.UNSET,
        status_message="", events=[], links=[], trace_state="",
    )  # fmt: skip
    rich = LogRecord(
        trace_id=trace, span_id=span, parent_span_id=bytes(8), name="gegevens opvragen ĳ€😀", kind="Server",
        start_time_ns=-1_500_000_001, end_time_ns=5, attributes={"é": "", "": "ü", "k": "v" * 300},
        resource_attributes={"service.name": "zorg-🏥"}, scope_name="s", scope_version="1", status=Status.ERROR,
        status_message="fout: ‘quoted’", trace_state="a=b",
        events=[Event(0, "", {}), Event(2**62, "e€", {"x": "y", "": ""})],
        links=[Link(trace, span, "", {}), Link(trace, span, "t=s", {"ü": "é"})],
    )  # fmt: skip
    engine, core = stored_entries(store, [bare, rich, base], [0, 65_535, 1])
    assert engine == core

