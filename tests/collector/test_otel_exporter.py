"""The official OpenTelemetry SDK exporter against the collector served by a real uvicorn."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ldv_collector import CollectorSettings, create_app
from ldv_logboek import Status
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage import LogStore, RecordQuery
from tests.collector.helpers import ACTIVITY, ORGANISATION, VALID_BSN
from tests.servers import serving

KEY = "otel-test-organisation-key"


def test_official_otlp_http_exporter_round_trip(store: LogStore) -> None:
    app = create_app(store, CollectorSettings(organisation_keys={ORGANISATION: KEY}))
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: ORGANISATION}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("ldv-test", "9.9")
    with tracer.start_as_current_span("huurtoeslag berekenen", kind=SpanKind.SERVER) as parent:
        parent.set_attribute(attr.PROCESSING_ACTIVITY_ID, ACTIVITY)
        parent.set_attribute(attr.DATA_SUBJECT_ID, VALID_BSN)
        parent.set_attribute(attr.DATA_SUBJECT_ID_TYPE, "BSN")
        parent.set_attribute("retry.codes", [502, 503])
        with tracer.start_as_current_span("inkomen opvragen", kind=SpanKind.CLIENT) as child:
            child.set_attribute(attr.PROCESSING_ACTIVITY_ID, ACTIVITY)
            child.set_attribute(attr.EXTERNAL_READ_API_ID, "https://belastingdienst.example/lezenapi/v1")
            child.set_status(StatusCode.ERROR, "timeout")
        with tracer.start_as_current_span("GET /health"):
            pass  # no dpl. attribute: not an LDV record
        with tracer.start_as_current_span("kapot") as broken:
            broken.set_attribute(attr.DATA_SUBJECT_ID, "hmac-sha256:" + "c" * 64)  # no type, no activity
    spans = memory.get_finished_spans()
    trace_id = parent.get_span_context().trace_id.to_bytes(16, "big")

    with serving(app) as port:  # leaving it, the lifespan's shutdown stops the writer after flushing
        for compression in (Compression.Gzip, Compression.NoCompression):
            exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", compression=compression, timeout=10)
            assert exporter.export(spans) == SpanExportResult.SUCCESS
            exporter.shutdown()
    assert not app.state.writer.accepting

    records = {r.name: r for r in store.find(RecordQuery(trace_id=trace_id)).records}  # each once despite two exports
    assert set(records) == {"huurtoeslag berekenen", "inkomen opvragen"}
    top, call = records["huurtoeslag berekenen"], records["inkomen opvragen"]
    assert top.data_subject_id == pseudonymise(VALID_BSN, KEY.encode())
    assert top.attributes["retry.codes"] == "[502,503]"
    assert (top.kind, top.status, top.scope_name, top.scope_version) == ("Server", Status.UNSET, "ldv-test", "9.9")
    assert top.resource_attributes[attr.ORGANISATION] == ORGANISATION
    assert (call.parent_span_id, call.kind, call.status, call.status_message) == (top.span_id, "Client", Status.ERROR, "timeout")
    counters = app.state.collector.metrics.snapshot()
    assert (counters["spans_ignored"], counters["spans_rejected"], counters["spans_stored"]) == (2, 2, 4)
