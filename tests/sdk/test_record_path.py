"""The SDK's side of the one record path, over generated spans (hypothesis).

- The SDK reads a finished span as the collector reads the same span in the official
  OpenTelemetry OTLP encoding (`opentelemetry-exporter-otlp-proto-common`).
- What the SDK spools is what the collector stores: the spooled bytes, sent as a request,
  pass the collector's rules unchanged.
Real OpenTelemetry SDK spans, the real collector ingester.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

import ldv_sdk
import ldv_sdk._runtime as runtime_module
from ldv_collector._ingest import Ingester
from ldv_collector.settings import CollectorSettings
from ldv_logboek import attributes as attr
from ldv_logboek._otlp import records_of, request_bytes
from ldv_logboek._pipeline import process
from ldv_sdk._runtime import SpoolExporter, record_of
from ldv_sdk.settings import LdvConfig
from ldv_sdk.testing import capture_ldv
from tests.logboek.strategies import bsn_forms, pseudonyms, texts

RESOURCE = {attr.SERVICE_NAME: "svc", attr.ORGANISATION: "gemeente-test"}
CONFIG = LdvConfig(organisation="gemeente-test", service_name="svc", pseudonym_key=b"k" * 32, start_sender=False)
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

scalars = st.one_of(texts, st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False))
values = st.one_of(
    scalars,
    st.lists(texts, max_size=3),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.lists(st.booleans(), max_size=3),
)
attribute_maps = st.dictionaries(
    st.one_of(
        st.sampled_from([attr.PROCESSING_ACTIVITY_ID, attr.DATA_SUBJECT_ID, attr.DATA_SUBJECT_ID_TYPE, "dpl.demo.x"]),
        st.text(min_size=1, max_size=8),
    ),
    values,
    max_size=6,
)


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _finished_span(
    name: str, attributes: dict[str, Any], kind: SpanKind, status: StatusCode, message: str, events: list
) -> ReadableSpan:
    keep = _Keep()
    provider = TracerProvider(resource=Resource(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(keep))
    span = provider.get_tracer("ldv_sdk", "0.1.0").start_span(name, kind=kind, attributes=attributes)
    for event_name, event_attributes in events:
        span.add_event(event_name, event_attributes)
    span.set_status(Status(status, message if status is StatusCode.ERROR else None))
    span.end()
    (finished,) = keep.spans
    return finished


# The span's arguments: the span itself is made in the test (OpenTelemetry draws its ids at random).
span_arguments = st.tuples(
    texts,
    attribute_maps,
    st.sampled_from(list(SpanKind)),
    st.sampled_from(list(StatusCode)),
    texts,
    st.lists(st.tuples(texts, attribute_maps), max_size=2),
)


@PROPERTY
@given(span_arguments)
def test_the_sdk_reads_a_span_as_the_collector_reads_its_official_otlp_encoding(arguments: tuple) -> None:
    span = _finished_span(*arguments)
    (resource_spans,) = encode_spans([span]).resource_spans
    (expected,) = records_of(resource_spans)
    assert record_of(span, RESOURCE) == expected


class _Spooled:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def put(self, body: bytes) -> None:
        self.bodies.append(body)


@PROPERTY
@given(
    texts,
    attribute_maps,
    st.one_of(bsn_forms, pseudonyms, texts),
    st.sampled_from(["BSN", "KvK"]),
    st.lists(st.tuples(texts, attribute_maps), max_size=2),
)
def test_what_the_sdk_spools_the_collector_stores_unchanged(
    name: str, attributes: dict[str, Any], subject: str, subject_type: str, events: list
) -> None:
    attributes = {
        **attributes,
        attr.PROCESSING_ACTIVITY_ID: "https://register.example/a",
        attr.DATA_SUBJECT_ID: subject,
        attr.DATA_SUBJECT_ID_TYPE: subject_type,
    }
    span = _finished_span(name, attributes, SpanKind.INTERNAL, StatusCode.UNSET, "", events)
    spooled = _Spooled()
    SpoolExporter(CONFIG, RESOURCE, spooled).write(span)
    (body,) = spooled.bodies
    request = ExportTraceServiceRequest.FromString(request_bytes([body]))
    (sent,) = records_of(request.resource_spans[0])
    result = Ingester(CollectorSettings()).ingest(request)
    if result.records:  # a record with a dpl. attribute that meets the standard
        assert result.records == [sent] and result.pseudonymised == 0
    # Never a clear BSN: the collector may refuse a record for the standard's other rules, not for that.
    assert not [v for r in result.rejections for v in r.violations if v.rule == "clear-bsn"]


@PROPERTY
@given(st.lists(st.tuples(texts, attribute_maps, st.sampled_from(list(SpanKind)), st.sampled_from(list(StatusCode)), texts), min_size=1, max_size=3), st.integers(1, 3))
def test_the_sdk_spools_for_every_span_what_the_cores_full_path_gives(shapes: list, repeats: int) -> None:
    """Spans of a shape seen before take the span-keyed fast path; every body equals the full path's."""
    spooled = _Spooled()
    exporter = SpoolExporter(CONFIG, RESOURCE, spooled)
    spans = [_finished_span(name, attributes, kind, status, message, []) for _ in range(repeats) for name, attributes, kind, status, message in shapes]
    expected = []
    for span in spans:
        processed = process(record_of(span, RESOURCE), exporter.policy)
        expected.append(ResourceSpans.FromString(processed.body))
        exporter.write(span)
    assert [ResourceSpans.FromString(body) for body in spooled.bodies] == expected


def test_spans_of_a_processing_take_the_fast_path_after_the_first(monkeypatch: Any) -> None:
    """The SDK's fast path reads the OpenTelemetry SDK's span fields; if an upgrade renamed them,
    every record would quietly take the full path. Only the first span of a shape builds a record."""
    built: list[object] = []
    full = runtime_module.record_of
    monkeypatch.setattr(runtime_module, "record_of", lambda span, resource: built.append(span) or full(span, resource))

    @ldv_sdk.verwerking("https://register.example/a", "berekenen", subject="bsn")
    def bereken(bsn: str) -> None:
        return None

    with capture_ldv() as records:
        for bsn in ("123456782", "111222333", "987654321"):
            bereken(bsn)
    assert len(records) == 3 and len({r["attributes"][attr.DATA_SUBJECT_ID] for r in records}) == 3
    assert len(built) == 1
