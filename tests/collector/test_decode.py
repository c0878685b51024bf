"""Decoding OTLP bodies: protobuf, OTLP/JSON, gzip/deflate and the size limits."""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import AsyncIterator

import anyio
import pytest

from ldv_collector._body import check_encoding, read_body
from ldv_collector._decode import Encoding, decode_request, encoding_of
from ldv_collector.errors import BadCompression, BodyTooLarge, UndecodableBody, UnsupportedEncoding
from tests.collector.helpers import make_request, make_span, to_otlp_json


def read(body: bytes, encoding: str = "", limit: int = 1 << 20, chunk: int = 4096, length: int | None = None) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), chunk):
            yield body[i : i + chunk]

    return anyio.run(lambda: read_body(chunks(), encoding=encoding, limit=limit, content_length=length))


def test_protobuf_roundtrip() -> None:
    request = make_request([make_span(), make_span()])
    decoded = decode_request(request.SerializeToString(), Encoding.PROTOBUF)
    assert decoded == request


def test_protobuf_garbage_is_undecodable() -> None:
    with pytest.raises(UndecodableBody, match="protobuf"):
        decode_request(b"\xff\xff\xff\xff not protobuf", Encoding.PROTOBUF)


def test_otlp_json_with_hex_ids_int64_strings_and_integer_enums() -> None:
    span = make_span(status_code=2, kind=3)
    span.parent_span_id = os.urandom(8)
    link = span.links.add(trace_id=os.urandom(16), span_id=os.urandom(8))
    link.attributes.add(key="k").value.string_value = "v"
    request = make_request([span])
    body = to_otlp_json(request)
    document = json.loads(body)
    raw_span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    # The fixture really is OTLP/JSON: hex ids, int64 as strings, enums as integers.
    assert raw_span["traceId"] == span.trace_id.hex()
    assert raw_span["startTimeUnixNano"] == str(span.start_time_unix_nano)
    assert raw_span["kind"] == 3 and raw_span["status"]["code"] == 2
    assert decode_request(body, Encoding.JSON) == request


def test_otlp_json_accepts_snake_case_and_unknown_fields() -> None:
    trace_id, span_id = os.urandom(16), os.urandom(8)
    body = json.dumps(
        {
            "resource_spans": [
                {
                    "scope_spans": [
                        {
                            "spans": [
                                {
                                    "trace_id": trace_id.hex(),
                                    "span_id": span_id.hex(),
                                    "name": "x",
                                    "start_time_unix_nano": 5,
                                    "end_time_unix_nano": "6",
                                    "someFutureField": {"a": 1},
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    span = decode_request(body, Encoding.JSON).resource_spans[0].scope_spans[0].spans[0]
    assert (span.trace_id, span.span_id, span.start_time_unix_nano, span.end_time_unix_nano) == (trace_id, span_id, 5, 6)


@pytest.mark.parametrize(
    "body, match",
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"resourceSpans": {"a": 1}}', "must be an array"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "hex"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 12}]}]}]}', "hex string"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', "OTLP/JSON"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_bad_json_is_undecodable(body: bytes, match: str) -> None:
    with pytest.raises(UndecodableBody, match=match):
        decode_request(body, Encoding.JSON)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("application/x-protobuf", Encoding.PROTOBUF),
        ("Application/JSON; charset=utf-8", Encoding.JSON),
        ("application/protobuf", Encoding.PROTOBUF),
        ("text/plain", None),
        (None, None),
        ("", None),
    ],
)
def test_content_types(header: str | None, expected: Encoding | None) -> None:
    assert encoding_of(header) is expected


def test_gzip_and_deflate_bodies_are_decompressed() -> None:
    payload = make_request([make_span() for _ in range(50)]).SerializeToString()
    assert read(gzip.compress(payload), "gzip", chunk=100) == payload
    assert read(zlib.compress(payload), "deflate", chunk=7) == payload
    assert read(payload, "identity") == payload


def test_multi_member_gzip_is_read_whole() -> None:
    assert read(gzip.compress(b"abc") + gzip.compress(b"def"), "gzip", chunk=5) == b"abcdef"


def test_gzip_bomb_is_cut_off_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MiB inflated, ~64 KiB on the wire
    assert len(bomb) < 100_000
    with pytest.raises(BodyTooLarge, match="decompressed"):
        read(bomb, "gzip", limit=1 << 20, chunk=len(bomb))


def test_raw_body_over_the_limit() -> None:
    with pytest.raises(BodyTooLarge):
        read(b"x" * 2000, limit=1000, chunk=300)
    with pytest.raises(BodyTooLarge):
        read(b"", limit=1000, length=1001)  # refused on Content-Length before reading


def test_body_at_the_limit_is_accepted() -> None:
    assert read(gzip.compress(b"y" * 1000), "gzip", limit=1000) == b"y" * 1000


@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(b"z" * 1000)[:-12], b""])
def test_bad_or_truncated_gzip(body: bytes) -> None:
    with pytest.raises(BadCompression):
        read(body, "gzip")


def test_unsupported_content_encoding() -> None:
    assert check_encoding(" GZIP ") == "gzip"
    assert check_encoding(None) == ""
    with pytest.raises(UnsupportedEncoding, match="br"):
        check_encoding("br")
