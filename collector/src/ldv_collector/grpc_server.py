"""OTLP/gRPC: the `opentelemetry.proto.collector.trace.v1.TraceService/Export` method.

Same checks, same group commit and same acknowledgement rule as OTLP/HTTP: it drives the
`Collector` that the HTTP app created, so both protocols share one writer and one set of
counters. Status codes follow the OTLP specification: UNAVAILABLE (retryable) when the
collector is shutting down or the store is down, INTERNAL (not retried) when the store refused
the records (a StorageFault, with its incident id), RESOURCE_EXHAUSTED for a message over the
size limit (enforced by gRPC itself, after decompression), partial success in the response
for rejected spans.
"""

from __future__ import annotations

import logging

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ldv_collector.app import Collector, storage_fault_message
from ldv_collector.writer import WriterStopped
from ldv_logboek.storage import StorageFault, StorageUnavailable

log = logging.getLogger(__name__)


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """The OTLP TraceService on top of a Collector."""

    def __init__(self, collector: Collector):
        self.collector = collector

    async def Export(  # noqa: N802 - the name is the gRPC method's
        self, request: ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> ExportTraceServiceResponse:
        collector = self.collector
        collector.metrics.add(requests=1)
        if not collector.writer.accepting:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the collector is shutting down; retry later")
        try:
            result = await collector.ingest_and_store(lambda: request)
        except WriterStopped:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the collector is shutting down; retry later")
        except StorageUnavailable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the Logboek's storage is unavailable; retry later")
        except StorageFault as fault:
            await context.abort(grpc.StatusCode.INTERNAL, storage_fault_message(fault))
        except Exception as exc:  # noqa: BLE001 - a bug must still get a gRPC status, never span data
            log.error("internal error while handling a gRPC export: %s", type(exc).__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error in the collector; the spans were not stored")
        response = ExportTraceServiceResponse()
        if result.rejections:
            response.partial_success.rejected_spans = len(result.rejections)
            response.partial_success.error_message = result.error_message(collector.settings.max_error_message_chars)
        return response


def create_grpc_server(
    collector: Collector, host: str, port: int, *, tls: tuple[bytes, bytes] | None = None
) -> tuple[grpc.aio.Server, int]:
    """An unstarted grpc.aio server with the TraceService bound to host:port (0 picks a free port).

    `tls` is (certificate chain PEM, private key PEM): the port then speaks gRPC over TLS only.

    Returns the server and the port it is bound to. Start it with `await server.start()` after
    the collector's writer runs; stop it with `await server.stop(grace)` before the writer stops,
    so in-flight exports are committed and answered.
    """
    limit = collector.settings.max_body_bytes
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ]
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(collector), server)
    address = f"{host}:{port}"
    try:
        if tls is not None:
            certificate, key = tls
            bound = server.add_secure_port(address, grpc.ssl_server_credentials([(key, certificate)]))
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:  # grpc's way of saying the address cannot be bound
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}: in use or not permitted")
    return server, bound
