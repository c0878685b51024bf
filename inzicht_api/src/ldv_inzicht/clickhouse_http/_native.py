"""The one Native block this endpoint builds by hand: the answer to clickhouse-go's hello.

clickhouse-go (the Go client inside Grafana's ClickHouse plugin) opens every HTTP connection
with exactly `HELLO_QUERY`, decodes that answer at protocol revision 54460 (a BlockInfo header
and a custom-serialization byte per column) and every later answer at the `revision()` the
server reported. chDB writes Native at revision 0 (neither), so the hello is answered here
with a block in the 54460 layout that reports revision 0; every later chDB result then decodes
as it is.
"""

from __future__ import annotations

import struct

HELLO_QUERY = "SELECT displayName(), version(), revision(), timezone()"
# The first revision whose blocks carry a custom-serialization byte per column.
_REVISION_WITH_CUSTOM_SERIALIZATION = 54454
# The revision this endpoint reports: chDB's Native output layout.
REPORTED_REVISION = 0


def uvarint(value: int) -> bytes:
    """`value` as an unsigned LEB128 varint: seven bits a byte, lowest first, the high bit set on all but the last."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def _string(value: str) -> bytes:
    raw = value.encode()
    return uvarint(len(raw)) + raw


def is_hello(sql: str, client_protocol_version: int) -> bool:
    """The clickhouse-go hello, from a client that decodes it with BlockInfo and custom-serialization bytes."""
    return client_protocol_version >= _REVISION_WITH_CUSTOM_SERIALIZATION and sql.strip() == HELLO_QUERY


def hello_block(display_name: str, version: str, timezone: str) -> bytes:
    """One row `(displayName(), version(), revision(), timezone())` with revision 0, in the 54460 layout."""
    block_info = uvarint(1) + b"\x00" + uvarint(2) + struct.pack("<i", -1) + uvarint(0)
    columns = [
        ("displayName()", "String", _string(display_name)),
        ("version()", "String", _string(version)),
        ("revision()", "UInt32", struct.pack("<I", REPORTED_REVISION)),
        ("timezone()", "String", _string(timezone)),
    ]
    out = bytearray(block_info + uvarint(len(columns)) + uvarint(1))
    for name, type_name, data in columns:
        out += _string(name) + _string(type_name) + b"\x00" + data
    return bytes(out)
