"""`ldv serve` as a real process: official OpenTelemetry SDK in, read API out, crash safety."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from ldv_logboek import attributes as attr
from ldv_logboek._ids import trace_id_as_uuid
from tests.e2e.serve_process import ServeProcess, self_signed_certificate

# Twice: on the embedded store, and on a store behind the ClickHouse HTTP interface (conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("store_mode")]

ACTIVITY = "https://register.toeslagen.example/processing-activities/huurtoeslag"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path / "data").start()
    yield process
    process.kill()


def _provider(serve: ServeProcess) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: "dienst-toeslagen"})
    )
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.traces_url, timeout=30)))
    return provider


def test_official_otel_sdk_to_read_api(serve: ServeProcess) -> None:
    provider = _provider(serve)
    tracer = provider.get_tracer("toeslagen")
    subjects = ["hmac-sha256:" + os.urandom(32).hex() for _ in range(2)]
    with tracer.start_as_current_span("huurtoeslag berekenen", attributes={attr.PROCESSING_ACTIVITY_ID: ACTIVITY}) as root:
        for subject in subjects:
            with tracer.start_as_current_span(
                "inkomen beoordelen",
                attributes={
                    attr.PROCESSING_ACTIVITY_ID: ACTIVITY,
                    attr.DATA_SUBJECT_ID: subject,
                    attr.DATA_SUBJECT_ID_TYPE: "BSN",
                },
            ) as child:
                child.set_status(Status(StatusCode.OK))
        with tracer.start_as_current_span("cache opwarmen"):  # no dpl.*: not an LDV record
            pass
    provider.force_flush()
    provider.shutdown()
    trace_hex = format(root.get_span_context().trace_id, "032x")
    root_span_hex = format(root.get_span_context().span_id, "016x")

    # Both notations of the trace id select the same records.
    by_hex = serve.read_all({"traceId": trace_hex})
    by_uuid = serve.read_all({"traceId": trace_id_as_uuid(trace_hex)})
    assert by_hex == by_uuid
    assert sorted(r["name"] for r in by_hex) == ["huurtoeslag berekenen", "inkomen beoordelen", "inkomen beoordelen"]
    children = [r for r in by_hex if r["name"] == "inkomen beoordelen"]
    assert {c["parentSpanId"] for c in children} == {root_span_hex}
    assert {c["status"] for c in children} == {"Ok"}
    assert {c["attributes"][attr.DATA_SUBJECT_ID] for c in children} == set(subjects)
    assert all(r["traceId"] == trace_id_as_uuid(trace_hex) for r in by_hex)
    assert children[0]["resource"]["attributes"][attr.SERVICE_NAME] == "toeslagen-api"
    assert children[0]["endTime"] >= children[0]["startTime"] > 1_700_000_000_000

    mine = serve.read_all({attr.DATA_SUBJECT_ID: subjects[0]})
    assert [r["spanId"] for r in mine] == [c["spanId"] for c in children if c["attributes"][attr.DATA_SUBJECT_ID] == subjects[0]]
    assert serve.read({}).status_code == 400
    # The read API of a running `ldv serve` needs a token: anonymous is a 401 with a challenge.
    anonymous = serve.read({"traceId": trace_hex}, anonymous=True)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert httpx.get(f"{serve.api_url}/lezenapi/v1/health", timeout=10).status_code == 200


def _request(subject: str, spans: int) -> tuple[bytes, set[str]]:
    """An OTLP protobuf body with `spans` records about `subject`, and their span ids."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key=attr.SERVICE_NAME, value=AnyValue(string_value="svc")))
    scope = resource_spans.scope_spans.add()
    trace_id = os.urandom(16)
    now = time.time_ns()
    ids = set()
    for i in range(spans):
        span = scope.spans.add(trace_id=trace_id, span_id=os.urandom(8), name="verwerking",
                               start_time_unix_nano=now + i, end_time_unix_nano=now + i + 1000)  # fmt: skip
        for key, value in ((attr.PROCESSING_ACTIVITY_ID, ACTIVITY), (attr.DATA_SUBJECT_ID, subject),
                           (attr.DATA_SUBJECT_ID_TYPE, "BSN")):  # fmt: skip
            span.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
        ids.add(span.span_id.hex())
    return request.SerializeToString(), ids


def _send_until_stopped(serve: ServeProcess, subject: str, acknowledged: set[str], stop: threading.Event) -> None:
    """Send batches until `stop`; remember the span ids of every acknowledged batch."""
    with httpx.Client(timeout=10) as client:
        for _ in range(10_000):
            if stop.is_set():
                return
            body, ids = _request(subject, 50)
            try:
                response = client.post(serve.traces_url, content=body, headers={"Content-Type": "application/x-protobuf"})
            except httpx.HTTPError:
                return  # the server is gone: this batch was not acknowledged
            if response.status_code == 200:
                assert ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans == 0
                acknowledged.update(ids)


def _stream_then(serve: ServeProcess, stop_server: Callable[[], object], senders: int = 3) -> tuple[str, set[str]]:
    """Stream acknowledged batches from several threads, then call `stop_server` mid-stream."""
    subject = "hmac-sha256:" + os.urandom(32).hex()
    acknowledged: set[str] = set()
    stop = threading.Event()
    threads = [threading.Thread(target=_send_until_stopped, args=(serve, subject, acknowledged, stop)) for _ in range(senders)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop_server()  # while requests are in flight
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acknowledged) >= 500, "the server acknowledged too little to test with"
    return subject, acknowledged


