"""OTLP/gRPC against a real grpc.aio server on loopback, sharing the HTTP collector's writer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ldv_collector import Collector, CollectorSettings
from ldv_collector._grpc_server import create_grpc_server
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, RecordQuery
from tests.collector.helpers import ORGANISATION, ldv_attributes, make_request, make_span

LIMIT = 256 * 1024


class GrpcCollector:
    """A Collector whose gRPC server runs on its own event loop in a background thread."""

    def __init__(self, store: LogStore):
        self.collector = Collector(store, CollectorSettings(max_body_bytes=LIMIT))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.collector.writer.start()
        self.server, self.port = self._call(self._start())

    async def _start(self) -> tuple[grpc.aio.Server, int]:
        server, port = create_grpc_server(self.collector, "127.0.0.1", 0)
        await server.start()
        return server, port

    def _call(self, coro):  # noqa: ANN001, ANN202 - test plumbing
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self._call(self.server.stop(grace=5))
        self.collector.writer.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def stub(self) -> trace_service_pb2_grpc.TraceServiceStub:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=[("grpc.max_send_message_length", 4 * LIMIT)])
        return trace_service_pb2_grpc.TraceServiceStub(channel)


@pytest.fixture(scope="module")
def grpc_collector(store: LogStore) -> Iterator[GrpcCollector]:
    collector = GrpcCollector(store)
    yield collector
    collector.close()


def test_official_grpc_exporter_records_are_stored(grpc_collector: GrpcCollector, store: LogStore) -> None:
    provider = TracerProvider(resource=Resource.create({attr.SERVICE_NAME: "svc", attr.ORGANISATION: ORGANISATION}))
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_collector.port}", insecure=True, timeout=10)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("huurtoeslag berekenen", attributes=ldv_attributes()) as span:
        pass
    provider.shutdown()
    trace_id = span.get_span_context().trace_id.to_bytes(16, "big")
    records = store.find(RecordQuery(trace_id=trace_id)).records
    assert [r.name for r in records] == ["huurtoeslag berekenen"]
    assert records[0].resource_attributes[attr.ORGANISATION] == ORGANISATION


def test_partial_success_names_rejected_span(grpc_collector: GrpcCollector, store: LogStore) -> None:
    good = make_span()
    bad = make_span({attr.DATA_SUBJECT_ID: "hmac-sha256:" + "cd" * 32, attr.DATA_SUBJECT_ID_TYPE: "BSN"})
    response = grpc_collector.stub().Export(make_request([good, bad]), timeout=10)
    assert response.partial_success.rejected_spans == 1
    assert bad.span_id.hex() in response.partial_success.error_message
    assert "data-subject-needs-activity" in response.partial_success.error_message
    assert [r.span_id for r in store.find(RecordQuery(trace_id=good.trace_id)).records] == [good.span_id]


def test_message_over_the_limit_is_resource_exhausted(grpc_collector: GrpcCollector) -> None:
    big = make_span(ldv_attributes(note="x" * (LIMIT + 1)))
    with pytest.raises(grpc.RpcError) as info:
        grpc_collector.stub().Export(make_request([big]), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_stopped_writer_answers_unavailable(store: LogStore) -> None:
    collector = GrpcCollector(store)
    try:
        collector.collector.writer.stop()
        with pytest.raises(grpc.RpcError) as info:
            collector.stub().Export(ExportTraceServiceRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        collector.close()
