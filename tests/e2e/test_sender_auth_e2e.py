"""`ldv serve` as a real process with senders: tokens and client certificates, official exporters in, read API out."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ldv_collector._senders import token_sha256
from ldv_logboek import attributes as attr
from tests.e2e.serve_process import ServeProcess
from tests.pki import Pki

pytestmark = pytest.mark.e2e

ACTIVITY = "https://register.toeslagen.example/processing-activities/huurtoeslag"
TOESLAGEN_TOKEN = "e2e-toeslagen-token-6f0e2b9d41c87a35"
WARNING = "no senders configured (LDV_COLLECTOR_SENDERS)"


def senders_env() -> dict[str, str]:
    senders = {
        "toeslagen-api": {"organisation": "dienst-toeslagen", "token_sha256": token_sha256(TOESLAGEN_TOKEN)},
        "uwv-batch": {"organisation": "uwv", "certificate_name": "uwv-batch.uwv.example"},
    }
    return {"LDV_COLLECTOR_SENDERS": json.dumps(senders)}


def spans(organisation: str | None) -> tuple[list[ReadableSpan], str]:
    """Two finished LDV spans of one trace from the OpenTelemetry SDK, and the trace id in hex."""
    resource = {attr.SERVICE_NAME: "svc"} | ({attr.ORGANISATION: organisation} if organisation else {})
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("e2e")
    subject = {attr.DATA_SUBJECT_ID: "hmac-sha256:" + os.urandom(32).hex(), attr.DATA_SUBJECT_ID_TYPE: "BSN"}
    with tracer.start_as_current_span("huurtoeslag berekenen", attributes={attr.PROCESSING_ACTIVITY_ID: ACTIVITY}) as root:
        with tracer.start_as_current_span("inkomen opvragen", attributes={attr.PROCESSING_ACTIVITY_ID: ACTIVITY, **subject}):
            pass
    return list(memory.get_finished_spans()), format(root.get_span_context().trace_id, "032x")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ServeProcess]:
    directory = tmp_path_factory.mktemp("senders")
    # The chain (server certificate, then the CA) is what the server sends and what the read helpers trust.
    chain = directory / "server-chain.pem"
    chain.write_bytes(pki.server_cert.read_bytes() + pki.authority.ca_file.read_bytes())
    process = ServeProcess(
        directory / "data",
        tls=(chain, pki.server_key),
        client_ca=pki.authority.ca_file,
        env=senders_env(),
    ).start()
    yield process
    process.kill()


@pytest.fixture
def test_ca_for_requests(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    """requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's CA file (a requests quirk)."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def test_token_from_otel_exporter_otlp_headers_writes_only_its_organisation(
    serve: ServeProcess, pki: Pki, monkeypatch: pytest.MonkeyPatch, test_ca_for_requests: None
) -> None:
    ca = str(pki.authority.ca_file)
    anonymous, anonymous_trace = spans("dienst-toeslagen")
    assert HttpExporter(endpoint=serve.traces_url, certificate_file=ca, timeout=30).export(anonymous) == SpanExportResult.FAILURE

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20" + TOESLAGEN_TOKEN)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", ca)
    own, own_trace = spans("dienst-toeslagen")
    unnamed, unnamed_trace = spans(None)
    foreign, foreign_trace = spans("uwv")
    exporter = HttpExporter(endpoint=serve.traces_url, timeout=30)
    for batch in (own, unnamed, foreign):
        assert exporter.export(batch) == SpanExportResult.SUCCESS  # partial success counts as success

    assert len(serve.read_all({"traceId": own_trace})) == 2
    stamped = serve.read_all({"traceId": unnamed_trace})
    assert {r["resource"]["attributes"][attr.ORGANISATION] for r in stamped} == {"dienst-toeslagen"}
    assert serve.read_all({"traceId": foreign_trace}) == []
    assert serve.read_all({"traceId": anonymous_trace}) == []

    no_token = httpx.post(
        serve.traces_url,
        content=b"",
        headers={"Content-Type": "application/json"},
        verify=ssl.create_default_context(cafile=ca),
        timeout=10,
    )
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")
    log = serve.log()
    assert TOESLAGEN_TOKEN not in log and WARNING not in log
    assert "refused an export from 127.0.0.1" in log