def test_sigkill_loses_no_acknowledged_record(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data").start()
    try:
        subject, acknowledged = _stream_then(serve, serve.kill)
    finally:
        serve.kill()
    restarted = ServeProcess(tmp_path / "data").start()
    try:
        stored = {r["spanId"] for r in restarted.read_all({attr.DATA_SUBJECT_ID: subject})}
    finally:
        restarted.kill()
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged records lost after SIGKILL"


def test_sigterm_flushes_and_exits_cleanly(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data").start()
    codes: list[int] = []
    try:
        subject, acknowledged = _stream_then(serve, lambda: codes.append(serve.terminate()))
    finally:
        serve.kill()
    assert codes == [0], serve.log()
    assert "every acknowledged record is stored" in serve.log()
    restarted = ServeProcess(tmp_path / "data").start()
    try:
        stored = {r["spanId"] for r in restarted.read_all({attr.DATA_SUBJECT_ID: subject})}
    finally:
        restarted.kill()
    assert acknowledged <= stored


def test_official_otel_grpc_exporter_to_read_api(serve: ServeProcess) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

    provider = TracerProvider(resource=Resource.create({attr.SERVICE_NAME: "uwv-ww", attr.ORGANISATION: "uwv"}))
    exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{serve.grpc_port}", insecure=True, timeout=30)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    subject = "hmac-sha256:" + os.urandom(32).hex()
    with provider.get_tracer("uwv").start_as_current_span(
        "ww-uitkering beoordelen",
        attributes={attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID: subject, attr.DATA_SUBJECT_ID_TYPE: "BSN"},
    ) as span:
        pass
    provider.shutdown()
    records = serve.read_all({attr.DATA_SUBJECT_ID: subject})
    assert [r["spanId"] for r in records] == [format(span.get_span_context().span_id, "016x")]
    assert records[0]["resource"]["attributes"][attr.ORGANISATION] == "uwv"


def test_tls_on_every_port(tmp_path: Path) -> None:
    """With a certificate, OTLP/HTTP, OTLP/gRPC and the read API all speak TLS (standard rule 10)."""
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

    cert, key = self_signed_certificate(tmp_path)
    serve = ServeProcess(tmp_path / "data", tls=(cert, key)).start()
    try:
        provider = TracerProvider(resource=Resource.create({attr.SERVICE_NAME: "svc", attr.ORGANISATION: "uwv"}))
        provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.traces_url, certificate_file=str(cert), timeout=30))
        )
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        grpc_exporter = GrpcSpanExporter(endpoint=f"localhost:{serve.grpc_port}", credentials=credentials, timeout=30)
        provider.add_span_processor(SimpleSpanProcessor(grpc_exporter))
        subject = "hmac-sha256:" + os.urandom(32).hex()
        ldv = {attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID: subject, attr.DATA_SUBJECT_ID_TYPE: "BSN"}
        with provider.get_tracer("t").start_as_current_span("over https en grpcs", attributes=ldv):
            pass
        provider.shutdown()
        # Both exporters delivered the same span: stored twice, read once.
        records = serve.read_all({attr.DATA_SUBJECT_ID: subject})
        assert [r["name"] for r in records] == ["over https en grpcs"]
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not spoken on a TLS port
            httpx.post(f"http://127.0.0.1:{serve.otlp_port}/v1/traces", content=b"", timeout=5)
        if serve.store_dsn is None:  # the ClickHouse endpoint for Grafana too (embedded store only)
            assert httpx.get(f"https://127.0.0.1:{serve.clickhouse_port}/ping", verify=str(cert), timeout=10).text == "Ok.\n"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{serve.clickhouse_port}/ping", timeout=5)
    finally:
        serve.kill()


@pytest.mark.parametrize("busy", ["api", "grpc"])
def test_port_in_use_is_one_clear_error(tmp_path: Path, busy: str) -> None:
    import socket
    import subprocess
    import sys

    from tests.e2e.serve_process import free_port

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        ports = {"api": free_port(), "grpc": free_port(), "otlp": free_port(), busy: taken}
        result = subprocess.run(
            [sys.executable, "-m", "ldv_suite.cli", "serve", "--data-dir", str(tmp_path / "data"),
             "--api-port", str(ports["api"]), "--otlp-grpc-port", str(ports["grpc"]),
             "--otlp-http-port", str(ports["otlp"]), "--clickhouse-port", "0"],  # fmt: skip
            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{taken}" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_ldv_generate_sends_synthetic_load(serve: ServeProcess) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ldv_suite.cli", "generate", "--endpoint", serve.traces_url,
         "--records", "2000", "--batch", "300", "--concurrency", "4"],  # fmt: skip
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 2000 records" in result.stdout and "rejected: 0" in result.stdout
    health = httpx.get(serve.traces_url.replace("/v1/traces", "/healthz"), timeout=10).json()
    assert health["spans_stored"] == 2000 and health["spans_rejected"] == 0
