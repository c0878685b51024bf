"""Senders and readers that keep going while a test does something bad to `ldv serve`.

Each sender sends real OTLP (protobuf over HTTP, or gRPC) with span ids of its own, retries a
batch the way an exporter does when told to (HTTP 503/429 with Retry-After, gRPC UNAVAILABLE,
a refused connection), and remembers exactly which span ids were acknowledged. Anything else
(a 4xx/5xx that is not "retry later", a rejected span) is recorded as an error: the tests
assert there are none. Readers call the read API and remember each status.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ldv_logboek import attributes as attr
from tests.collector.helpers import ACTIVITY, PSEUDONYM, ldv_attributes, make_request, make_span

RETRYABLE_HTTP = (429, 502, 503, 504)
# The codes the OTLP specification makes retryable (the official exporters retry them).
RETRYABLE_GRPC = (
    grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS,
)  # fmt: skip


def batch(size: int, *, activity: str = ACTIVITY, subject: str = PSEUDONYM) -> tuple[ExportTraceServiceRequest, list[str]]:
    """A request of `size` valid records with fresh ids, and their span ids (hex)."""
    spans = [make_span(ldv_attributes(subject=subject, **{attr.PROCESSING_ACTIVITY_ID: activity})) for _ in range(size)]
    return make_request(spans), [s.span_id.hex() for s in spans]


@dataclass
class Outcomes:
    """What one sender saw; shared by its thread and the test (under `lock`)."""

    acked: list[str] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # "200", "503", "UNAVAILABLE", "refused", ...
    errors: list[str] = field(default_factory=list)  # anything a correct Logboek never answers
    retry_after: Counter[str] = field(default_factory=Counter)  # Retry-After values seen on 503
    ack_times: list[float] = field(default_factory=list)  # monotonic time of each acknowledged batch
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Loop(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.join(60)
        assert not self.is_alive(), f"{self.name} did not stop"


class HttpSender(_Loop):
    """POSTs batches to OTLP/HTTP; a batch is retried until acknowledged or the sender is stopped
    (a batch still unacknowledged then is simply not in `acked`)."""

    def __init__(self, url: Callable[[], str], *, size: int = 50, pause: float = 0.05, activity: str = ACTIVITY,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__("http-sender")
        self.url, self.size, self.pause, self.activity = url, size, pause, activity
        self.headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        self.out = Outcomes()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stopping.is_set():
                request, ids = batch(self.size, activity=self.activity)
                body = request.SerializeToString()
                while not self.stopping.is_set():
                    answer = self._send(client, body)
                    if answer == "acked":
                        with self.out.lock:
                            self.out.acked += ids
                            self.out.ack_times.append(time.monotonic())
                        break
                    if answer == "error":
                        break
                    time.sleep(0.2)  # retry later (shorter than Retry-After: the test has no time)
                time.sleep(self.pause)

    def _send(self, client: httpx.Client, body: bytes) -> str:
        try:
            response = client.post(self.url(), content=body, headers=self.headers)
        except httpx.TransportError as exc:  # not listening (restarting), connection cut (killed)
            with self.out.lock:
                self.out.answers[type(exc).__name__] += 1
            return "retry"
        code = response.status_code
        with self.out.lock:
            self.out.answers[str(code)] += 1
            if code in RETRYABLE_HTTP:
                self.out.retry_after[response.headers.get("Retry-After", "missing")] += 1
                return "retry"
            if code != 200:
                self.out.errors.append(f"HTTP {code}: {response.text[:300]}")
                return "error"
            reply = ExportTraceServiceResponse.FromString(response.content)
            if reply.partial_success.rejected_spans:
                self.out.errors.append(f"rejected: {reply.partial_success.error_message[:300]}")
                return "error"
        return "acked"


class GrpcSender(_Loop):
    """Calls TraceService/Export over gRPC; UNAVAILABLE (and a lost connection) means retry."""

    def __init__(self, target: Callable[[], str], *, size: int = 50, pause: float = 0.05, activity: str = ACTIVITY) -> None:
        super().__init__("grpc-sender")
        self.target, self.size, self.pause, self.activity = target, size, pause, activity
        self.out = Outcomes()

    def run(self) -> None:
        while not self.stopping.is_set():
            request, ids = batch(self.size, activity=self.activity)
            while not self.stopping.is_set():
                answer = self._send(request)
                if answer == "acked":
                    with self.out.lock:
                        self.out.acked += ids
                        self.out.ack_times.append(time.monotonic())
                    break
                if answer == "error":
                    break
                time.sleep(0.2)
            time.sleep(self.pause)

    def _send(self, request: ExportTraceServiceRequest) -> str:
        # A channel per call: after a restart the old one would wait out its reconnect back-off.
        with grpc.insecure_channel(self.target()) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            try:
                reply = stub.Export(request, timeout=30)
            except grpc.RpcError as exc:
                code = exc.code()  # type: ignore[attr-defined]
                with self.out.lock:
                    self.out.answers[code.name] += 1
                    if code in RETRYABLE_GRPC:
                        return "retry"
                    self.out.errors.append(f"gRPC {code.name}: {exc.details()}")  # type: ignore[attr-defined]
                return "error"
        with self.out.lock:
            self.out.answers["OK"] += 1
            if reply.partial_success.rejected_spans:
                self.out.errors.append(f"rejected: {reply.partial_success.error_message[:300]}")
                return "error"
        return "acked"


class Reader(_Loop):
    """Reads through the read API every `interval` seconds (`read()` returns the status code)."""

    def __init__(self, read: Callable[[], int], interval: float = 0.25) -> None:
        super().__init__("reader")
        self.read, self.interval = read, interval
        self.statuses: Counter[int | str] = Counter()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.statuses[self.read()] += 1
            except httpx.TransportError as exc:
                self.statuses[type(exc).__name__] += 1
            time.sleep(self.interval)


def unique_span_ids(records: list[dict]) -> Counter[str]:
    """How often each span id was read back."""
    return Counter(r["spanId"] for r in records)


def random_activity() -> str:
    """An activity of this test run only, so a read by activity finds this run's records."""
    return f"https://register.example/processing-activities/fault-{os.urandom(4).hex()}"


