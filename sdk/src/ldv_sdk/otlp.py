"""Record dicts to an OTLP `ExportTraceServiceRequest` (protobuf), grouped by resource and scope."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from ldv_sdk.records import Record

_KIND = {
    "Internal": Span.SPAN_KIND_INTERNAL,
    "Server": Span.SPAN_KIND_SERVER,
    "Client": Span.SPAN_KIND_CLIENT,
    "Producer": Span.SPAN_KIND_PRODUCER,
    "Consumer": Span.SPAN_KIND_CONSUMER,
}
_STATUS = {"Unset": Status.STATUS_CODE_UNSET, "Ok": Status.STATUS_CODE_OK, "Error": Status.STATUS_CODE_ERROR}


def _any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def _key_values(values: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any_value(v)) for k, v in values.items()]


def record_to_span(record: Record) -> Span:
    """One record dict as an OTLP Span message."""
    return Span(
        trace_id=bytes.fromhex(record["trace_id"]),
        span_id=bytes.fromhex(record["span_id"]),
        parent_span_id=bytes.fromhex(record["parent_span_id"]),
        trace_state=record["trace_state"],
        name=record["name"],
        kind=_KIND.get(record["kind"], Span.SPAN_KIND_INTERNAL),
        start_time_unix_nano=record["start_time_ns"],
        end_time_unix_nano=record["end_time_ns"],
        attributes=_key_values(record["attributes"]),
        events=[
            Span.Event(time_unix_nano=e["time_ns"], name=e["name"], attributes=_key_values(e["attributes"]))
            for e in record["events"]
        ],
        status=Status(code=_STATUS.get(record["status"], Status.STATUS_CODE_UNSET), message=record["status_message"]),
    )


def encode_request(records: Iterable[Record]) -> ExportTraceServiceRequest:
    """One request holding `records`, one ResourceSpans per distinct resource, one ScopeSpans per scope."""
    groups: dict[str, dict[tuple[str, str], list[Span]]] = {}
    resources: dict[str, Mapping[str, Any]] = {}
    for record in records:
        key = json.dumps(record["resource"], sort_keys=True)
        resources.setdefault(key, record["resource"])
        name, version = record["scope"]
        groups.setdefault(key, {}).setdefault((name, version), []).append(record_to_span(record))
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=_key_values(resources[key])),
                scope_spans=[
                    ScopeSpans(scope=InstrumentationScope(name=name, version=version), spans=spans)
                    for (name, version), spans in scopes.items()
                ],
            )
            for key, scopes in groups.items()
        ]
    )
