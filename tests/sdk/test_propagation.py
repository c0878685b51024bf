"""Trace context across services: server middleware (ASGI via real FastAPI, WSGI), httpx and requests
clients, the caller's identity in tracestate, and no sampling in either direction."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import requests
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_sdk._server import LdvMiddleware, LdvWsgiMiddleware
from ldv_sdk.clients import instrument_httpx, instrument_requests, uninstrument_requests
from ldv_sdk.testing import capture_ldv

BSN = "123456782"
READ_API = "https://logboek.belastingdienst.example/lezenapi/v1"
CALLER = "https://toeslagen.example/apps/huurtoeslag"
TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
PROCESSOR = "urn:ldv:application:x:y"  # the caller, as the `ldv` tracestate entry names it


def belastingdienst() -> FastAPI:
    app = FastAPI()
    app.add_middleware(LdvMiddleware)

    @app.get("/inkomen/{bsn}")
    @ldv_sdk.verwerking("inkomen-verstrekken", subject="bsn")
    def inkomen(bsn: str) -> dict:
        return {"inkomen": 31000}

    return app


def capture(**settings: object):  # type: ignore[no-untyped-def]
    return capture_ldv(
        application_uri=CALLER, read_apis={"http://belastingdienst.test/": READ_API}, **settings  # type: ignore[arg-type]
    )


async def call_inkomen(headers: dict[str, str]) -> None:
    """One request to the Belastingdienst's service with these trace headers, as another party sends it."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=belastingdienst()), base_url="http://b") as c:
        await c.get(f"/inkomen/{BSN}", headers=headers)