class OtelExporterSender(_Loop):
    """The official OTLP/HTTP exporter (its own retries on 429/503 and lost connections): a batch
    counts as acknowledged when `export` returns SUCCESS; a FAILURE (retries used up while the
    Logboek was down) is exported again, as an application would."""

    def __init__(self, endpoint: Callable[[], str], *, size: int = 50, pause: float = 0.05, activity: str = ACTIVITY) -> None:
        super().__init__("otel-exporter-sender")
        self.endpoint, self.size, self.pause, self.activity = endpoint, size, pause, activity
        self.out = Outcomes()

    def _spans(self) -> list:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource({attr.SERVICE_NAME: "exporter-api", attr.ORGANISATION: "dienst-toeslagen"}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("fault-test")
        for _ in range(self.size):
            with tracer.start_as_current_span("verwerking") as span:
                for key, value in ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: self.activity}).items():
                    span.set_attribute(key, value)
        return list(memory.get_finished_spans())

    def run(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import SpanExportResult

        while not self.stopping.is_set():
            spans = self._spans()
            ids = [f"{s.context.span_id:016x}" for s in spans]
            while not self.stopping.is_set():
                exporter = OTLPSpanExporter(endpoint=self.endpoint(), timeout=10)
                try:
                    result = exporter.export(spans)
                finally:
                    exporter.shutdown()
                with self.out.lock:
                    self.out.answers[result.name] += 1
                    if result == SpanExportResult.SUCCESS:
                        self.out.acked += ids
                        self.out.ack_times.append(time.monotonic())
                        break
                time.sleep(0.2)
            time.sleep(self.pause)


def citizen_bsn(n: int) -> str:
    """The n-th of a series of distinct BSNs that pass the elfproef (a citizen token needs one)."""
    for prefix in (10_000_000 + 2 * n, 10_000_000 + 2 * n + 1):  # one of two neighbours always fits
        digits = [int(c) for c in f"{prefix:08d}"]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            return f"{prefix:08d}{check}"
    raise AssertionError("unreachable")
