"""Group commit: concurrent requests share inserts; acknowledged means stored; clean stop."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from ldv_collector import CollectorSettings, GroupCommitWriter, WriterStopped, create_app
from ldv_collector._writer import PACED_BELOW_RECORDS
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, RecordQuery
from tests.collector.helpers import ldv_attributes, make_request, make_span
from tests.conftest import make_record


def unique_activity() -> str:
    return f"https://register.example/processing-activities/{uuid.uuid4()}"


def test_concurrent_requests_share_inserts_and_every_acknowledged_record_is_readable(store: LogStore) -> None:
    activity = unique_activity()
    requests = [
        make_request([make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity})) for _ in range(10)])
        for _ in range(40)
    ]
    app = create_app(store, CollectorSettings(max_batch_wait_ms=20))
    writer: GroupCommitWriter = app.state.writer
    writer.start()
    before = app.state.collector.metrics.snapshot()["inserts"]

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://collector.test") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/traces",
                        content=r.SerializeToString(),
                        headers={"Content-Type": "application/x-protobuf"},
                    )
                    for r in requests
                )
            )

    try:
        responses = asyncio.run(send_all())
    finally:
        writer.stop()
    assert [r.status_code for r in responses] == [200] * 40
    inserts = app.state.collector.metrics.snapshot()["inserts"] - before
    assert 1 <= inserts <= len(requests) // 2, f"{inserts} inserts for {len(requests)} requests"
    found = store.find(RecordQuery(processing_activity_id=activity, limit=1000)).records
    sent = {s.span_id for r in requests for s in r.resource_spans[0].scope_spans[0].spans}
    assert {r.span_id for r in found} == sent and len(found) == 400


def test_batches_take_whole_requests_up_to_the_limit(store: LogStore) -> None:
    writer = GroupCommitWriter(store, max_batch_records=10, max_batch_wait_ms=200)
    writer.start()
    activity = unique_activity()
    try:
        futures = [writer.submit([make_record(activity=activity) for _ in range(6)]) for _ in range(4)]
        big = writer.submit([make_record(activity=activity) for _ in range(25)])  # larger than a batch: not split
        for future in [*futures, big]:
            future.result(timeout=30)
    finally:
        writer.stop()
    # 6 + 6 > 10: each small request went alone; the big one in one insert of its own.
    assert writer.metrics.snapshot()["inserts"] == 5
    assert len(store.find(RecordQuery(processing_activity_id=activity, limit=1000)).records) == 49


def test_stop_flushes_pending_work_then_refuses_new_work(store: LogStore) -> None:
    writer = GroupCommitWriter(store, max_batch_wait_ms=500)  # long wait: the work is still pending at stop()
    writer.start()
    activity = unique_activity()
    futures = [writer.submit([make_record(activity=activity) for _ in range(3)]) for _ in range(5)]
    writer.stop()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(store.find(RecordQuery(processing_activity_id=activity)).records) == 15
    assert not writer.accepting and writer.pending_records() == 0
    with pytest.raises(WriterStopped):
        writer.submit([make_record()])
    writer.stop()  # idempotent


def test_writer_refuses_work_before_start(store: LogStore) -> None:
    writer = GroupCommitWriter(store)
    with pytest.raises(WriterStopped):
        writer.submit([make_record()])
    assert writer.submit([]).result(timeout=1) is None  # nothing to store: acknowledged at once


def test_steady_requests_are_paced_and_a_request_after_a_quiet_spell_is_inserted_at_once(store: LogStore) -> None:
    interval = 2.0  # long, so a loaded machine's insert time cannot be mistaken for the pacing
    writer = GroupCommitWriter(store, max_batch_wait_ms=0, min_insert_interval_ms=interval * 1000)
    writer.start()
    activity = unique_activity()
    try:
        began = time.monotonic()
        writer.submit([make_record(activity=activity)]).result(timeout=30)
        # Right after an insert: these wait for the interval, and meanwhile gather into one insert.
        following = [writer.submit([make_record(activity=activity)]) for _ in range(5)]
        for future in following:
            future.result(timeout=30)
        paced = time.monotonic() - began
        assert writer.metrics.snapshot()["inserts"] == 2
        assert paced >= interval, f"the second insert came {paced:.2f} s after the first"
        # After a quiet spell longer than the interval: inserted at once, not held back.
        time.sleep(interval + 0.1)
        began = time.monotonic()
        writer.submit([make_record(activity=activity)]).result(timeout=30)
        assert time.monotonic() - began < interval / 2
        # Right after an insert, a request of PACED_BELOW_RECORDS records is not held back either.
        began = time.monotonic()
        writer.submit([make_record(activity=activity) for _ in range(PACED_BELOW_RECORDS)]).result(timeout=30)
        assert time.monotonic() - began < interval / 2
    finally:
        writer.stop()
    assert store.query_rows("SELECT count() FROM otel_traces WHERE ProcessingActivityId = {a:String}", {"a": activity}) == [
        (7 + PACED_BELOW_RECORDS,)
    ]
