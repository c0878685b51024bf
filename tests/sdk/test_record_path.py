"""The SDK's side of the one record path, over generated spans (hypothesis).

- The SDK reads a finished span as the collector reads the same span in the official
  OpenTelemetry OTLP encoding (`opentelemetry-exporter-otlp-proto-common`).
- What the SDK spools is what the collector stores: the spooled bytes, sent as a request,
  pass the collector's rules unchanged.
Real OpenTelemetry SDK spans, the real collector ingester.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from ldv_collector._ingest import Ingester
from ldv_collector.settings import CollectorSettings
from ldv_logboek import attributes as attr
from ldv_logboek import protect, records_of
from ldv_sdk import _runtime
from ldv_sdk._runtime import SpanEncoder, SpoolExporter, record_of, span_of
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


def _recording() -> tuple[_Keep, TracerProvider]:
    """A provider of the SDK's resource whose finished spans `keep.spans` holds."""
    keep = _Keep()
    provider = TracerProvider(resource=Resource(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(keep))
    return keep, provider


def _spooled(span: ReadableSpan) -> bytes:
    """What the SDK's spool exporter appends for `span`."""
    spooled = _Spooled()
    SpoolExporter(CONFIG, RESOURCE, spooled).write(span)
    (body,) = spooled.bodies
    return body


def _finished_span(
    name: str, attributes: dict[str, Any], kind: SpanKind, status: StatusCode, message: str, events: list
) -> ReadableSpan:
    keep, provider = _recording()
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
    (expected,) = records_of(encode_spans([span]).SerializeToString())
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
    body = _spooled(span)
    request = ExportTraceServiceRequest.FromString(body)
    (sent,) = records_of(body)
    result = Ingester(CollectorSettings()).ingest(request)
    if result.records:  # a record with a dpl. attribute that meets the standard
        assert result.records == [sent] and result.pseudonymised == 0
    # Never a clear BSN: the collector may refuse a record for the standard's other rules, not for that.
    assert not [v for r in result.rejections for v in r.violations if v.rule == "clear-bsn"]


@PROPERTY
@given(span_arguments)
def test_the_sdk_spools_the_official_encoding_of_the_span_as_protect_leaves_it(arguments: tuple) -> None:
    """One form: OpenTelemetry's own encoding of the span as `protect` left its record (rebuilt
    through OpenTelemetry's public constructor): its texts, and the span's own kind, status and ids."""
    span = _finished_span(*arguments)
    spooled = _Spooled()
    exporter = SpoolExporter(CONFIG, RESOURCE, spooled)
    record = record_of(span, RESOURCE)
    protection = protect(record, exporter.policy)
    exporter.write(span)
    (body,) = spooled.bodies
    assert records_of(body) == [record]
    assert body == encode_spans([span_of(record, span)]).SerializeToString()
    if not (protection.pseudonymised or protection.clear_bsn_at or protection.repaired):
        # Unchanged by the rules: what OpenTelemetry encodes of the span itself, values as text.
        assert records_of(body) == records_of(encode_spans([span]).SerializeToString())


@PROPERTY
@given(span_arguments)
def test_the_span_encoder_builds_what_opentelemetrys_encoder_builds(arguments: tuple) -> None:
    """`SpanEncoder` (the resource and scope encoded once) against `encode_spans` of the span
    rebuilt from the record, span by span, and its own build taken for spans without events."""
    span = _finished_span(*arguments)
    record = record_of(span, RESOURCE)
    encoder = SpanEncoder()
    official = encode_spans([span_of(record, span)]).SerializeToString()
    with mock.patch.object(_runtime, "encode", wraps=_runtime.encode) as fallback:
        for _ in range(2):  # the first call makes the frame, the second reuses the thread's request
            assert encoder(record, span) == official
    if not record.events:
        assert fallback.call_count == 0, "a span without events must take the encoder's own build"


text_spans = st.tuples(
    texts,
    st.dictionaries(st.sampled_from([attr.PROCESSING_ACTIVITY_ID, attr.DATA_SUBJECT_ID, "a", "b"]), texts, max_size=4),
    st.sampled_from(list(SpanKind)),
    st.sampled_from(list(StatusCode)),
    texts,
    st.sampled_from(["none", "local", "remote with trace state"]),
)


@PROPERTY
@given(st.lists(text_spans, min_size=2, max_size=6))
def test_the_span_encoder_leaves_nothing_of_one_span_in_the_next(sequence: list[tuple]) -> None:
    """One encoder, one thread, one resource: a run of different spans (attributes the same or
    other keys, statuses with and without message, parents local, remote with a trace state, or
    none) each encodes as `encode_spans` encodes it alone, through the encoder's own build."""
    keep, provider = _recording()
    tracer = provider.get_tracer("ldv_sdk", "0.1.0")
    previous = None
    for name, attributes, kind, status, message, parent in sequence:
        context = None
        if parent == "local" and previous is not None:
            context = trace.set_span_in_context(previous)
        elif parent == "remote with trace state":
            remote = SpanContext(
                0x1F,
                0x2F,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
                trace_state=TraceState([("ldv", "x1"), ("o", "y")]),
            )
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        span = tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        span.set_status(Status(status, message if status is StatusCode.ERROR else None))
        span.end()
        previous = span
    encoder = SpanEncoder()
    with mock.patch.object(_runtime, "encode", wraps=_runtime.encode) as fallback:
        for finished in keep.spans:
            record = record_of(finished, RESOURCE)
            assert encoder(record, finished) == encode_spans([span_of(record, finished)]).SerializeToString()
    assert fallback.call_count == 0


def test_the_span_encoder_holds_one_span_per_request_in_every_thread() -> None:
    """Each thread has its own request and nothing of one span stays for the next; a span of
    another resource, or a record whose resource the rules changed, takes OpenTelemetry's encoder."""
    spans = [_finished_span(f"n{i}", {"k": f"v{i}"}, SpanKind.INTERNAL, StatusCode.UNSET, "", []) for i in range(3)]
    encoder = SpanEncoder()
    encoder(record_of(spans[0], RESOURCE), spans[0])  # its resource is the encoder's from now on
    same_resource = [
        ReadableSpan(name=f"m{i}", context=s.context, resource=spans[0].resource, attributes={"k": f"w{i}"},
                     instrumentation_scope=spans[0].instrumentation_scope, start_time=1, end_time=2)
        for i, s in enumerate(spans)
    ]  # fmt: skip

    def official(span: ReadableSpan) -> bytes:
        return encode_spans([span]).SerializeToString()

    assert encoder(record_of(same_resource[1], RESOURCE), same_resource[1]) == official(same_resource[1])
    redacted = record_of(same_resource[2], RESOURCE)
    redacted.resource_attributes[attr.SERVICE_NAME] = "svc [redacted]"
    with mock.patch.object(_runtime, "encode", wraps=_runtime.encode) as fallback:
        assert encoder(record_of(spans[1], RESOURCE), spans[1]) == official(spans[1])
        assert encoder(redacted, same_resource[2]) == official(span_of(redacted, same_resource[2]))
    assert fallback.call_count == 2
    assert b"svc [redacted]" in encoder(redacted, same_resource[2])

    def encode_many(span: ReadableSpan) -> list[bytes]:
        return [encoder(record_of(span, RESOURCE), span) for _ in range(200)]

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(encode_many, same_resource))
    for span, bodies in zip(same_resource, results):
        assert set(bodies) == {official(span)}