def test_a_call_between_services_is_one_chain() -> None:
    async def call() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=belastingdienst()), base_url="http://belastingdienst.test"
        ) as client:
            instrument_httpx(client)
            with ldv_sdk.verwerking("huurtoeslag", "inkomen opvragen") as v:
                v.add_subject(BSN)
                response = await client.get(f"/inkomen/{BSN}")
                assert response.json() == {"inkomen": 31000}

    with capture() as records:
        asyncio.run(call())
    callee, caller = records
    assert caller["name"] == "inkomen opvragen" and callee["name"] == "inkomen"
    assert callee["trace_id"] == caller["trace_id"]
    assert callee["parent_span_id"] == caller["span_id"]
    assert callee["kind"] == "Server"
    assert callee["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == CALLER
    assert callee["attributes"][attr.FOREIGN_OPERATION_SPAN_ID] == caller["span_id"]
    assert callee["attributes"][attr.DATA_SUBJECT_ID] == records.pseudonym(BSN)
    assert caller["attributes"][attr.EXTERNAL_READ_API_ID] == READ_API
    assert attr.EXTERNAL_READ_API_ID not in callee["attributes"]
    assert attr.FOREIGN_OPERATION_PROCESSOR not in caller["attributes"]


@pytest.mark.parametrize("flags", ["00", "01"])
def test_incoming_traceparent_is_continued_even_when_not_sampled(flags: str) -> None:
    with capture() as records:
        asyncio.run(call_inkomen({"traceparent": f"00-{TRACE}-{PARENT}-{flags}", "tracestate": f"ldv={PROCESSOR},v=1"}))
    (record,) = records
    assert (record["trace_id"], record["parent_span_id"]) == (TRACE, PARENT)
    assert record["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == PROCESSOR


def test_a_clear_bsn_in_the_callers_tracestate_is_not_logged() -> None:
    """A caller's tracestate is inherited by the request's records; a clear BSN in it is redacted
    before the record is spooled (what capture_ldv receives is what the spool would hold)."""
    with capture() as records:
        headers = {"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": f"ldv={PROCESSOR},v=k-{BSN}"}
        asyncio.run(call_inkomen(headers))
    (record,) = records
    assert record["trace_state"] == f"ldv={PROCESSOR},v=k-[redacted: looks like a BSN]"
    assert BSN not in repr(record)
    assert record["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == PROCESSOR


def test_an_unknown_caller_still_gives_the_parent_but_no_processor() -> None:
    with capture() as records:
        asyncio.run(call_inkomen({"traceparent": f"00-{TRACE}-{PARENT}-01"}))
    assert records[0]["parent_span_id"] == PARENT
    assert attr.FOREIGN_OPERATION_PROCESSOR not in records[0]["attributes"]
    assert records[0]["attributes"][attr.FOREIGN_OPERATION_SPAN_ID] == PARENT


def test_the_applications_own_sampler_does_not_drop_ldv_records() -> None:
    app_provider = TracerProvider(sampler=ALWAYS_OFF)  # the application's tracing, dropping everything
    global_before = trace.get_tracer_provider()
    with capture() as records:
        with app_provider.get_tracer("app").start_as_current_span("request") as app_span:
            assert not app_span.is_recording()
            with ldv_sdk.verwerking("huurtoeslag", "berekenen") as v:
                v.add_subject(BSN)
    (record,) = records
    assert record["trace_id"] == f"{app_span.get_span_context().trace_id:032x}"  # same trace as the app
    assert trace.get_tracer_provider() is global_before  # the global provider was not touched


def test_wsgi_middleware_continues_the_trace() -> None:
    def app(environ: dict, start_response):  # type: ignore[no-untyped-def]
        with ldv_sdk.verwerking("inkomen-verstrekken", "wsgi") as v:
            v.add_subject(BSN)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    environ = {"HTTP_TRACEPARENT": f"00-{TRACE}-{PARENT}-00", "HTTP_TRACESTATE": f"ldv={CALLER}"}
    with capture() as records:
        assert LdvWsgiMiddleware(app)(environ, lambda *a: None) == [b"ok"]
    assert (records[0]["trace_id"], records[0]["parent_span_id"]) == (TRACE, PARENT)
    assert records[0]["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == CALLER


@pytest.fixture
def echo() -> Iterator[str]:
    """A real HTTP server on loopback that answers with the request headers it got."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_requests_session_injects_traceparent_and_tracestate(echo: str) -> None:
    session = requests.Session()
    instrument_requests(session)
    with capture_ldv(application_uri=CALLER, read_apis={echo: READ_API}) as records:
        outside = session.get(echo, timeout=5).json()
        with ldv_sdk.verwerking("huurtoeslag", "opvragen") as v:
            inside = session.get(echo, timeout=5).json()
            span_id = v.span_id
            trace_id = v.trace_id
    assert "traceparent" not in outside  # nothing is added outside a processing
    assert inside["traceparent"] == f"00-{trace_id}-{span_id}-01"
    assert inside["tracestate"].startswith("ldv=https://toeslagen.example/apps/huurtoeslag")
    assert "baggage" not in inside
    assert records[0]["attributes"][attr.EXTERNAL_READ_API_ID] == READ_API


def test_global_requests_instrumentation_and_undo(echo: str) -> None:
    instrument_requests()
    try:
        with capture_ldv() as records:
            with ldv_sdk.verwerking("huurtoeslag", "opvragen"):
                got = requests.get(echo, timeout=5).json()
        assert got["traceparent"].split("-")[2] == records[0]["span_id"]
        assert attr.EXTERNAL_READ_API_ID not in records[0]["attributes"]  # not a known party
    finally:
        uninstrument_requests()
    with capture_ldv():
        with ldv_sdk.verwerking("huurtoeslag", "opvragen"):
            assert "traceparent" not in requests.get(echo, timeout=5).json()


def test_global_httpx_instrumentation(echo: str) -> None:
    from ldv_sdk.clients import uninstrument_httpx

    instrument_httpx()
    try:
        with capture_ldv() as records:
            with ldv_sdk.verwerking("huurtoeslag", "opvragen"):
                got = httpx.get(echo).json()
        assert got["traceparent"].split("-")[2] == records[0]["span_id"]
    finally:
        uninstrument_httpx()
