"""The collector's ASGI app: OTLP/HTTP `POST /v1/traces`, plus `/metrics` and `/healthz`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ldv_collector._body import check_encoding, read_body
from ldv_collector._checkpointer import Checkpointer
from ldv_collector._decode import Encoding, decode_request, encoding_of
from ldv_collector._disk_guard import DiskGuard
from ldv_collector._ingest import Ingester, IngestResult, Rejection
from ldv_collector._metrics import PROMETHEUS_CONTENT_TYPE, CollectorMetrics
from ldv_collector._rejections import RejectionCounts
from ldv_collector._senders import Sender, SenderDirectory, asgi_client_certificate_names
from ldv_collector._writer import GroupCommitWriter
from ldv_collector.errors import BodyError, NotAuthenticated, UndecodableBody, WriterStopped
from ldv_collector.settings import CollectorSettings
from ldv_logboek import attributes as attr
from ldv_logboek import redact_bsns
from ldv_logboek.rules import RULES
from ldv_logboek.storage import LogStore, StorageFault, StorageUnavailable, TransparencyLog
from ldv_logboek.tlog import load_signer

log = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
_RETENTION_PASSED = next(rule for rule in RULES if rule.code == "retention-passed")
# The most of a driver's message that goes into the log line of a storage fault.
_MAX_LOGGED_DRIVER_MESSAGE = 2000
# gRPC status codes for the HTTP statuses the collector answers with.
GRPC_CODES: dict[int, int] = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    404: code_pb2.NOT_FOUND,
    405: code_pb2.UNIMPLEMENTED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    500: code_pb2.INTERNAL,
    503: code_pb2.UNAVAILABLE,
}


# OTLP/HTTP answers in the encoding of the request (protobuf or JSON): ExportTraceServiceResponse on
# success, google.rpc.Status on failure; when the request's encoding is unknown (415, 404, 405), JSON.
def message_response(
    message: Message, encoding: Encoding, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """`message` in the given encoding."""
    if encoding is Encoding.PROTOBUF:
        body = message.SerializeToString()
    else:
        body = json_format.MessageToJson(message, indent=None).encode()
    return Response(body, status_code=status, media_type=encoding.value, headers=headers)


def error_response(
    status: int, message: str, encoding: Encoding | None = None, headers: dict[str, str] | None = None
) -> Response:
    """An HTTP error whose body is a google.rpc.Status, as OTLP/HTTP prescribes."""
    body = status_pb2.Status(code=GRPC_CODES.get(status, code_pb2.UNKNOWN), message=message)
    return message_response(body, encoding or Encoding.JSON, status, headers)


def storage_fault_message(fault: StorageFault) -> str:
    """Log `fault` once, with its incident id, and return the message for the sender.

    The driver's message (which may name hosts or quote values) is in the log only, with
    anything that looks like a BSN redacted; the sender gets the incident id to report.
    """
    log.error(
        "storage fault, incident %s (the spans were not stored): %s",
        fault.incident,
        redact_bsns(str(fault))[:_MAX_LOGGED_DRIVER_MESSAGE],
    )
    return (
        f"the Logboek's store refused these spans (incident {fault.incident}); they were not stored "
        "and sending them again will not help: report the incident id to the Logboek's operator"
    )


class Collector:
    """One collector: settings, counters, the group-commit writer and the OTLP handler.

    The ASGI app from `create_app` holds one in `app.state.collector`; `writer` is the
    GroupCommitWriter to stop (which flushes) on shutdown.
    """

    def __init__(self, store: LogStore, settings: CollectorSettings | None = None):
        self.settings = settings or CollectorSettings()
        self.metrics = CollectorMetrics()
        # Rejected spans per organisation, service and rule; the writer's thread stores them.
        self.rejections = RejectionCounts()
        # The transparency log: opened (and repaired) before anything is accepted.
        self.log: TransparencyLog | None = None
        self.checkpointer: Checkpointer | None = None
        if self.settings.log_enabled and self.settings.log_key is not None:
            self.log = TransparencyLog.open(store, load_signer(self.settings.log_key.get_secret_value()))
            self.checkpointer = Checkpointer(self.log, self.metrics, self.settings)
            log.info("transparency log %s at size %d", self.log.origin, self.log.size)
        else:
            log.warning("the transparency log is off (no log key, or LDV_COLLECTOR_LOG_ENABLED=false): records are stored unlogged")
        self.writer = GroupCommitWriter(
            store,
            max_batch_records=self.settings.max_batch_records,
            max_batch_wait_ms=self.settings.max_batch_wait_ms,
            min_insert_interval_ms=self.settings.min_insert_interval_ms,
            metrics=self.metrics,
            rejections=self.rejections,
            disk_guard=DiskGuard(store, self.settings.min_free_disk_bytes),
            log=self.log,
        )
        self.ingester = Ingester(self.settings)
        self.senders = SenderDirectory(self.settings.senders)

    def authenticate(self, authorization: str | None, certificate_names: list[str], peer: str) -> Sender | None:
        """The request's sender; None when no senders are configured (open collector).

        Raises NotAuthenticated (counted, and logged with the peer's address and the reason,
        never the token).
        """
        if not self.senders.enabled:
            return None
        try:
            return self.senders.authenticate(authorization, certificate_names)
        except NotAuthenticated as exc:
            self.metrics.add(requests_unauthenticated=1)
            log.warning("refused an export from %s: %s", peer, exc)
            raise

    async def ingest_and_store(
        self, decode: Callable[[], ExportTraceServiceRequest], sender: Sender | None = None
    ) -> IngestResult:
        """Decode, check and store one export request; return once its records are committed.

        Shared by OTLP/HTTP and OTLP/gRPC. `sender` (authenticated) binds the request's records
        to its organisation. Raises UndecodableBody (from `decode`), WriterStopped (shutting
        down), StorageUnavailable (the store is down: retry) or StorageFault (the store refused
        the records: a retry does not help); in every case nothing of the request is
        acknowledged.
        """
        # Decoding and checking a large request takes milliseconds of CPU: keep the event loop
        # (shared with the read API in `ldv serve`) responsive by running it in a worker thread.
        result = await run_in_threadpool(lambda: self._refuse_past_retention(self.ingester.ingest(decode(), sender)))
        self.metrics.add(
            spans_received=result.received,
            spans_ignored=result.ignored,
            spans_rejected=len(result.rejections),
            spans_pseudonymised=result.pseudonymised,
        )
        if result.rejections:
            # Counts only: rejection messages can quote attribute values, which are never logged.
            log.info("rejected %d of %d spans", len(result.rejections), result.received)
            for rejection in result.rejections:
                self.rejections.add(rejection.organisation, rejection.service, (v.rule for v in rejection.violations))
        if result.rows is not None:
            await self.writer.write(result.rows)
        return result

    def _refuse_past_retention(self, result: IngestResult) -> IngestResult:
        """Refuse the records whose retention ended before they arrived (rule `retention-passed`,
        decided by the store: `LogStore.past_retention`): the store would delete them as it writes
        them, so they must not be acknowledged as stored."""
        if result.rows is None or not result.rows.num_rows:
            return result
        ended = self.writer.store.past_retention(result.rows)
        if not ended:
            return result
        rows = result.rows
        organisations = pc.map_lookup(rows.column("ResourceAttributes"), attr.ORGANISATION, "last").to_pylist()
        services, names = rows.column("ServiceName").to_pylist(), rows.column("SpanName").to_pylist()
        trace_ids, span_ids = rows.column("TraceId").to_pylist(), rows.column("SpanId").to_pylist()
        violation = _RETENTION_PASSED.violation({})
        for i in ended:
            result.rejections.append(Rejection(bytes.fromhex(trace_ids[i]), bytes.fromhex(span_ids[i]), names[i],
                                               (violation,), organisations[i] or "", services[i] or ""))  # fmt: skip
        keep = pc.invert(pc.is_in(pa.array(range(rows.num_rows)), value_set=pa.array(ended)))
        result.rows = rows.filter(keep)
        return result

    async def export_traces(self, request: Request) -> Response:
        """Handle one OTLP/HTTP trace export; never a 500 for bad input."""
        try:
            response = await self._export(request)
        except Exception as exc:  # noqa: BLE001 - a bug must still get an OTLP-shaped answer
            # The exception text may quote span data: log its type only.
            log.error("internal error while handling an export: %s", type(exc).__name__)
            response = error_response(500, "internal error in the collector; the spans were not stored")
        self.metrics.response(response.status_code)
        return response

    async def _export(self, request: Request) -> Response:
        self.metrics.add(requests=1)
        retry = {"Retry-After": str(self.settings.retry_after_seconds)}
        encoding = encoding_of(request.headers.get("content-type"))
        # Who sends comes first: an unauthenticated request learns nothing about its body.
        try:
            sender = self.authenticate(
                request.headers.get("authorization"),
                asgi_client_certificate_names(request.scope),
                request.client.host if request.client else "an unknown address",
            )
        except NotAuthenticated as exc:
            return error_response(401, str(exc), encoding, {"WWW-Authenticate": exc.challenge})
        if encoding is None:
            return error_response(
                415,
                f"Content-Type must be {Encoding.PROTOBUF.value} or {Encoding.JSON.value}, "
                f"got {request.headers.get('content-type')!r}",
            )
        if not self.writer.accepting:
            return error_response(503, "the collector is shutting down; retry later", encoding, retry)
        try:
            content_encoding = check_encoding(request.headers.get("content-encoding"))
            length = request.headers.get("content-length")
            body = await read_body(
                request.stream(),
                encoding=content_encoding,
                limit=self.settings.max_body_bytes,
                content_length=int(length) if length and length.isdigit() else None,
            )
        except BodyError as exc:
            return error_response(exc.status, str(exc), encoding)
        except ClientDisconnect:
            # Nobody reads this answer; it only keeps the request out of the 500 path.
            return error_response(400, "the client disconnected before sending the whole body", encoding)

        try:
            result = await self.ingest_and_store(lambda: decode_request(body, encoding), sender)
        except UndecodableBody as exc:
            return error_response(400, str(exc), encoding)
        except WriterStopped:
            return error_response(503, "the collector is shutting down; retry later", encoding, retry)
        except StorageUnavailable:
            return error_response(503, "the Logboek's storage is unavailable; retry later", encoding, retry)
        except StorageFault as fault:
            return error_response(500, storage_fault_message(fault), encoding)
        return message_response(result.response(self.settings.max_error_message_chars), encoding)

    async def metrics_endpoint(self, request: Request) -> Response:
        """Counters in the Prometheus text format."""
        return Response(self.metrics.prometheus(), media_type=PROMETHEUS_CONTENT_TYPE)

    async def health(self, request: Request) -> Response:
        """200 with the counters while accepting work; 503 when not (starting or stopping)."""
        ok = self.writer.accepting
        body = {"status": "ok" if ok else "unavailable", "pending_records": self.writer.pending_records()}
        body.update(self.metrics.snapshot())
        return JSONResponse(body, status_code=200 if ok else 503)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no endpoint at {request.url.path}; OTLP traces go to POST {TRACES_PATH}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, headers=dict(exc.headers or {}))


def create_app(store: LogStore, settings: CollectorSettings | None = None) -> Starlette:
    """The collector as an ASGI app over `store`.

    The app's lifespan starts the group-commit writer and, on shutdown, stops it (storing
    everything pending first). The Collector is at `app.state.collector` and its writer at
    `app.state.writer`, for a server that wants to flush on a signal itself
    (`app.state.writer.stop()`).
    """
    collector = Collector(store, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        collector.writer.start()
        if collector.checkpointer is not None:
            collector.checkpointer.start()
        try:
            yield
        finally:
            await run_in_threadpool(collector.writer.stop)
            if collector.checkpointer is not None:
                await run_in_threadpool(collector.checkpointer.stop)  # signs what the writer committed last

    app = Starlette(
        routes=[
            Route(TRACES_PATH, collector.export_traces, methods=["POST"]),
            Route("/metrics", collector.metrics_endpoint, methods=["GET"]),
            Route("/healthz", collector.health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.collector = collector
    app.state.writer = collector.writer
    return app
