"""Trace and span ids in the notations the standard and OTLP use.

On the wire (OTLP protobuf) ids are raw bytes; OTLP/JSON and the store use lowercase hex;
the read API's published schema shows trace ids in UUID notation (8-4-4-4-12 hex digits).
"""

from __future__ import annotations

import re

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_trace_id(text: str) -> bytes:
    """Parse a trace id given as 32 hex digits or in UUID notation; ValueError otherwise."""
    if _HEX32.match(text):
        return bytes.fromhex(text)
    if _UUID.match(text):
        return bytes.fromhex(text.replace("-", ""))
    raise ValueError(f"trace id must be 32 hex digits or a UUID (8-4-4-4-12 hex digits), got {text!r}")


def trace_id_as_uuid(trace_id_hex: str) -> str:
    """Write 32 hex digits in the UUID notation of the read API's schema."""
    h = trace_id_hex.lower()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
