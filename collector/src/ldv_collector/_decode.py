"""Decoding OTLP/HTTP trace requests (protobuf and OTLP/JSON) into ExportTraceServiceRequest."""

from __future__ import annotations

import base64
import enum
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ldv_collector.errors import UndecodableBody


class Encoding(enum.Enum):
    """The two OTLP/HTTP payload encodings, by their media type."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


_MEDIA_TYPES = {
    "application/x-protobuf": Encoding.PROTOBUF,
    # Not in the OTLP spec, but the registered name for protobuf; harmless to accept.
    "application/protobuf": Encoding.PROTOBUF,
    "application/json": Encoding.JSON,
}


def encoding_of(content_type: str | None) -> Encoding | None:
    """The payload encoding named by a Content-Type header (parameters ignored), or None."""
    if not content_type:
        return None
    return _MEDIA_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def decode_request(body: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    """Parse `body`; raises UndecodableBody with a message for the sender."""
    if encoding is Encoding.PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except (DecodeError, RecursionError) as exc:
            raise UndecodableBody(f"the body is not a protobuf ExportTraceServiceRequest: {exc}") from None
    return decode_json(body)


def decode_json(body: bytes) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON request: hex ids, camelCase (or snake_case) names, int64 as strings."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise UndecodableBody(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UndecodableBody("the body must be a JSON object (an OTLP ExportTraceServiceRequest)")
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, TypeError, ValueError) as exc:
        raise UndecodableBody(f"the body is not an OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return request


def _items(obj: Any, camel: str, snake: str, where: str) -> list[Any]:
    value = obj.get(camel, obj.get(snake)) if isinstance(obj, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise UndecodableBody(f"{where}.{camel} must be an array")
    return value


def _convert_ids(obj: Any, keys: tuple[str, ...], where: str) -> None:
    """Replace OTLP/JSON hex ids in `obj` by base64, which protobuf's JSON parser expects."""
    if not isinstance(obj, dict):
        return
    for key in keys:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise UndecodableBody(f"{where}.{key} must be a hex string")
        try:
            obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
        except ValueError:
            raise UndecodableBody(f"{where}.{key} must be hex digits (OTLP/JSON encodes ids in hex)") from None


# The id fields, each by its camelCase and its snake_case name.
_LINK_IDS = ("traceId", "trace_id", "spanId", "span_id")
_SPAN_IDS = (*_LINK_IDS, "parentSpanId", "parent_span_id")


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    for i, rs in enumerate(_items(document, "resourceSpans", "resource_spans", "")):
        where_rs = f"resourceSpans[{i}]"
        for j, ss in enumerate(_items(rs, "scopeSpans", "scope_spans", where_rs)):
            where_ss = f"{where_rs}.scopeSpans[{j}]"
            for k, span in enumerate(_items(ss, "spans", "spans", where_ss)):
                where = f"{where_ss}.spans[{k}]"
                _convert_ids(span, _SPAN_IDS, where)
                for m, link in enumerate(_items(span, "links", "links", where)):
                    _convert_ids(link, _LINK_IDS, f"{where}.links[{m}]")

