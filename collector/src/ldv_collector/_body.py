"""Reading a request body within a size limit, decompressing gzip/deflate as it streams in.

The limit holds for the bytes on the wire and again for the decompressed bytes: the
decompressor is asked for at most one byte more than the limit allows, so a compression
bomb is cut off after `limit` bytes instead of being inflated in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable

from ldv_collector.errors import BadCompression, BodyTooLarge, UnsupportedEncoding

# zlib window bits: 16 + MAX_WBITS reads a gzip member, MAX_WBITS a zlib stream (HTTP "deflate").
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_IDENTITY = ("", "identity")
SUPPORTED_ENCODINGS = ("gzip", "deflate", "identity")


def check_encoding(content_encoding: str | None) -> str:
    """The normalised Content-Encoding, or UnsupportedEncoding."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in _IDENTITY or encoding in _WBITS:
        return encoding
    raise UnsupportedEncoding(
        f"Content-Encoding {encoding!r} is not supported; use one of {', '.join(SUPPORTED_ENCODINGS)}"
    )


class _Inflater:
    """Incremental gzip/deflate decoder with an output limit; handles multi-member gzip."""

    def __init__(self, encoding: str, limit: int):
        self._wbits = _WBITS[encoding]
        self._limit = limit
        self._out = bytearray()
        self._d = zlib.decompressobj(self._wbits)

    def feed(self, data: bytes) -> None:
        # Each pass either consumes input or finishes a member, so the loop is bounded by len(data).
        while data:
            room = self._limit - len(self._out)
            try:
                chunk = self._d.decompress(data, room + 1)
            except zlib.error as exc:
                raise BadCompression(f"the body is not valid compressed data: {exc}") from None
            self._out += chunk
            if len(self._out) > self._limit:
                raise BodyTooLarge(f"the decompressed body exceeds the limit of {self._limit} bytes")
            if self._d.eof:
                # A gzip body may hold several members back to back (RFC 1952).
                data = self._d.unused_data
                if data:
                    self._d = zlib.decompressobj(self._wbits)
            else:
                data = self._d.unconsumed_tail

    def finish(self) -> bytes:
        if not self._d.eof:
            raise BadCompression("the compressed body is truncated")
        return bytes(self._out)


async def read_body(
    chunks: AsyncIterable[bytes], *, encoding: str, limit: int, content_length: int | None = None
) -> bytes:
    """Read and decompress a body from `chunks`, enforcing `limit` (see module docstring)."""
    if content_length is not None and content_length > limit:
        raise BodyTooLarge(f"the body of {content_length} bytes exceeds the limit of {limit} bytes")
    inflater = _Inflater(encoding, limit) if encoding not in _IDENTITY else None
    raw = bytearray()
    received = 0
    async for chunk in chunks:
        if not chunk:
            continue
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(f"the body exceeds the limit of {limit} bytes")
        if inflater is None:
            raw += chunk
        else:
            inflater.feed(chunk)
    if inflater is None:
        return bytes(raw)
    if received == 0:
        raise BadCompression(f"the body is empty but Content-Encoding says {encoding}")
    return inflater.finish()
