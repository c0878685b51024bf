"""OTLP/gRPC: the `opentelemetry.proto.collector.trace.v1.TraceService/Export` method.

Same checks, same group commit and same acknowledgement rule as OTLP/HTTP: it drives the
`Collector` that the HTTP app created, so both protocols share one writer and one set of
counters. Status codes follow the OTLP specification: UNAVAILABLE (retryable) when the
collector is shutting down or the store is down, INTERNAL (not retried) when the store refused
the records (a StorageFault, with its incident id), RESOURCE_EXHAUSTED for a message over the
size limit (enforced by gRPC itself, after decompression), partial success in the response
for rejected spans, UNAUTHENTICATED when senders are configured and the call does not come
from one (metadata `authorization: Bearer <token>`, or the client certificate of a TLS port
with a client CA). The method takes the message as bytes and decodes it only after that
check, in a worker thread.
"""

from __future__ import annotations

import functools
import logging

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ldv_collector._app import Collector, storage_fault_message
from ldv_collector._decode import Encoding, decode_request
from ldv_collector._senders import certificate_names
from ldv_collector.errors import NotAuthenticated, UndecodableBody, WriterStopped
from ldv_logboek.storage import StorageFault, StorageUnavailable

log = logging.getLogger(__name__)


SERVICE_NAME = "opentelemetry.proto.collector.trace.v1.TraceService"


async def _export(collector: Collector, body: bytes, context: grpc.aio.ServicerContext) -> ExportTraceServiceResponse:
    """The TraceService's Export method, on top of `collector`."""
    collector.metrics.add(requests=1)
    authorization = next((str(m.value) for m in context.invocation_metadata() or () if m.key == "authorization"), None)
    pem = context.auth_context().get("x509_pem_cert")  # the client certificate gRPC verified (TLS with a client CA)
    try:
        sender = collector.authenticate(authorization, certificate_names(pem[0]) if pem else [], context.peer())
    except NotAuthenticated as exc:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
    if not collector.writer.accepting:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the collector is shutting down; retry later")
    try:
        result = await collector.ingest_and_store(lambda: decode_request(body, Encoding.PROTOBUF), sender)
    except UndecodableBody as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    except WriterStopped:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the collector is shutting down; retry later")
    except StorageUnavailable:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the Logboek's storage is unavailable; retry later")
    except StorageFault as fault:
        await context.abort(grpc.StatusCode.INTERNAL, storage_fault_message(fault))
    except Exception as exc:  # noqa: BLE001 - a bug must still get a gRPC status, never span data
        log.error("internal error while handling a gRPC export: %s", type(exc).__name__)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error in the collector; the spans were not stored")
    return result.response(collector.settings.max_error_message_chars)


def create_grpc_server(
    collector: Collector,
    host: str,
    port: int,
    *,
    tls: tuple[bytes, bytes] | None = None,
    client_ca: bytes | None = None,
) -> tuple[grpc.aio.Server, int]:
    """An unstarted grpc.aio server with the TraceService bound to host:port (0 picks a free port).

    `tls` is (certificate chain PEM, private key PEM): the port then speaks gRPC over TLS only.
    `client_ca` (PEM, with `tls`): every client must present a certificate signed by it (gRPC
    cannot ask for an optional one); its name identifies the sender.

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
    # The generated servicer would decode the message before the method runs; bytes let the
    # method authenticate the sender first.
    export = grpc.unary_unary_rpc_method_handler(
        functools.partial(_export, collector),
        request_deserializer=None,
        response_serializer=ExportTraceServiceResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, {"Export": export}),))
    address = f"{host}:{port}"
    try:
        if tls is not None:
            certificate, key = tls
            credentials = grpc.ssl_server_credentials(
                [(key, certificate)], root_certificates=client_ca, require_client_auth=client_ca is not None
            )
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:  # grpc's way of saying the address cannot be bound
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}: in use or not permitted")
    return server, bound
