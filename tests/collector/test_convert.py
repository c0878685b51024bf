"""OTLP spans to LDV records: attribute values, kinds, status, scope, events and links."""

from __future__ import annotations

import base64
import os

import pytest

from ldv_collector._ingest import Ingester
from ldv_collector.settings import CollectorSettings
from ldv_logboek import Status
from ldv_logboek import attributes as attr
from ldv_logboek._otlp import SPAN_KINDS, attributes_to_dict, span_kind, status_of, value_to_str
from tests.collector.helpers import ORGANISATION, any_value, kvs, ldv_attributes, make_request, make_span


@pytest.mark.parametrize(
    "value, expected",
    [
        ("tekst", "tekst"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-(2**63), str(-(2**63))),
        (1.5, "1.5"),
        (b"\x00\x01", base64.b64encode(b"\x00\x01").decode()),
        (["a", 1, True, 2.5], '["a",1,true,2.5]'),
        ({"k": "v", "n": [1, {"x": False}]}, '{"k":"v","n":[1,{"x":false}]}'),
        ([b"\xff"], '["/w=="]'),
        (["é"], '["é"]'),
        ([], "[]"),
    ],
)
def test_attribute_values_as_the_clickhouse_exporter_writes_them(value: object, expected: str) -> None:
    assert value_to_str(any_value(value)) == expected


def test_empty_any_value_is_an_empty_string_and_last_key_wins() -> None:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    assert value_to_str(AnyValue()) == ""
    pairs = [KeyValue(key="a", value=AnyValue(string_value="1")), KeyValue(key="a", value=AnyValue(int_value=2))]
    assert attributes_to_dict(pairs) == {"a": "2"}


def test_kinds_and_status_codes() -> None:
    assert [span_kind(k) for k in range(6)] == list(SPAN_KINDS)
    assert SPAN_KINDS == ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
    assert span_kind(99) == "Unspecified"
    assert [status_of(c) for c in (0, 1, 2, 3)] == [Status.UNSET, Status.OK, Status.ERROR, None]


def test_span_becomes_a_full_record() -> None:
    span = make_span(ldv_attributes(**{"http.response.status_code": 200, "retry": False}), status_code=2, kind=3)
    span.parent_span_id = os.urandom(8)
    span.trace_state = "vendor=1"
    span.status.message = "upstream timeout"
    event = span.events.add(time_unix_nano=span.start_time_unix_nano + 10, name="exception")
    event.attributes.extend(kvs({attr.EXCEPTION_TYPE: "TimeoutError", "attempt": 3}))
    link = span.links.add(trace_id=os.urandom(16), span_id=os.urandom(8), trace_state="a=b")
    link.attributes.extend(kvs({"reason": "batch"}))
    resource = {attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: ORGANISATION, "host.cpus": 4}

    result = Ingester(CollectorSettings()).ingest(make_request([span], resource=resource, scope=("ldv_sdk", "1.2")))

    assert result.rejections == [] and result.received == 1
    [record] = result.records
    assert (record.trace_id, record.span_id, record.parent_span_id) == (span.trace_id, span.span_id, span.parent_span_id)
    assert (record.name, record.kind, record.status, record.status_message) == (
        "huurtoeslag berekenen",
        "Client",
        Status.ERROR,
        "upstream timeout",
    )
    assert (record.start_time_ns, record.end_time_ns) == (span.start_time_unix_nano, span.end_time_unix_nano)
    assert record.attributes["http.response.status_code"] == "200" and record.attributes["retry"] == "false"
    assert record.resource_attributes == {attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: ORGANISATION, "host.cpus": "4"}
    assert (record.scope_name, record.scope_version, record.trace_state) == ("ldv_sdk", "1.2", "vendor=1")
    assert [(e.time_ns, e.name, e.attributes) for e in record.events] == [
        (span.start_time_unix_nano + 10, "exception", {attr.EXCEPTION_TYPE: "TimeoutError", "attempt": "3"})
    ]
    assert [(lk.trace_id, lk.span_id, lk.trace_state, lk.attributes) for lk in record.links] == [
        (link.trace_id, link.span_id, "a=b", {"reason": "batch"})
    ]
