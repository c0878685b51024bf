"""Builders of real OTLP requests for the collector tests."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import anyio
import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ldv_logboek import attributes as attr

ACTIVITY = "https://register.example/processing-activities/huurtoeslag/v1"
PSEUDONYM = "hmac-sha256:" + "ab" * 32
VALID_BSN = "123456782"  # passes the elfproef; a test number, not a real person's
ORGANISATION = "dienst-toeslagen"


def any_value(value: Any) -> AnyValue:
    """A Python value as an OTLP AnyValue (str, bool, int, float, bytes, list, dict)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(any_value(v) for v in value)
        return out
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(KeyValue(key=k, value=any_value(v)) for k, v in value.items())
        return out
    return AnyValue(string_value=value)


def kvs(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]


def ldv_attributes(subject: str | None = PSEUDONYM, **extra: Any) -> dict[str, Any]:
    """The dpl.core attributes of a valid record about a subject, plus `extra`."""
    out: dict[str, Any] = {attr.PROCESSING_ACTIVITY_ID: ACTIVITY}
    if subject is not None:
        out[attr.DATA_SUBJECT_ID] = subject
        out[attr.DATA_SUBJECT_ID_TYPE] = "BSN"
    out.update(extra)
    return out


def make_span(
    attributes: dict[str, Any] | None = None,
    *,
    name: str = "huurtoeslag berekenen",
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
    status_code: int = 1,
    kind: int = Span.SPAN_KIND_SERVER,
    start_ns: int | None = None,
    duration_ns: int = 1_500_000,
) -> Span:
    """A valid LDV span unless told otherwise."""
    start = start_ns if start_ns is not None else time.time_ns()
    span = Span(
        trace_id=trace_id if trace_id is not None else os.urandom(16),
        span_id=span_id if span_id is not None else os.urandom(8),
        name=name,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration_ns,
    )
    span.status.code = status_code
    span.attributes.extend(kvs(ldv_attributes() if attributes is None else attributes))
    return span


def make_request(
    spans: list[Span], *, resource: dict[str, Any] | None = None, scope: tuple[str, str] = ("ldv_sdk", "0.1.0")
) -> ExportTraceServiceRequest:
    """One resource (service toeslagen-api of ORGANISATION by default) and one scope holding `spans`."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        kvs(resource if resource is not None else {attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: ORGANISATION})
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = scope
    scope_spans.spans.extend(spans)
    return request


def to_otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """The request in OTLP/JSON: camelCase names, hex ids, enums as integers, int64 as strings."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)

    def hexify(obj: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key in keys:
            if key in obj:
                obj[key] = base64.b64decode(obj[key]).hex()

    for rs in document.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                hexify(span, ("traceId", "spanId", "parentSpanId"))
                for link in span.get("links", []):
                    hexify(link, ("traceId", "spanId"))
    return json.dumps(document).encode()


class AsgiClient:
    """A synchronous httpx client for an ASGI app, in-process (httpx.ASGITransport).

    ASGITransport does not run the app's lifespan: the fixtures start and stop the writer
    themselves; the uvicorn test covers the lifespan.
    """

    def __init__(self, app: Any):
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://collector.test") as client:
                return await client.request(method, url, **kwargs)

        return anyio.run(send)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)
