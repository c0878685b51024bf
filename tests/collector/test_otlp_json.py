"""OTLP/JSON: protobuf's own JSON parser (ids from hex) reads back exactly the request that was written."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ldv_collector._decode import decode_json
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


@pytest.mark.parametrize("request_", [_rich_request(), synthetic_request(300, seed=5)], ids=["rich", "synthetic"])
def test_an_otlp_json_request_decodes_to_the_request_it_was_made_of(request_: ExportTraceServiceRequest) -> None:
    assert decode_json(to_otlp_json(request_)) == request_