def test_client_certificates_over_https_and_grpc(serve: ServeProcess, pki: Pki, test_ca_for_requests: None) -> None:
    ca = str(pki.authority.ca_file)
    cert, key = pki.client("uwv-batch.uwv.example")
    own, own_trace = spans("uwv")
    http = HttpExporter(
        endpoint=serve.traces_url, certificate_file=ca, client_certificate_file=str(cert), client_key_file=str(key), timeout=30
    )
    assert http.export(own) == SpanExportResult.SUCCESS

    credentials = grpc.ssl_channel_credentials(pki.authority.ca_file.read_bytes(), key.read_bytes(), cert.read_bytes())
    endpoint = f"localhost:{serve.grpc_port}"
    over_grpc, grpc_trace = spans("uwv")
    foreign, foreign_trace = spans("dienst-toeslagen")
    exporter = GrpcExporter(endpoint=endpoint, credentials=credentials, timeout=30)
    assert exporter.export(over_grpc) == SpanExportResult.SUCCESS
    assert exporter.export(foreign) == SpanExportResult.SUCCESS  # rejected in partial_success
    # gRPC asks for a certificate at the handshake when a client CA is set: a token alone is not enough.
    token_only, token_trace = spans("dienst-toeslagen")
    without_certificate = GrpcExporter(
        endpoint=endpoint,
        credentials=grpc.ssl_channel_credentials(pki.authority.ca_file.read_bytes()),
        headers={"authorization": f"Bearer {TOESLAGEN_TOKEN}"},
        timeout=5,
    )
    assert without_certificate.export(token_only) == SpanExportResult.FAILURE

    assert len(serve.read_all({"traceId": own_trace})) == 2
    assert len(serve.read_all({"traceId": grpc_trace})) == 2
    assert serve.read_all({"traceId": foreign_trace}) == [] and serve.read_all({"traceId": token_trace}) == []


def test_open_collector_on_loopback_warns_once(tmp_path: Path) -> None:
    process = ServeProcess(tmp_path / "data").start()
    try:
        spans_, _ = spans("dienst-toeslagen")
        assert HttpExporter(endpoint=process.traces_url, timeout=30).export(spans_) == SpanExportResult.SUCCESS
    finally:
        assert process.terminate() == 0
    assert process.log().count(WARNING) == 1


def test_open_collector_off_loopback_refuses_to_start(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "LDV_SERVE_ALLOW_PLAINTEXT": "true"}
    env.pop("LDV_COLLECTOR_SENDERS", None)
    result = subprocess.run(
        [sys.executable, "-m", "ldv_suite.cli", "serve", "--data-dir", str(tmp_path / "data"), "--host", "0.0.0.0"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ldv: refusing to accept records from anyone on 0.0.0.0: configure senders (LDV_COLLECTOR_SENDERS) or set "
        "LDV_SERVE_ALLOW_ANONYMOUS_SENDERS=true"
    ]
    assert not (tmp_path / "data").exists()  # refused before the store was opened


def test_ldv_generate_sends_the_sender_token(tmp_path: Path) -> None:
    process = ServeProcess(tmp_path / "data", env=senders_env()).start()

    def generate(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200"}
        env.pop("LDV_SENDER_TOKEN", None)
        if token:
            env["LDV_SENDER_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "ldv_suite.cli", "generate", "--endpoint", process.traces_url, "--records", "60",
             "--batch", "20", "--concurrency", "2", *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip

    try:
        anonymous = generate()
        assert anonymous.returncode == 1 and "collector answered 401" in anonymous.stdout
        own = generate("--organisation", "dienst-toeslagen", token=TOESLAGEN_TOKEN)
        assert own.returncode == 0, own.stdout + own.stderr
        assert "sent 60 records" in own.stdout and "rejected: 0" in own.stdout
        mixed = generate(token=TOESLAGEN_TOKEN)  # every organisation's records, one organisation's token
        assert mixed.returncode == 0 and "rejected: 0" not in mixed.stdout
    finally:
        process.kill()
    assert TOESLAGEN_TOKEN not in own.stdout + own.stderr + process.log()
