"""The OTLP/JSON fast path builds exactly what protobuf's generic JSON parser builds."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ldv_collector._decode import decode_json
from ldv_collector.errors import UndecodableBody
from ldv_logboek._otlp_json import NotPlain, request_from_json
from ldv_suite.synthetic import synthetic_request
from tests.collector.helpers import ldv_attributes, make_request, make_span, to_otlp_json


def _rich_request() -> ExportTraceServiceRequest:
    """Every value type, events, links, status, flags, dropped counts, schema URLs."""
    span = make_span(
        ldv_attributes(
            text="tekst", number=-42, big=2**62, ratio=0.25, yes=True, raw=b"\x00\x01\xff",
            items=["a", 1, False, [2.5]], nested={"k": "v", "n": {"x": 1}}, empty_list=[],
        ),
        status_code=2,
        kind=Span.SPAN_KIND_CLIENT,
    )
    span.parent_span_id = b"\x05" * 8
    span.trace_state = "ldv=urn%3Aldv%3Aapp,vendor=x"
    span.flags = 257
    span.status.message = "interne fout"
    span.dropped_attributes_count = 3
    span.dropped_events_count = 1
    span.dropped_links_count = 2
    span.events.add(time_unix_nano=span.start_time_unix_nano + 5, name="exception", dropped_attributes_count=1)
    span.events[0].attributes.add(key="exception.type", value={"string_value": "ValueError"})
    link = span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, trace_state="a=b", flags=1)
    link.attributes.add(key="reden", value={"int_value": 7})
    request = make_request([span, make_span()])
    request.resource_spans[0].schema_url = "https://opentelemetry.io/schemas/1.26.0"
    request.resource_spans[0].scope_spans[0].schema_url = "https://opentelemetry.io/schemas/1.26.0"
    request.resource_spans[0].scope_spans[0].scope.attributes.add(key="scope.attr", value={"bool_value": True})
    request.resource_spans[0].resource.dropped_attributes_count = 4
    request.resource_spans.add()  # an empty resource
    return request


def _generic(document: dict[str, Any]) -> ExportTraceServiceRequest:
    """What protobuf's own JSON parser makes of an OTLP/JSON document (ids converted to base64)."""
    document = json.loads(json.dumps(document))
    for rs in document.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
                for link in span.get("links", []):
                    for key in ("traceId", "spanId"):
                        link[key] = base64.b64encode(bytes.fromhex(link[key])).decode()
    request = ExportTraceServiceRequest()
    json_format.ParseDict(document, request, ignore_unknown_fields=True)
    return request


@pytest.mark.parametrize("request_", [_rich_request(), synthetic_request(300, seed=5)], ids=["rich", "synthetic"])
def test_fast_path_equals_the_original_and_the_generic_parser(request_: ExportTraceServiceRequest) -> None:
    document = json.loads(to_otlp_json(request_))
    fast = request_from_json(document)
    assert fast == request_
    assert fast == _generic(document)
    assert decode_json(to_otlp_json(request_)) == request_


def test_snake_case_names_and_enum_names_are_accepted() -> None:
    request = _rich_request()
    document = json_format.MessageToDict(request, preserving_proto_field_name=True)  # enums as names
    for rs in document["resource_spans"]:
        for ss in rs.get("scope_spans", []):
            for span in ss["spans"]:
                for key in ("trace_id", "span_id", "parent_span_id"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
                for link in span.get("links", []):
                    link["trace_id"] = base64.b64decode(link["trace_id"]).hex()
                    link["span_id"] = base64.b64decode(link["span_id"]).hex()
    assert request_from_json(document) == request
    assert decode_json(json.dumps(document).encode()) == request


def test_int64_as_numbers_and_unknown_fields() -> None:
    document = json.loads(to_otlp_json(make_request([make_span()])))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
    span["somethingNew"] = {"from": "a later OTLP version"}
    assert request_from_json(document) == _generic(document)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.update(traceId="not hex"),
        lambda s: s.update(startTimeUnixNano="-5"),
        lambda s: s.update(attributes={"not": "a list"}),
        lambda s: s["attributes"].append({"key": "x", "value": {"intValue": "12x"}}),
        lambda s: s["attributes"].append({"key": "x", "value": {"stringValue": "a", "boolValue": True}}),
    ],
    ids=["bad hex", "negative time", "attributes object", "bad int", "two oneofs"],
)
def test_what_the_fast_path_refuses_is_refused_with_a_message(mutate: Any) -> None:
    document = json.loads(to_otlp_json(make_request([make_span()])))
    mutate(document["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    with pytest.raises(NotPlain):
        request_from_json(document)
    with pytest.raises(UndecodableBody) as info:
        decode_json(json.dumps(document).encode())
    assert str(info.value)


def test_an_unknown_enum_name_is_left_to_the_generic_parser() -> None:
    # A newer OTLP may add span kinds: the generic parser ignores names it does not know.
    document = json.loads(to_otlp_json(make_request([make_span()])))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] = "SPAN_KIND_FROM_THE_FUTURE"
    with pytest.raises(NotPlain):
        request_from_json(document)
    assert decode_json(json.dumps(document).encode()) == _generic(document)


def test_nan_doubles_go_through_the_generic_parser() -> None:
    document = json.loads(to_otlp_json(make_request([make_span()])))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append(
        {"key": "ratio", "value": {"doubleValue": "NaN"}}
    )
    with pytest.raises(NotPlain):
        request_from_json(document)
    decoded = decode_json(json.dumps(document).encode())
    value = decoded.resource_spans[0].scope_spans[0].spans[0].attributes[-1].value.double_value
    assert value != value  # NaN


_values = st.recursive(
    st.one_of(
        st.text(max_size=20),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.binary(max_size=8),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.text(max_size=10), _values, max_size=5),
            st.text(max_size=20),
            st.binary(min_size=16, max_size=16),
            st.binary(min_size=8, max_size=8),
            st.integers(0, 2),
            st.integers(0, 5),
            st.integers(0, 2**63),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_fast_path_equals_the_generic_parser_on_generated_requests(spans: list) -> None:
    request_ = make_request(
        [
            make_span(attributes, name=name, trace_id=trace_id, span_id=span_id, status_code=status, kind=kind, start_ns=start)
            for attributes, name, trace_id, span_id, status, kind, start in spans
        ]
    )
    document = json.loads(to_otlp_json(request_))
    assert request_from_json(json.loads(to_otlp_json(request_))) == _generic(document) == request_
