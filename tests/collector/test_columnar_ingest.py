"""The columnar ingest equals the full path, over generated OTLP requests (hypothesis).

`Ingester.ingest_columns` (spans into columns, the core's columnar rules pick the ordinary ones,
the rest go the full path) against `Ingester.ingest_rows` (the full path for every span): the
same rows to store, in the same order, the same rejections with the same messages, the same
counts. The requests mix ordinary LDV spans with everything the full path refuses or changes:
odd ids and times, clear BSNs in every written form and place (span, attributes, resource),
subjects to pseudonymise, non-string attribute values, repeated keys, undefined status codes
and kinds, events and links, spans without `dpl.` attributes, other organisations' resources.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ldv_collector._ingest import COLUMNAR_MIN_SPANS, Ingester, IngestResult
from ldv_collector._senders import Sender
from ldv_collector.settings import CollectorSettings
from ldv_logboek import attributes as attr
from ldv_logboek._otlp import record_to_span
from ldv_logboek._record import LogRecord, Status
from tests.collector.helpers import VALID_BSN, ldv_attributes, make_request, make_span
from tests.logboek.strategies import bsn_forms, pseudonyms, records, texts

ORGANISATIONS = ["dienst-toeslagen", "uwv", ""]
KEY = "columnar-test-key-0123456789"
_ACTIVITIES = ["https://register.example/a", "urn:ldv:b", "geen uri", ""]


@st.composite
def ordinary_records(draw: st.DrawFn) -> LogRecord:
    """Records as a well-behaved SDK sends them; each field is off now and then (one in eight)."""

    def usually(good: st.SearchStrategy, odd: st.SearchStrategy) -> object:
        return draw(odd) if draw(st.integers(0, 7)) == 0 else draw(good)

    start = draw(st.integers(1, 2**63 - 10))
    attributes = {attr.PROCESSING_ACTIVITY_ID: usually(st.sampled_from(_ACTIVITIES[:2]), st.sampled_from(_ACTIVITIES[2:]))}
    if draw(st.booleans()):
        attributes[attr.DATA_SUBJECT_ID] = usually(pseudonyms, st.one_of(bsn_forms, texts))
        attributes[attr.DATA_SUBJECT_ID_TYPE] = usually(st.just("BSN"), st.sampled_from(["KvK", "", "bsn "]))
    if draw(st.booleans()):
        attributes[attr.FOREIGN_OPERATION_PROCESSOR] = usually(st.sampled_from(_ACTIVITIES[:2]), st.sampled_from(_ACTIVITIES))
    if draw(st.integers(0, 3)) == 0:
        attributes[draw(st.sampled_from(["http.method", "dpl.demo.note", attr.EXTERNAL_READ_API_ID]))] = usually(
            st.sampled_from(["GET", "https://lezen.example/api"]), texts
        )
    return LogRecord(
        trace_id=usually(st.binary(min_size=16, max_size=16), st.one_of(st.just(bytes(16)), st.binary(max_size=17))),
        span_id=usually(st.binary(min_size=8, max_size=8), st.one_of(st.just(bytes(8)), st.binary(max_size=9))),
        parent_span_id=usually(
            st.one_of(st.just(b""), st.binary(min_size=8, max_size=8)), st.one_of(st.just(bytes(8)), st.binary(max_size=9))
        ),
        name=usually(st.sampled_from(["toeslag berekenen", "besluit"]), st.one_of(st.sampled_from([" ", "", "\x1c"]), texts)),
        start_time_ns=start,
        end_time_ns=usually(st.just(start + 1_000), st.integers(0, 2**64 - 1)),
        status=draw(st.sampled_from(list(Status))),
        attributes=attributes,
        status_message=usually(st.just(""), texts),
        kind=draw(st.sampled_from(["Internal", "Server", "Client"])),
        trace_state=usually(st.sampled_from(["", "ldv=urn%3Aldv%3Aapp"]), st.sampled_from(["vendor=123456782", "x=1234.56.782"])),
        scope_name="ldv_sdk",
        scope_version="0.1.0",
    )


@st.composite
def spans(draw: st.DrawFn) -> Span:
    """One span: mostly ordinary, else anything; sometimes with a non-string value, a repeated
    key, an undefined status code or kind."""
    record = draw(st.one_of(ordinary_records(), ordinary_records(), ordinary_records(), records()))
    span = record_to_span(record)
    twist = draw(st.integers(0, 12))
    if twist == 0:
        span.attributes.append(KeyValue(key=draw(st.sampled_from(["n", attr.PROCESSING_ACTIVITY_ID])), value=AnyValue(int_value=7)))
    elif twist == 1 and len(span.attributes):
        span.attributes.append(KeyValue(key=span.attributes[0].key, value=AnyValue(string_value=draw(texts))))
    elif twist == 2:
        span.status.code = draw(st.sampled_from([3, 7]))  # type: ignore[assignment]
    elif twist == 3:
        span.kind = draw(st.sampled_from([6, 42]))  # type: ignore[assignment]
    elif twist == 4:
        del span.attributes[:]
        span.attributes.append(KeyValue(key="http.method", value=AnyValue(string_value="GET")))  # not an LDV span
    elif twist == 5:
        span.attributes.append(KeyValue(key="leeg", value=AnyValue()))  # a value without a type
    return span


@st.composite
def requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 3))):
        resource_spans = request.resource_spans.add()
        resource = {attr.SERVICE_NAME: draw(st.sampled_from(["toeslagen-api", "x"]))}
        organisation = draw(st.sampled_from(ORGANISATIONS))
        if organisation:
            resource[attr.ORGANISATION] = organisation
        if draw(st.integers(0, 5)) == 0:
            resource["host.name"] = draw(st.one_of(texts, bsn_forms))
        resource_spans.resource.attributes.extend(
            KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in resource.items()
        )
        for _ in range(draw(st.integers(1, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name, scope_spans.scope.version = draw(st.sampled_from([("ldv_sdk", "0.1.0"), ("", "")]))
            scope_spans.spans.extend(draw(st.lists(spans(), max_size=12)))
    return request


def _ingester(default_key: bool, store_clear_bsn: bool) -> Ingester:
    return Ingester(
        CollectorSettings(
            organisation_keys={"dienst-toeslagen": KEY + "-org"},
            pseudonymisation_key=KEY if default_key else None,
            store_clear_bsn=store_clear_bsn,
        )
    )


def _same(columnar: IngestResult, rows: IngestResult) -> None:
    assert (columnar.received, columnar.ignored, columnar.pseudonymised) == (rows.received, rows.ignored, rows.pseudonymised)
    assert columnar.rejections == rows.rejections
    assert columnar.rows is not None and rows.rows is not None
    assert columnar.rows.schema == rows.rows.schema
    assert columnar.rows.to_pylist() == rows.rows.to_pylist()
    assert columnar.rows.equals(rows.rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests(), st.booleans(), st.booleans(), st.sampled_from([None, "dienst-toeslagen", "uwv"]))
def test_the_columnar_path_equals_the_full_path(
    request: ExportTraceServiceRequest, default_key: bool, store_clear_bsn: bool, sender_organisation: str | None
) -> None:
    ingester = _ingester(default_key, store_clear_bsn)
    sender = Sender("sender", sender_organisation) if sender_organisation else None
    columnar = ingester.ingest_columns(ExportTraceServiceRequest.FromString(request.SerializeToString()), sender)
    rows = ingester.ingest_rows(ExportTraceServiceRequest.FromString(request.SerializeToString()), sender)
    _same(columnar, rows)


def test_a_large_request_takes_the_columnar_path_and_keeps_the_rules() -> None:
    """An ordinary request of many spans, with one clear BSN and one span to pseudonymise among them."""
    spans_ = [make_span() for _ in range(COLUMNAR_MIN_SPANS * 2)]
    spans_[5].attributes.append(KeyValue(key="opmerking", value=AnyValue(string_value=f"bsn {VALID_BSN}")))
    spans_[9] = make_span(ldv_attributes(subject=VALID_BSN))
    request = make_request(spans_)
    ingester = _ingester(default_key=True, store_clear_bsn=False)
    result = ingester.ingest(request)
    assert [r.span_id for r in result.rejections] == [spans_[5].span_id]
    assert "clear-bsn" in result.error_message(8192) and VALID_BSN not in result.error_message(8192)
    assert result.pseudonymised == 1
    stored = result.records
    assert [r.span_id for r in stored] == [s.span_id for i, s in enumerate(spans_) if i != 5]  # span order kept
    assert stored[8].data_subject_id.startswith("hmac-sha256:")
    _same(result, ingester.ingest_rows(request))


def test_a_clear_bsn_in_the_resource_refuses_every_span_of_it_on_the_columnar_path() -> None:
    spans_ = [make_span() for _ in range(COLUMNAR_MIN_SPANS)]
    request = make_request(spans_, resource={attr.SERVICE_NAME: "toeslagen-api", "host.name": f"pc-{VALID_BSN}"})
    ingester = _ingester(default_key=True, store_clear_bsn=False)
    result = ingester.ingest(request)
    assert len(result) == 0 and len(result.rejections) == len(spans_)
    assert all("clear-bsn" in r.describe() for r in result.rejections)
    _same(result, ingester.ingest_rows(request))
