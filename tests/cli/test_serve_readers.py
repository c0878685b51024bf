"""`ldv serve` opens its store with reader connections beside the writer (`LDV_SERVE_STORE_READERS`)."""

from __future__ import annotations

from pathlib import Path

from ldv_logboek.storage import RecordQuery
from ldv_suite.server import Stack
from ldv_suite.settings import ServeSettings
from tests.conftest import make_record


def test_serve_reads_on_its_readers_while_the_writer_is_held(tmp_path: Path) -> None:
    settings = ServeSettings.load(None, data_dir=tmp_path / "data", store_readers=2, clickhouse_port=18123)
    stack = Stack.build(settings)  # builds the apps; nothing listens yet
    store = stack.store
    try:
        assert store.readers == 2
        # The ClickHouse endpoint's scoped readers are a lane of the same pool, closed with the store.
        assert [(lane.name, lane.size) for lane in store.pool.lanes] == [("store", 2), ("clickhouse_http", 4)]
        record = make_record()
        store.insert([record])
        with store.writer_lock:  # the collector's insert in progress: the APIs' lookups still answer
            assert store.find(RecordQuery(trace_id=record.trace_id)).records == [record]
    finally:
        store.close()
    assert all(lane.closed for lane in store.pool.lanes)


def test_zero_readers_share_the_writer(tmp_path: Path) -> None:
    stack = Stack.build(ServeSettings.load(None, data_dir=tmp_path / "data", store_readers=0, clickhouse_port=0))
    try:
        assert stack.store.readers == 0
        assert stack.store.count() == 0
    finally:
        stack.store.close()
