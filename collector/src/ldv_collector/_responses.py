"""OTLP/HTTP responses: ExportTraceServiceResponse on success, google.rpc.Status on failure.

The OTLP/HTTP spec asks for the response in the encoding of the request (protobuf or
JSON); when the request's encoding is unknown (415, 404, 405) the error is sent as JSON.
"""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from starlette.responses import Response

from ldv_collector._decode import Encoding

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


def message_response(message: Message, encoding: Encoding, status: int = 200, headers: dict[str, str] | None = None) -> Response:
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
