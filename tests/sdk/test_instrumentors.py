"""A service instrumented with the official OpenTelemetry instrumentors gets correct LDV links.

The callee is a real FastAPI app behind a real uvicorn server (127.0.0.1, free port),
instrumented with `opentelemetry-instrumentation-fastapi` (no LdvMiddleware); the caller uses
an httpx client instrumented with `opentelemetry-instrumentation-httpx`, or requests with
`opentelemetry-instrumentation-requests` (no ldv_sdk.clients). The application traces to its
own OpenTelemetry provider; the only LDV piece in between is `LdvPropagator`, composed with
the W3C propagators as `OTEL_PROPAGATORS=tracecontext,baggage,ldv` would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import requests
from fastapi import FastAPI
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_sdk import LdvPropagator
from ldv_sdk.testing import capture_ldv
from tests.servers import serving

BSN = "123456782"
CALLER = "https://toeslagen.example/apps/huurtoeslag"


@pytest.fixture
def app_tracing() -> Iterator[InMemorySpanExporter]:
    """The application's own tracing (a provider of its own) and the composed global propagator."""
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator(), LdvPropagator()]))
    spans = InMemorySpanExporter()
    yield spans
    propagate.set_global_textmap(previous)


@pytest.fixture
def callee(app_tracing: InMemorySpanExporter) -> Iterator[str]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(app_tracing))
    app = FastAPI()

    @app.get("/inkomen/{bsn}")
    @ldv_sdk.verwerking("inkomen-verstrekken", subject="bsn")
    def inkomen(bsn: str) -> dict:
        return {"inkomen": 31000}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    with serving(app, lifespan="off") as port:
        yield f"http://127.0.0.1:{port}"
    FastAPIInstrumentor.uninstrument_app(app)


def _assert_linked(records: list[dict], app_spans: InMemorySpanExporter) -> None:
    by_name = {r["name"]: r for r in records}
    caller, callee = by_name["inkomen opvragen"], by_name["inkomen"]
    assert callee["trace_id"] == caller["trace_id"]
    assert callee["parent_span_id"] == caller["span_id"]
    assert callee["kind"] == "Server"
    assert callee["attributes"][attr.FOREIGN_OPERATION_SPAN_ID] == caller["span_id"]
    assert callee["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == CALLER
    deadline = time.monotonic() + 10  # the server's span ends just after it answered
    while not {SpanKind.CLIENT, SpanKind.SERVER} <= {s.kind for s in app_spans.get_finished_spans()}:
        assert time.monotonic() < deadline, "the instrumentors did not trace the call"
        time.sleep(0.01)


def test_httpx_and_fastapi_instrumentors_carry_the_ldv_link(app_tracing: InMemorySpanExporter, callee: str) -> None:
    client_provider = TracerProvider()
    client_provider.add_span_processor(SimpleSpanProcessor(app_tracing))
    with capture_ldv(application_uri=CALLER) as records, httpx.Client() as client:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=client_provider)
        with ldv_sdk.verwerking("huurtoeslag", "inkomen opvragen") as v:
            v.add_subject(BSN)
            assert client.get(f"{callee}/inkomen/{BSN}").json() == {"inkomen": 31000}
    _assert_linked(records, app_tracing)


def test_requests_and_fastapi_instrumentors_carry_the_ldv_link(app_tracing: InMemorySpanExporter, callee: str) -> None:
    client_provider = TracerProvider()
    client_provider.add_span_processor(SimpleSpanProcessor(app_tracing))
    RequestsInstrumentor().instrument(tracer_provider=client_provider)
    try:
        with capture_ldv(application_uri=CALLER) as records:
            with ldv_sdk.verwerking("huurtoeslag", "inkomen opvragen") as v:
                v.add_subject(BSN)
                assert requests.get(f"{callee}/inkomen/{BSN}", timeout=10).json() == {"inkomen": 31000}
    finally:
        RequestsInstrumentor().uninstrument()
    _assert_linked(records, app_tracing)


def test_outside_a_processing_the_propagator_adds_nothing(app_tracing: InMemorySpanExporter) -> None:
    carrier: dict[str, str] = {}
    LdvPropagator().inject(carrier)
    assert carrier == {}