def test_a_processing_is_encoded_as_opentelemetry_encodes_it() -> None:
    import ldv_sdk

    spooled = _Spooled()
    with capture_ldv() as _records:
        runtime = ldv_sdk._runtime.get_runtime()  # type: ignore[attr-defined]
        assert runtime is not None
        exporter = runtime.exporter
        kept: list[ReadableSpan] = []
        write = exporter.write
        exporter.write = lambda span: (kept.append(span), write(span))  # type: ignore[method-assign]

        @ldv_sdk.verwerking("https://register.example/a", "berekenen", subject="bsn")
        def bereken(bsn: str) -> None:
            return None

        bereken("123456782")
        del exporter.write
    (span,) = kept
    assert exporter.encode._frame is not None  # the usual processing takes the encoder's own build
    spooled.put(exporter.encode(record_of(span, exporter.resource), span))
    assert ExportTraceServiceRequest.FromString(spooled.bodies[0]) == encode_spans([span])


def test_a_clear_bsn_in_the_trace_state_is_not_spooled() -> None:
    """`protect` redacts a clear BSN in the trace state (a caller's tracestate header), and the
    spooled bytes carry the redacted state, not the one the span's context still holds."""
    keep, provider = _recording()
    remote = SpanContext(
        0x1F,
        0x2F,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "k-123456782")]),
    )
    for events in ([], [("e", {"k": "v"})]):  # the encoder's own build, and OpenTelemetry's encoder
        keep.spans.clear()
        span = provider.get_tracer("ldv_sdk", "0.1.0").start_span(
            "berekenen", context=trace.set_span_in_context(NonRecordingSpan(remote)),
            attributes={attr.PROCESSING_ACTIVITY_ID: "https://register.example/a"},
        )  # fmt: skip
        for name, attributes in events:
            span.add_event(name, attributes)
        span.end()
        body = _spooled(keep.spans[0])
        assert b"123456782" not in body
        (stored,) = records_of(body)
        assert stored.trace_state == "vendor=k-[redacted: looks like a BSN]"


