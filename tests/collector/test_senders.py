"""Sender authentication: only configured senders write, each only its own organisation's records.

Real chDB, the collector app in-process and on a real uvicorn, the real grpc.aio server, and the
official OpenTelemetry OTLP exporters (HTTP and gRPC) with the token in their headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError

from ldv_collector import Collector, CollectorSettings, create_app
from ldv_collector._grpc_server import create_grpc_server
from ldv_collector._senders import SenderSettings, token_sha256
from ldv_collector._uvicorn_tls import ClientCertificateHTTP
from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage import LogStore, RecordQuery
from tests.collector.helpers import VALID_BSN, AsgiClient, ldv_attributes, make_request, make_span
from tests.pki import Pki
from tests.servers import serving

TOESLAGEN_TOKEN = "toeslagen-sender-token-5b1f0c3e9a7d4e21"
AMSTERDAM_TOKEN = "amsterdam-sender-token-0d2c8f6a4b1e9f73"
TOESLAGEN_KEY = "toeslagen-pseudonymisation-key"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def senders() -> dict[str, SenderSettings]:
    return {
        "toeslagen-api": SenderSettings(organisation="dienst-toeslagen", token_sha256=token_sha256(TOESLAGEN_TOKEN)),
        "amsterdam-portaal": SenderSettings(organisation="gemeente-amsterdam", token_sha256=token_sha256(AMSTERDAM_TOKEN)),
        "uwv-batch": SenderSettings(organisation="uwv", certificate_name="uwv-batch.uwv.example"),
        "rvig-cn": SenderSettings(organisation="rvig", certificate_name="rvig-brp-sender"),
    }


def settings() -> CollectorSettings:
    return CollectorSettings(
        senders=senders(), organisation_keys={"dienst-toeslagen": TOESLAGEN_KEY}, max_batch_wait_ms=0
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored(store: LogStore, trace_id: bytes) -> list[LogRecord]:
    return store.find(RecordQuery(trace_id=trace_id)).records


@pytest.fixture(scope="module")
def app(store: LogStore) -> Iterator[Any]:
    app = create_app(store, settings())
    app.state.writer.start()
    yield app
    app.state.writer.stop()


@pytest.fixture(scope="module")
def client(app: Any) -> AsgiClient:
    return AsgiClient(app)


# -- OTLP/HTTP, in-process -------------------------------------------------------------------------


def test_without_token_401_comes_before_the_body_is_looked_at(client: AsgiClient, app: Any, store: LogStore) -> None:
    before = app.state.collector.metrics.snapshot()["requests_unauthenticated"]
    span = make_span()
    for body, headers in [
        (make_request([span]).SerializeToString(), PROTOBUF),
        (b"\x00 not protobuf at all", PROTOBUF),  # would be a 400 for a sender
        (b"{}", {"Content-Type": "text/plain"}),  # would be a 415 for a sender
        (b"\x1f\x8b broken gzip", {**PROTOBUF, "Content-Encoding": "gzip"}),
    ]:
        response = client.post("/v1/traces", content=body, headers=headers)
        assert response.status_code == 401, response.content
        assert response.headers["www-authenticate"] == 'Bearer realm="ldv-collector"'
    status = status_pb2.Status.FromString(client.post("/v1/traces", content=b"", headers=PROTOBUF).content)
    assert status.code == code_pb2.UNAUTHENTICATED
    assert "Authorization: Bearer <token>" in status.message
    json_answer = client.post("/v1/traces", content=b"{}", headers={"Content-Type": "application/json"})
    assert json_answer.status_code == 401 and json_answer.json()["code"] == code_pb2.UNAUTHENTICATED
    assert stored(store, span.trace_id) == []
    assert app.state.collector.metrics.snapshot()["requests_unauthenticated"] == before + 6


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer forged-token-of-nobody-0000000000",
        f"Bearer {TOESLAGEN_TOKEN}x",
        f"Basic {TOESLAGEN_TOKEN}",
        "Bearer ",
        TOESLAGEN_TOKEN,
    ],
)
def test_forged_or_malformed_token_is_refused(client: AsgiClient, store: LogStore, authorization: str) -> None:
    span = make_span()
    response = client.post(
        "/v1/traces", content=make_request([span]).SerializeToString(), headers={**PROTOBUF, "Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="ldv-collector", error="invalid_token"'
    message = status_pb2.Status.FromString(response.content).message
    assert "token" in message and TOESLAGEN_TOKEN not in message
    assert stored(store, span.trace_id) == []


def test_sender_writes_its_organisation_others_are_rejected_and_missing_is_stamped(
    client: AsgiClient, store: LogStore
) -> None:
    own, foreign, unnamed = make_span(), make_span(name="toeslag van een ander"), make_span(ldv_attributes(subject=VALID_BSN))
    request = make_request([own])
    request.resource_spans.extend(
        make_request([foreign], resource={attr.SERVICE_NAME: "x", attr.ORGANISATION: "gemeente-amsterdam"}).resource_spans
    )
    request.resource_spans.extend(make_request([unnamed], resource={attr.SERVICE_NAME: "toeslagen-api"}).resource_spans)
    response = client.post(
        "/v1/traces", content=request.SerializeToString(), headers={**PROTOBUF, **bearer(TOESLAGEN_TOKEN)}
    )
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1
    assert partial.error_message == (
        f"span {foreign.trace_id.hex()}/{foreign.span_id.hex()} ('toeslag van een ander'): sender-organisation: "
        f"resource attribute {attr.ORGANISATION} is 'gemeente-amsterdam', but sender 'toeslagen-api' may only "
        "write records of 'dienst-toeslagen'"
    )
    assert stored(store, foreign.trace_id) == []
    [kept] = stored(store, own.trace_id)
    assert kept.resource_attributes[attr.ORGANISATION] == "dienst-toeslagen"
    [stamped] = stored(store, unnamed.trace_id)
    assert stamped.resource_attributes[attr.ORGANISATION] == "dienst-toeslagen"
    # The stamped organisation also chose the key: its own, not none.
    assert stamped.data_subject_id == pseudonymise(VALID_BSN, TOESLAGEN_KEY.encode())


def test_token_of_one_organisation_cannot_write_another(client: AsgiClient, store: LogStore) -> None:
    spans = [make_span(), make_span()]
    request = make_request(spans)  # resource: dienst-toeslagen
    response = client.post(
        "/v1/traces", content=request.SerializeToString(), headers={**PROTOBUF, **bearer(AMSTERDAM_TOKEN)}
    )
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert response.status_code == 200 and partial.rejected_spans == 2
    assert "sender 'amsterdam-portaal' may only write records of 'gemeente-amsterdam'" in partial.error_message
    assert all(stored(store, s.trace_id) == [] for s in spans)


def test_open_collector_without_senders_accepts_anyone(store: LogStore) -> None:
    app = create_app(store, CollectorSettings(max_batch_wait_ms=0))
    app.state.writer.start()
    try:
        span = make_span()
        response = AsgiClient(app).post("/v1/traces", content=make_request([span]).SerializeToString(), headers=PROTOBUF)
    finally:
        app.state.writer.stop()
    assert response.status_code == 200
    assert len(stored(store, span.trace_id)) == 1


# -- settings ------------------------------------------------------------------------------------


def test_senders_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = token_sha256(TOESLAGEN_TOKEN)
    monkeypatch.setenv(
        "LDV_COLLECTOR_SENDERS",
        f'{{"toeslagen-api": {{"organisation": "dienst-toeslagen", "token_sha256": "{digest.upper()}"}}}}',
    )
    assert CollectorSettings().senders == {
        "toeslagen-api": SenderSettings(organisation="dienst-toeslagen", token_sha256=digest)
    }


@pytest.mark.parametrize(
    ("senders_", "expected"),
    [
        ({"a": {"organisation": "x", "token_sha256": TOESLAGEN_TOKEN}}, "64 hex digits"),
        ({"a": {"organisation": "x"}}, "needs token_sha256 or certificate_name"),
        ({"a": {"token_sha256": token_sha256("t" * 40)}}, "organisation"),
        ({"a": {"organisation": "x", "token": TOESLAGEN_TOKEN}}, "Extra inputs are not permitted"),
        (
            {
                "a": {"organisation": "x", "token_sha256": token_sha256(TOESLAGEN_TOKEN)},
                "b": {"organisation": "y", "token_sha256": token_sha256(TOESLAGEN_TOKEN)},
            },
            "senders 'a' and 'b' have the same token",
        ),
    ],
)
def test_bad_sender_settings_are_refused_without_echoing_them(senders_: dict, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CollectorSettings(senders=senders_)
    assert expected in str(caught.value)
    assert TOESLAGEN_TOKEN not in str(caught.value) and token_sha256(TOESLAGEN_TOKEN) not in str(caught.value)


# -- the official exporters ------------------------------------------------------------------------


@contextlib.contextmanager
def uvicorn_collector(app: Any, **ssl_options: Any) -> Iterator[int]:
    """`app` on a real uvicorn on a free loopback port (its lifespan runs the writer)."""
    with serving(app, **ssl_options) as port:
        yield port


def ldv_spans(organisation: str | None) -> tuple[list[ReadableSpan], bytes]:
    """Two finished LDV spans of one trace, from the OpenTelemetry SDK, and their trace id."""
    resource = {attr.SERVICE_NAME: "svc"} | ({attr.ORGANISATION: organisation} if organisation else {})
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("ldv-test")
    with tracer.start_as_current_span("huurtoeslag berekenen", attributes=ldv_attributes()) as parent:
        with tracer.start_as_current_span("inkomen opvragen", attributes=ldv_attributes()):
            pass
    return list(memory.get_finished_spans()), parent.get_span_context().trace_id.to_bytes(16, "big")


def test_official_http_exporter_sends_the_token_from_otel_exporter_otlp_headers(
    store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(store, settings())
    with uvicorn_collector(app) as port:
        url = f"http://127.0.0.1:{port}/v1/traces"
        anonymous, anonymous_trace = ldv_spans("dienst-toeslagen")
        assert HttpExporter(endpoint=url, timeout=10).export(anonymous) == SpanExportResult.FAILURE

        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20" + TOESLAGEN_TOKEN)
        own, own_trace = ldv_spans("dienst-toeslagen")
        foreign, foreign_trace = ldv_spans("gemeente-amsterdam")
        exporter = HttpExporter(endpoint=url, timeout=10)
        assert exporter.export(own) == SpanExportResult.SUCCESS
        # A partial success is a success for the exporter; the spans are not stored.
        assert exporter.export(foreign) == SpanExportResult.SUCCESS

        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20forged-0123456789abcdef")
        forged, forged_trace = ldv_spans("dienst-toeslagen")
        assert HttpExporter(endpoint=url, timeout=10).export(forged) == SpanExportResult.FAILURE
    assert stored(store, anonymous_trace) == [] and stored(store, forged_trace) == []
    assert stored(store, foreign_trace) == []
    assert {r.name for r in stored(store, own_trace)} == {"huurtoeslag berekenen", "inkomen opvragen"}
    counts = app.state.collector.metrics.snapshot()
    assert (counts["requests_unauthenticated"], counts["spans_rejected"], counts["responses_401"]) == (2, 2, 2)


class GrpcCollector:
    """A Collector with senders, its gRPC server on its own event loop in a background thread."""

    def __init__(self, store: LogStore, *, tls: tuple[bytes, bytes] | None = None, client_ca: bytes | None = None):
        self.collector = Collector(store, settings())
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.collector.writer.start()
        self.server, self.port = self._call(self._start(tls, client_ca))

    async def _start(self, tls: tuple[bytes, bytes] | None, client_ca: bytes | None) -> tuple[grpc.aio.Server, int]:
        server, port = create_grpc_server(self.collector, "127.0.0.1", 0, tls=tls, client_ca=client_ca)
        await server.start()
        return server, port

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self._call(self.server.stop(grace=5))
        self.collector.writer.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def grpc_collector(store: LogStore) -> Iterator[GrpcCollector]:
    collector = GrpcCollector(store)
    yield collector
    collector.close()


def test_official_grpc_exporter_with_token_metadata(
    grpc_collector: GrpcCollector, store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = f"127.0.0.1:{grpc_collector.port}"
    anonymous, anonymous_trace = ldv_spans("dienst-toeslagen")
    assert GrpcExporter(endpoint=endpoint, insecure=True, timeout=10).export(anonymous) == SpanExportResult.FAILURE
    # The exporter's headers argument (gRPC metadata keys are lower case) ...
    own, own_trace = ldv_spans("dienst-toeslagen")
    exporter = GrpcExporter(endpoint=endpoint, insecure=True, timeout=10, headers={"authorization": f"Bearer {TOESLAGEN_TOKEN}"})
    assert exporter.export(own) == SpanExportResult.SUCCESS
    # ... and OTEL_EXPORTER_OTLP_HEADERS, as a deployment configures it.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20" + AMSTERDAM_TOKEN)
    amsterdam, amsterdam_trace = ldv_spans(None)  # no organisation: the sender's is stamped
    assert GrpcExporter(endpoint=endpoint, insecure=True, timeout=10).export(amsterdam) == SpanExportResult.SUCCESS
    assert {r.name for r in stored(store, own_trace)} == {"huurtoeslag berekenen", "inkomen opvragen"}
    assert {r.resource_attributes[attr.ORGANISATION] for r in stored(store, amsterdam_trace)} == {"gemeente-amsterdam"}
    assert stored(store, anonymous_trace) == []


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer forged-0123456789abcdef"),)], ids=["none", "forged"])
def test_grpc_without_a_valid_token_is_unauthenticated(
    grpc_collector: GrpcCollector, store: LogStore, metadata: tuple[tuple[str, str], ...]
) -> None:
    span = make_span()
    with grpc.insecure_channel(f"127.0.0.1:{grpc_collector.port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Export(make_request([span]), metadata=metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "token" in (caught.value.details() or "")
    assert stored(store, span.trace_id) == []


def test_grpc_token_of_another_organisation_is_rejected_in_partial_success(
    grpc_collector: GrpcCollector, store: LogStore
) -> None:
    own, foreign = make_span(), make_span()
    request = make_request([own], resource={attr.SERVICE_NAME: "portaal", attr.ORGANISATION: "gemeente-amsterdam"})
    request.resource_spans.extend(make_request([foreign]).resource_spans)  # dienst-toeslagen
    with grpc.insecure_channel(f"127.0.0.1:{grpc_collector.port}") as channel:
        response = trace_service_pb2_grpc.TraceServiceStub(channel).Export(
            request, metadata=(("authorization", f"Bearer {AMSTERDAM_TOKEN}"),), timeout=10
        )
    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message.startswith(f"span {foreign.trace_id.hex()}/{foreign.span_id.hex()}")
    assert "sender-organisation" in response.partial_success.error_message
    assert len(stored(store, own.trace_id)) == 1 and stored(store, foreign.trace_id) == []


def test_grpc_undecodable_message_of_a_sender_is_invalid_argument(grpc_collector: GrpcCollector) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_collector.port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.RpcError) as caught:
            export(b"\xff\xff\xff not protobuf", metadata=(("authorization", f"Bearer {TOESLAGEN_TOKEN}"),), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- TLS client certificates ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


def without_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's own CA file (a known
    requests quirk), which would hide the test CA from the official HTTP exporter."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def test_http_client_certificate_identifies_the_sender(store: LogStore, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn with the collector's ClientCertificateHTTP protocol, as `ldv serve` runs it."""
    without_ca_bundle_override(monkeypatch)
    app = create_app(store, settings())
    tls = {
        "ssl_certfile": str(pki.server_cert),
        "ssl_keyfile": str(pki.server_key),
        "ssl_ca_certs": str(pki.authority.ca_file),
        "ssl_cert_reqs": ssl.CERT_OPTIONAL,
        "http": ClientCertificateHTTP,
    }
    uwv_cert, uwv_key = pki.client("uwv-batch.uwv.example")
    rvig_cert, rvig_key = pki.client("rvig-brp-sender", dns=False)  # named by its CN only
    unknown_cert, unknown_key = pki.client("somebody.example")
    with uvicorn_collector(app, **tls) as port:
        url = f"https://127.0.0.1:{port}/v1/traces"

        def export(organisation: str, **options: Any) -> tuple[SpanExportResult, bytes]:
            spans, trace_id = ldv_spans(organisation)
            exporter = HttpExporter(endpoint=url, certificate_file=str(pki.authority.ca_file), timeout=10, **options)
            return exporter.export(spans), trace_id

        uwv_result, uwv_trace = export("uwv", client_certificate_file=str(uwv_cert), client_key_file=str(uwv_key))
        rvig_result, rvig_trace = export("rvig", client_certificate_file=str(rvig_cert), client_key_file=str(rvig_key))
        wrong_result, wrong_trace = export(
            "dienst-toeslagen", client_certificate_file=str(uwv_cert), client_key_file=str(uwv_key)
        )
        unknown_result, unknown_trace = export(
            "uwv", client_certificate_file=str(unknown_cert), client_key_file=str(unknown_key)
        )
        token_result, token_trace = export("dienst-toeslagen", headers=bearer(TOESLAGEN_TOKEN))  # no certificate
        mixed_result, mixed_trace = export(
            "uwv", client_certificate_file=str(uwv_cert), client_key_file=str(uwv_key), headers=bearer(TOESLAGEN_TOKEN)
        )
    assert (uwv_result, rvig_result, wrong_result, token_result) == (SpanExportResult.SUCCESS,) * 4
    assert (unknown_result, mixed_result) == (SpanExportResult.FAILURE,) * 2
    assert len(stored(store, uwv_trace)) == 2 and len(stored(store, rvig_trace)) == 2
    assert len(stored(store, token_trace)) == 2
    assert stored(store, wrong_trace) == [] and stored(store, unknown_trace) == [] and stored(store, mixed_trace) == []


