"""Late records and failing writes, over real uvicorn and gRPC servers on loopback with real chDB.

- A request whose spans cover a year (records delivered late after an outage, a backfill) is
  stored: ClickHouse refuses an insert block over more than 100 day partitions, so the store
  splits it.
- A request the store refuses never fails another request of the same group commit.
- A store that refuses a statement (a bug, a schema that is not what the code expects) is a
  500 / INTERNAL with an incident id, not "retry later"; a closed store is 503 / UNAVAILABLE.

Each test has a chDB store of its own (some break or close it); one chDB session at a time.
The poisoned request is refused by a CHECK constraint added to the test's table: real
ClickHouse refusing one request's rows, as it would refuse any data it cannot take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

from ldv_collector import CollectorSettings, create_app
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, RecordQuery, connect
from ldv_logboek.storage._schema import RECORDS_TABLE
from tests import servers
from tests.collector.helpers import ORGANISATION, ldv_attributes, make_request, make_span
from tests.collector.test_grpc import GrpcCollector

DAY_NS = 86_400 * 1_000_000_000
PROTOBUF = {"Content-Type": "application/x-protobuf"}
POISONED_SERVICE = "vergiftigd"  # the test table refuses rows of this service
INCIDENT = re.compile(r"incident (urn:uuid:[0-9a-f-]{36})")


@pytest.fixture()
def own_store(tmp_path: Path) -> Iterator[LogStore]:
    store = LogStore(connect(f"chdb://{tmp_path}"))
    store.migrate()
    yield store
    store.close()


@contextlib.contextmanager
def serving(store: LogStore, settings: CollectorSettings | None = None) -> Iterator[tuple[Starlette, str]]:
    """The collector app under a real uvicorn on a free loopback port; yields the app and its URL."""
    app = create_app(store, settings or CollectorSettings())
    with servers.serving(app) as port:
        yield app, f"http://127.0.0.1:{port}/v1/traces"


def activity(name: str) -> str:
    return f"https://register.example/processing-activities/{name}-{time.time_ns()}"


def poison(store: LogStore) -> None:
    store.client.command(
        f"ALTER TABLE {RECORDS_TABLE} ADD CONSTRAINT refuse_poison CHECK ServiceName != '{POISONED_SERVICE}'"
    )


def stored_ids(store: LogStore, activity_id: str) -> set[bytes]:
    return {r.span_id for r in store.find(RecordQuery(processing_activity_id=activity_id, limit=1000)).records}


def late_spans(tracer_provider: TracerProvider, activity_id: str, days: int) -> list[ReadableSpan]:
    """Spans made with the OpenTelemetry SDK, one per day over the last `days` days."""
    memory = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tracer_provider.get_tracer("ldv-test")
    now = time.time_ns()
    for day in range(days):
        start = now - day * DAY_NS
        span = tracer.start_span("huurtoeslag berekenen", attributes=ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity_id}), start_time=start)
        span.end(end_time=start + 1_000_000)
    return list(memory.get_finished_spans())


def provider(service: str = "toeslagen-api") -> TracerProvider:
    return TracerProvider(resource=Resource.create({attr.SERVICE_NAME: service, attr.ORGANISATION: ORGANISATION}))


def test_a_year_of_late_records_in_one_raw_otlp_request_is_stored(own_store: LogStore) -> None:
    activity_id = activity("late-raw")
    now = time.time_ns()
    spans = [make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity_id}), start_ns=now - d * DAY_NS) for d in range(365)]
    with serving(own_store) as (_, url):
        response = httpx.post(url, content=make_request(spans).SerializeToString(), headers=PROTOBUF, timeout=60)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 0
    assert stored_ids(own_store, activity_id) == {s.span_id for s in spans}


def test_a_year_of_late_records_from_the_official_exporter_is_stored(own_store: LogStore) -> None:
    activity_id = activity("late-exporter")
    spans = late_spans(provider(), activity_id, 365)
    with serving(own_store) as (_, url):
        exporter = OTLPSpanExporter(endpoint=url, timeout=30)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        exporter.shutdown()
    assert stored_ids(own_store, activity_id) == {s.context.span_id.to_bytes(8, "big") for s in spans}


def test_a_refused_raw_request_does_not_fail_the_others_of_its_group_commit(own_store: LogStore) -> None:
    poison(own_store)
    activity_id = activity("isolation-raw")
    ordinary = [
        make_request([make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity_id})) for _ in range(5)])
        for _ in range(6)
    ]
    poisoned = make_request(
        [make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity_id}))],
        resource={attr.SERVICE_NAME: POISONED_SERVICE, attr.ORGANISATION: ORGANISATION},
    )
    # A long batch wait: all seven requests are in the writer's queue before its first insert.
    with serving(own_store, CollectorSettings(max_batch_wait_ms=1000)) as (app, url):

        async def send_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(
                    *(client.post(url, content=r.SerializeToString(), headers=PROTOBUF) for r in [poisoned, *ordinary])
                )

        responses = asyncio.run(send_all())
        counters = app.state.collector.metrics.snapshot()
    assert [r.status_code for r in responses] == [500] + [200] * 6
    status = status_pb2.Status.FromString(responses[0].content)
    assert status.code == code_pb2.INTERNAL and INCIDENT.search(status.message)
    assert stored_ids(own_store, activity_id) == {s.span_id for r in ordinary for s in r.resource_spans[0].scope_spans[0].spans}
    # One combined insert failed, then each request went alone: six stored, the poisoned one failed again.
    assert (counters["insert_failures"], counters["inserts"], counters["spans_failed"]) == (2, 6, 1)


def test_a_refused_export_of_the_official_exporter_does_not_fail_another_sender(own_store: LogStore) -> None:
    poison(own_store)
    good_activity, bad_activity = activity("isolation-good"), activity("isolation-bad")
    good_spans = late_spans(provider(), good_activity, 3)
    bad_spans = late_spans(provider(POISONED_SERVICE), bad_activity, 3)
    results: dict[str, SpanExportResult] = {}
    with serving(own_store, CollectorSettings(max_batch_wait_ms=1000)) as (app, url):

        def export(name: str, spans: list[ReadableSpan]) -> None:
            exporter = OTLPSpanExporter(endpoint=url, timeout=30)
            results[name] = exporter.export(spans)
            exporter.shutdown()

        threads = [threading.Thread(target=export, args=a) for a in (("bad", bad_spans), ("good", good_spans))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        counters = app.state.collector.metrics.snapshot()
    assert results == {"bad": SpanExportResult.FAILURE, "good": SpanExportResult.SUCCESS}
    assert len(stored_ids(own_store, good_activity)) == 3 and stored_ids(own_store, bad_activity) == set()
    assert counters["insert_failures"] == 2  # both were in one group commit, which failed first
    assert counters["responses_500"] == 1 and counters["requests"] == 2


def test_a_store_that_refuses_the_statement_is_500_with_a_logged_incident_not_retry_later(
    own_store: LogStore, caplog: pytest.LogCaptureFixture
) -> None:
    own_store.client.command(f"RENAME TABLE {RECORDS_TABLE} TO otel_traces_elsewhere")  # a schema the code does not expect
    caplog.set_level(logging.DEBUG, logger="ldv_collector")
    with serving(own_store) as (_, url):
        response = httpx.post(url, content=make_request([make_span()]).SerializeToString(), headers=PROTOBUF, timeout=30)
    assert response.status_code == 500 and "retry-after" not in response.headers
    status = status_pb2.Status.FromString(response.content)
    incident = INCIDENT.search(status.message)
    assert status.code == code_pb2.INTERNAL and incident
    assert "UNKNOWN_TABLE" not in status.message and "otel_traces" not in status.message  # the driver's words stay in the log
    lines = [r.getMessage() for r in caplog.records if incident.group(1) in r.getMessage()]
    assert len(lines) == 1 and "UNKNOWN_TABLE" in lines[0]

    grpc_collector = GrpcCollector(own_store)
    try:
        with pytest.raises(grpc.RpcError) as info:
            grpc_collector.stub().Export(make_request([make_span()]), timeout=30)
    finally:
        grpc_collector.close()
    assert info.value.code() == grpc.StatusCode.INTERNAL and INCIDENT.search(info.value.details())


def test_a_closed_store_is_503_and_unavailable(own_store: LogStore) -> None:
    grpc_collector = GrpcCollector(own_store)
    own_store.close()
    try:
        with pytest.raises(grpc.RpcError) as info:
            grpc_collector.stub().Export(make_request([make_span()]), timeout=30)
    finally:
        grpc_collector.close()
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with serving(own_store, CollectorSettings(retry_after_seconds=9)) as (_, url):
        response = httpx.post(url, content=make_request([make_span()]).SerializeToString(), headers=PROTOBUF, timeout=30)
    assert response.status_code == 503 and response.headers["retry-after"] == "9"
    assert status_pb2.Status.FromString(response.content).code == code_pb2.UNAVAILABLE