def test_a_span_the_encoder_cannot_write_leaves_nothing_for_the_next() -> None:
    """A text protobuf refuses (a lone surrogate) raises in the middle of writing the reused span;
    the next record is still encoded whole, as OpenTelemetry encodes it."""
    keep, provider = _recording()
    tracer = provider.get_tracer("ldv_sdk", "0.1.0")
    for name, value in [("a", "x"), ("b", "y"), ("c", "z")]:
        span = tracer.start_span(name, attributes={"k": value, "l": value})
        span.set_status(Status(StatusCode.ERROR, f"fout {name}"))
        span.end()
    first, second, third = keep.spans
    encoder = SpanEncoder()
    for field in ("name", "status_message", "attribute"):
        encoder(record_of(first, RESOURCE), first)
        broken = record_of(second, RESOURCE)
        if field == "attribute":
            broken.attributes["l"] = "\ud800"
        else:
            setattr(broken, field, "\ud800")
        with pytest.raises(UnicodeEncodeError):
            encoder(broken, second)
        for finished in (first, second, third):  # first: the record written before the one cut short
            record = record_of(finished, RESOURCE)
            assert encoder(record, finished) == encode_spans([span_of(record, finished)]).SerializeToString()


def test_a_clear_bsn_in_a_links_trace_state_is_not_spooled() -> None:
    """The same for the trace state of a link (another trace's context the processing refers to):
    `protect` redacts it in the record, and OpenTelemetry's encoder does not write a link's
    trace state at all (opentelemetry-exporter-otlp-proto-common 1.x), so neither reaches the spool."""
    keep, provider = _recording()
    linked = SpanContext(0x3F, 0x4F, is_remote=True, trace_state=TraceState([("vendor", "k-123456782")]))
    span = provider.get_tracer("ldv_sdk", "0.1.0").start_span(
        "berekenen",
        attributes={attr.PROCESSING_ACTIVITY_ID: "https://register.example/a"},
        links=[trace.Link(linked, {"reden": "bezwaar"})],
    )
    span.end()
    body = _spooled(keep.spans[0])
    assert b"123456782" not in body
    ((link,),) = [stored.links for stored in records_of(body)]
    assert link.span_id == (0x4F).to_bytes(8, "big") and link.attributes == {"reden": "bezwaar"}
    record = record_of(keep.spans[0], RESOURCE)
    protection = protect(record, SpoolExporter(CONFIG, RESOURCE, _Spooled()).policy)
    assert protection.clear_bsn_at == ["the trace state of link 0"]
    assert record.links[0].trace_state == "vendor=k-[redacted: looks like a BSN]"


def test_a_clear_bsn_in_an_attribute_key_is_not_spooled() -> None:
    keep, provider = _recording()
    span = provider.get_tracer("ldv_sdk", "0.1.0").start_span(
        "berekenen", attributes={attr.PROCESSING_ACTIVITY_ID: "https://register.example/a", "klant.123456782": "ja"}
    )
    span.end()
    body = _spooled(keep.spans[0])
    assert b"123456782" not in body
    (stored,) = records_of(body)
    assert stored.attributes["klant.[redacted: looks like a BSN]"] == "ja"


def test_a_clear_bsn_in_the_scope_of_the_first_span_is_not_spooled() -> None:
    """The encoder's frame (resource and scope encoded once) is made from the first span it sees;
    a record whose scope the rules redacted never uses it, first or not."""
    keep, provider = _recording()
    for _ in range(2):
        provider.get_tracer("lib-123456782", "1").start_span("berekenen", attributes={"k": "v"}).end()
    spooled = _Spooled()
    exporter = SpoolExporter(CONFIG, RESOURCE, spooled)
    for span in keep.spans:
        exporter.write(span)
    for body in spooled.bodies:
        assert b"123456782" not in body
        (stored,) = records_of(body)
        assert stored.scope_name == "lib-[redacted: looks like a BSN]"