def test_http_certificate_of_another_ca_fails_the_handshake(store: LogStore, pki: Pki) -> None:
    import httpx

    app = create_app(store, settings())
    cert, key = pki.client("uwv-batch.uwv.example", trusted=False)
    context = ssl.create_default_context(cafile=str(pki.authority.ca_file))
    context.load_cert_chain(str(cert), str(key))
    tls = {
        "ssl_certfile": str(pki.server_cert),
        "ssl_keyfile": str(pki.server_key),
        "ssl_ca_certs": str(pki.authority.ca_file),
        "ssl_cert_reqs": ssl.CERT_OPTIONAL,
        "http": ClientCertificateHTTP,
    }
    with uvicorn_collector(app, **tls) as port:
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"https://127.0.0.1:{port}/v1/traces", content=b"", headers=PROTOBUF, verify=context)


def test_grpc_client_certificate_identifies_the_sender(store: LogStore, pki: Pki) -> None:
    tls = (pki.server_cert.read_bytes(), pki.server_key.read_bytes())
    collector = GrpcCollector(store, tls=tls, client_ca=pki.authority.ca_file.read_bytes())
    root = pki.authority.ca_file.read_bytes()
    endpoint = f"localhost:{collector.port}"

    def credentials(cert: Path, key: Path) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root, key.read_bytes(), cert.read_bytes())

    try:
        uwv = credentials(*pki.client("uwv-batch.uwv.example"))
        own, own_trace = ldv_spans("uwv")
        assert GrpcExporter(endpoint=endpoint, credentials=uwv, timeout=10).export(own) == SpanExportResult.SUCCESS
        foreign, foreign_trace = ldv_spans("dienst-toeslagen")
        assert GrpcExporter(endpoint=endpoint, credentials=uwv, timeout=10).export(foreign) == SpanExportResult.SUCCESS
        unknown = credentials(*pki.client("somebody.example"))
        span = make_span()
        with grpc.secure_channel(endpoint, unknown) as channel:
            with pytest.raises(grpc.RpcError) as caught:
                trace_service_pb2_grpc.TraceServiceStub(channel).Export(make_request([span]), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # A certificate of another CA does not get through the handshake at all.
        stranger = credentials(*pki.client("uwv-batch.uwv.example", trusted=False))
        refused, refused_trace = ldv_spans("uwv")
        assert GrpcExporter(endpoint=endpoint, credentials=stranger, timeout=5).export(refused) == SpanExportResult.FAILURE
    finally:
        collector.close()
    assert len(stored(store, own_trace)) == 2
    assert stored(store, foreign_trace) == [] and stored(store, refused_trace) == [] and stored(store, span.trace_id) == []


def test_senders_from_a_toml_file_join_those_of_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "senders.toml"
    file.write_text(
        "[senders.uwv-batch]\n"
        'organisation = "uwv"\n'
        'certificate_name = "uwv-batch.uwv.example"\n\n'
        "[senders.bijstand-api]\n"
        'organisation = "gemeente-amsterdam"\n'
        f'token_sha256 = "{token_sha256(AMSTERDAM_TOKEN)}"\n'
    )
    both = CollectorSettings(senders={"toeslagen-api": senders()["toeslagen-api"]}, senders_file=file)
    assert {name: s.organisation for name, s in both.senders.items()} == {
        "toeslagen-api": "dienst-toeslagen",
        "uwv-batch": "uwv",
        "bijstand-api": "gemeente-amsterdam",
    }
    with pytest.raises(ValidationError, match="senders 'toeslagen-api' and 'bijstand-api' have the same token"):
        CollectorSettings(senders={"toeslagen-api": senders()["amsterdam-portaal"]}, senders_file=file)
    with pytest.raises(ValidationError, match="sender 'uwv-batch' is both in senders and in senders_file"):
        CollectorSettings(senders={"uwv-batch": senders()["uwv-batch"]}, senders_file=file)
    file.write_text(f'[senders.x]\norganisation = "o"\ntoken_sha256 = "{TOESLAGEN_TOKEN}"\n')
    with pytest.raises(ValidationError, match="sender 'x': token_sha256: .*64 hex digits") as caught:
        CollectorSettings(senders_file=file)
    assert TOESLAGEN_TOKEN not in str(caught.value)
    with pytest.raises(ValidationError, match="cannot read senders_file"):
        CollectorSettings(senders_file=tmp_path / "missing.toml")


def test_a_foreign_organisation_that_holds_a_bsn_is_not_quoted() -> None:
    from ldv_collector._senders import Sender, bind_organisation

    violation = bind_organisation({attr.ORGANISATION: VALID_BSN}, Sender("toeslagen-api", "dienst-toeslagen"))
    assert violation is not None and VALID_BSN not in violation.message
    assert "is another organisation" in violation.message
