"""The read API's paging cursors: a store position the API can recognise as its own.

A cursor is the store's keyset position (start time, trace id, span id of the last record of
a page), bound to the search it pages and to the caller who searched, under an HMAC-SHA256
with the API's cursor key (`LDV_API_CURSOR_KEY`). The API accepts only cursors it handed
out: a forged, altered or truncated cursor, or one of another search or another caller, is
refused (`CursorRefused`, a 400 naming `cursor`), so a cursor can never widen or shift what
a caller reads.

Wire form: base64url (no padding) of version byte, position (int64 ns, 16-byte trace id,
8-byte span id) and the 32-byte MAC. The binding itself is not in the cursor: the API
rebuilds it from the request and the token, so a cursor tells nothing about either.

Without a configured key a random one is made per app: cursors then do not survive a
restart and are not valid on another replica or worker process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import struct

from ldv_inzicht.errors import InzichtError
from ldv_logboek.storage import Cursor

_VERSION = 1
_POSITION = struct.Struct(">bq16s8s")  # version, start time (ns), trace id, span id
_MAC_BYTES = hashlib.sha256().digest_size
_DOMAIN = b"ldv-lezen-cursor\x00"
# The encoded length of every cursor this module makes (no padding).
CURSOR_LENGTH = len(base64.urlsafe_b64encode(bytes(_POSITION.size + _MAC_BYTES)).rstrip(b"="))


class CursorRefused(InzichtError, ValueError):
    """A cursor this API did not hand out for this search and caller."""


def binding(*parts: object) -> bytes:
    """A canonical encoding of what a cursor is bound to (search fields, caller), for `CursorSealer`."""
    # Plain JSON values only (ids as hex, roles as a sorted list): anything else is a TypeError.
    return json.dumps(parts, separators=(",", ":"), sort_keys=True).encode()


class CursorSealer:
    """Seals store positions into cursors and opens them again, under one key."""

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("a cursor key needs at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "CursorSealer(key=**********)"

    def seal(self, position: Cursor, bound_to: bytes) -> str:
        """The cursor for `position`, valid only with the same `bound_to` (see `binding`)."""
        payload = _POSITION.pack(
            _VERSION, position.timestamp_ns, bytes.fromhex(position.trace_id), bytes.fromhex(position.span_id)
        )
        return base64.urlsafe_b64encode(payload + self._mac(payload, bound_to)).decode().rstrip("=")

    def open(self, text: str, bound_to: bytes) -> Cursor:
        """The position in `text`; CursorRefused unless this sealer made it with `bound_to`."""
        if len(text) != CURSOR_LENGTH:
            raise CursorRefused("not a cursor of this API")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error):
            raise CursorRefused("not a cursor of this API") from None
        # Only the one canonical spelling: the decoder skips foreign characters and unused bits.
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != text:
            raise CursorRefused("not a cursor of this API")
        payload, mac = raw[: _POSITION.size], raw[_POSITION.size :]
        # Constant time: the comparison must not tell how much of a forged MAC was right.
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload, bound_to)):
            raise CursorRefused("not a cursor of this API for this search and caller")
        version, timestamp_ns, trace_id, span_id = _POSITION.unpack(payload)
        if version != _VERSION:
            raise CursorRefused("a cursor of another version of this API")
        return Cursor(timestamp_ns, trace_id.hex(), span_id.hex())

    def _mac(self, payload: bytes, bound_to: bytes) -> bytes:
        message = _DOMAIN + len(bound_to).to_bytes(4, "big") + bound_to + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()
