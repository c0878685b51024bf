"""OTLP protobuf -> LDV log records: reading the wire (writing it is OpenTelemetry's own encoder's job).

Attribute values become strings the way the OpenTelemetry Collector's ClickHouse exporter
writes them: strings as they are, booleans `true`/`false`, numbers in decimal, bytes in
base64, and arrays and key-value lists as compact JSON (`value_to_str`; `attribute_text` gives
the same string for a Python value an OpenTelemetry SDK span holds).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ldv_logboek._record import Event, Link, LogRecord, Status

# OTLP Span.SpanKind numbers to the names the ClickHouse exporter stores.
SPAN_KINDS: tuple[str, ...] = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_STATUS: tuple[Status, ...] = (Status.UNSET, Status.OK, Status.ERROR)


_SCALARS = ("string_value", "int_value", "bool_value", "double_value")


def _raw(value: AnyValue) -> Any:
    """An AnyValue as a JSON-ready Python value (for arrays and kvlists)."""
    which = value.WhichOneof("value")
    if which in _SCALARS:
        return getattr(value, which)
    if which == "array_value":
        return [_raw(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def value_to_str(value: AnyValue) -> str:
    """One attribute value as the string the store keeps."""
    raw = _raw(value)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (list, dict)):
        return _json(raw)
    return "" if raw is None else str(raw)


def attribute_text(value: Any) -> str:
    """`value_to_str` of the AnyValue an OpenTelemetry SDK encodes a Python attribute value as.

    str, bool, int and float, and sequences of them (OpenTelemetry's attribute types); bytes
    in base64. Anything else is written as its str().
    """
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, (list, tuple)):
        return _json([_plain(v) for v in value])
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def attributes_to_dict(attributes: Any) -> dict[str, str]:
    """Repeated KeyValue to {key: string}; a repeated key keeps its last value."""
    out: dict[str, str] = {}
    kv: KeyValue
    for kv in attributes:
        value = kv.value
        # Most LDV attributes are strings: a oneof holds one value, so a non-empty string is one;
        # only "" needs asking which field is set.
        text = value.string_value
        out[kv.key] = text if text or value.WhichOneof("value") == "string_value" else value_to_str(value)
    return out


def span_kind(kind: int) -> str:
    """The ClickHouse exporter's name of an OTLP span kind; unknown numbers are Unspecified."""
    return SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else "Unspecified"


def status_of(code: int) -> Status | None:
    """The LDV status of an OTLP status code, or None for a code OTLP does not define."""
    return _STATUS[code] if 0 <= code < len(_STATUS) else None


def span_to_record(
    span: Span,
    attributes: dict[str, str],
    resource_attributes: dict[str, str],
    scope_name: str,
    scope_version: str,
    status: Status,
) -> LogRecord:
    """Build the record of `span` from its already converted attributes and status."""
    events, links = span.events, span.links
    # Positional, in LogRecord's field order: this runs for every span the collector receives.
    return LogRecord(
        span.trace_id,
        span.span_id,
        span.name,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        status,
        attributes,
        span.parent_span_id,
        resource_attributes,
        span.status.message,
        span_kind(span.kind),
        span.trace_state,
        scope_name,
        scope_version,
        [Event(e.time_unix_nano, e.name, attributes_to_dict(e.attributes)) for e in events] if events else [],
        [Link(k.trace_id, k.span_id, k.trace_state, attributes_to_dict(k.attributes)) for k in links] if links else [],
    )


def records_of(body: bytes) -> list[LogRecord]:
    """Every span of an encoded ExportTraceServiceRequest as a record (an undefined status code reads
    as Unset): how tests and `ldv_sdk.testing` read what the SDK spooled or sent."""
    out = []
    for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                status = status_of(span.status.code) or Status.UNSET
                attributes = attributes_to_dict(span.attributes)
                out.append(span_to_record(span, attributes, dict(resource), scope.name, scope.version, status))
    return out
