"""A small real OTLP/HTTP receiver for the SDK's delivery tests.

This is a test double for a *different* component (the Logboek collector, built as
ldv_collector): it decodes real `ExportTraceServiceRequest` protobuf over real HTTP, and can
be told to be down, to answer 503 with Retry-After, or to reject spans with an OTLP
partial_success. One end-to-end test also runs against the real ldv_collector.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    attributes: dict[str, str]
    resource: dict[str, str]
    status_code: int

    @property
    def ref(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)


@dataclass
class Behaviour:
    """What the receiver answers; change it from the test at any time."""

    fail_status: int | None = None  # answer every request with this status
    fail_count: int = 0  # ... or only the next N requests
    retry_after: str | None = None
    reject: Callable[[ReceivedSpan], str | None] | None = None  # a reason rejects the span
    name_rejected: bool = True  # list rejected spans as trace/span in error_message


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    statuses: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    last_headers: dict[str, str] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/v1/traces"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.last_headers = dict(self.headers.items())
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                status, payload, extra = receiver._handle(self.path, self.headers.get("Content-Type", ""), body)
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, path: str, content_type: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.requests += 1
            self.times.append(time.monotonic())
            b = self.behaviour
            if path != "/v1/traces" or "protobuf" not in content_type:
                self.statuses.append(404)
                return 404, b"", {}
            if b.fail_status is not None and (b.fail_count > 0 or b.fail_count < 0):
                if b.fail_count > 0:
                    b.fail_count -= 1
                self.statuses.append(b.fail_status)
                return b.fail_status, b"", {"Retry-After": b.retry_after} if b.retry_after else {}
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            rejected: list[tuple[ReceivedSpan, str]] = []
            for rs in request.resource_spans:
                resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        span = ReceivedSpan(
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(),
                            name=s.name,
                            attributes={kv.key: kv.value.string_value for kv in s.attributes},
                            resource=resource,
                            status_code=s.status.code,
                        )
                        reason = b.reject(span) if b.reject else None
                        if reason:
                            rejected.append((span, reason))
                        else:
                            self.spans.append(span)
            response = ExportTraceServiceResponse()
            if rejected:
                response.partial_success.rejected_spans = len(rejected)
                if b.name_rejected:
                    response.partial_success.error_message = "; ".join(
                        f"{s.trace_id}/{s.span_id}: {reason}" for s, reason in rejected
                    )
                else:
                    response.partial_success.error_message = "some spans were invalid"
            self.statuses.append(200)
            return 200, response.SerializeToString(), {}

    def distinct(self) -> set[tuple[str, str]]:
        with self._lock:
            return {s.ref for s in self.spans}
