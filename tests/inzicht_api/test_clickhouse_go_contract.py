"""Contract test: what the real clickhouse-go cannot show here, checked against an emulation of it.

The real driver (clickhouse-go v2.47.0, which grafana-clickhouse-datasource 4.20 pins, and the
newest release) runs against `ldv serve` in tests/go/clickhouse (driven by
tests/peers/test_clickhouse_go.py): the plugin's connection sequence, every dashboard query,
typed scanning, organisation scoping, refusals and cancellation. Two things stay here, on an
emulation of the driver's HTTP conversation written from its source (`conn_http.go`,
`lib/proto/block.go`): the credentials headers it sends with `secure: true` (TLS, which the Go
tests do not set up), and why the endpoint answers the driver's hello by hand (chDB's own Native
answer does not decode at the revision the driver reads it at).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings, create_app, running
from ldv_logboek.storage import LogStore
from tests.inzicht_api.clickhouse_support import COUNTS, ORG_A, ORG_B, USERS, Endpoint, clickhouse_endpoint  # noqa: F401

CLIENT_TCP_PROTOCOL_VERSION = 54460  # lib/proto/const.go
REVISION_WITH_CUSTOM_SERIALIZATION = 54454
HELLO = "SELECT displayName(), version(), revision(), timezone()"
USER_AGENT = "clickhouse-go/2.47.0 (lv:go/1.25.0; os:linux) grafana/12.1.0 clickhouse-datasource/4.20.0"


class DecodeError(Exception):
    pass


class _Buffer:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def eof(self) -> bool:
        return self.pos >= len(self.data)

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError(f"unexpected EOF reading {n} bytes at {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise DecodeError("uvarint overflow")

    def string(self) -> str:
        return self.take(self.uvarint()).decode(errors="replace")  # a Go string holds any bytes

    def unpack(self, fmt: str) -> Any:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]


_FIXED = {"UInt8": "B", "UInt16": "H", "UInt32": "I", "UInt64": "Q", "Int8": "b", "Int16": "h", "Int32": "i",
          "Int64": "q", "Float32": "f", "Float64": "d", "DateTime": "I", "Date": "H", "Bool": "B"}  # fmt: skip


def _column(buf: _Buffer, type_name: str, rows: int) -> list[Any]:
    """One column's values, as lib/column reads them (state prefix, then data)."""
    if type_name in _FIXED:
        return [buf.unpack(_FIXED[type_name]) for _ in range(rows)]
    if type_name.startswith("DateTime64("):
        return [buf.unpack("q") for _ in range(rows)]
    if type_name == "String":
        return [buf.string() for _ in range(rows)]
    if type_name.startswith("Nullable("):
        nulls = [buf.take(1)[0] for _ in range(rows)]
        values = _column(buf, type_name[len("Nullable(") : -1], rows)
        return [None if n else v for n, v in zip(nulls, values)]
    if type_name == "LowCardinality(String)":
        if buf.unpack("Q") != 1:  # ReadStatePrefix: keys serialization version SharedDictionariesWithAdditionalKeys
            raise DecodeError("LowCardinality: unknown keys version")
        serialization = buf.unpack("Q")
        key_width = {0: "B", 1: "H", 2: "I", 3: "Q"}[serialization & 0xFF]
        if not serialization & (1 << 9):  # HasAdditionalKeysBit
            raise DecodeError("LowCardinality: no additional keys")
        dictionary = _column(buf, "String", buf.unpack("Q"))
        if buf.unpack("Q") != rows:
            raise DecodeError("LowCardinality: row count")
        return [dictionary[buf.unpack(key_width)] for _ in range(rows)]
    raise DecodeError(f"type {type_name} not emulated")


@dataclass
class Block:
    names: list[str]
    types: list[str]
    columns: list[list[Any]]

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        return list(zip(*self.columns))


def decode(data: bytes, revision: int) -> list[Block]:
    """Blocks until EOF, as proto.Block.Decode reads them at `revision`."""
    buf, blocks = _Buffer(data), []
    while not buf.eof():
        if revision > 0:  # decodeBlockInfo: read, not checked
            buf.uvarint(), buf.take(1), buf.uvarint(), buf.unpack("i"), buf.uvarint()
        columns, rows = buf.uvarint(), buf.uvarint()
        if rows > 1_000_000_000:
            raise DecodeError("more then 1 billion rows in block - suspiciously big - preventing OOM")
        block = Block([], [], [])
        for _ in range(columns):
            block.names.append(buf.string())
            block.types.append(buf.string())
            if revision >= REVISION_WITH_CUSTOM_SERIALIZATION and buf.take(1) != b"\x00":
                raise DecodeError(f"custom serialization for column {block.names[-1]}. not supported")
            # State prefix and data only for a block with rows.
            block.columns.append(_column(buf, block.types[-1], rows) if rows else [])
        blocks.append(block)
    return blocks


class GoClient:
    """The HTTP conversation of clickhouse-go v2.47.0 as the plugin configures it (protocol http, no TLS)."""

    def __init__(self, endpoint: Endpoint, user: str, password: str, database: str = "default"):
        self.base = endpoint.url
        # Credentials in the URL's userinfo: net/http sends them as Authorization: Basic.
        self.headers = {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "gzip",  # CompressionGZIP over HTTP: the header only, no enable_http_compression
        }
        self.params = {"database": database, "max_execution_time": "65"}  # sqlds' 60 s timeout + 5 s
        self.revision = CLIENT_TCP_PROTOCOL_VERSION

    def post(self, sql: str, **extra: str) -> httpx.Response:
        params = {**self.params, **extra, "default_format": "Native",
                  "client_protocol_version": str(CLIENT_TCP_PROTOCOL_VERSION)}  # fmt: skip
        return httpx.post(self.base + "/", params=params, content=sql.encode(), headers=self.headers, timeout=30)

    def query(self, sql: str, **extra: str) -> list[Block]:
        response = self.post(sql, **extra)
        if response.status_code != 200:  # executeRequest
            raise RuntimeError(f"[HTTP {response.status_code}] response body: {response.text!r}")
        if response.headers.get("content-encoding") == "gzip":
            raise AssertionError("gzip without enable_http_compression: a real ClickHouse would not")
        if not response.content:  # ContentLength == 0: an empty block
            return []
        return decode(response.content, self.revision)

    def dial(self) -> tuple[str, str, int, str]:
        """queryHello: decoded at ClientTCPProtocolVersion; the reported revision is used from then on."""
        (block,) = self.query(HELLO)
        assert block.types == ["String", "String", "UInt32", "String"]  # scanned as string, string, uint32, string
        (hello,) = block.rows
        self.revision = hello[2]
        return hello

    def ping(self) -> None:
        (block,) = self.query("SELECT 1")
        assert block.names == ["1"] and block.rows == [(1,)]


def test_tls_style_credentials_headers(endpoint: Endpoint) -> None:
    """With `secure: true` clickhouse-go sends X-ClickHouse-User/Key (and SSL-Certificate-Auth: off) instead of Basic."""
    client = GoClient(endpoint, "fg-a", USERS["fg-a"][0])
    client.headers.pop("Authorization")
    client.headers |= {"X-ClickHouse-User": "fg-a", "X-ClickHouse-Key": USERS["fg-a"][0],
                       "X-ClickHouse-SSL-Certificate-Auth": "off"}  # fmt: skip
    client.dial()
    (block,) = client.query("SELECT count() FROM otel_traces")
    assert block.rows == [(COUNTS[ORG_A],)]


def test_why_the_hello_is_answered_by_hand(endpoint: Endpoint) -> None:
    """chDB's own Native answer fails clickhouse-go's hello decoding, and chDB's revision would fail every later one."""
    client = GoClient(endpoint, "toezicht", USERS["toezicht"][0])
    # The engine's own answer to the hello (what a server without the special case sends) ...
    plain = httpx.post(endpoint.url, params={"default_format": "Native"}, content=HELLO.encode(), headers=client.headers)
    assert plain.status_code == 200
    with pytest.raises(DecodeError):
        decode(plain.content, CLIENT_TCP_PROTOCOL_VERSION)  # ... is not what clickhouse-go reads at 54460
    (engine_hello,) = decode(plain.content, 0)
    engine_revision = engine_hello.rows[0][2]
    assert engine_revision >= REVISION_WITH_CUSTOM_SERIALIZATION
    # Had the endpoint reported the engine's revision, chDB's Native results would not decode at it.
    select_one = client.post("SELECT 1").content
    with pytest.raises(DecodeError):
        decode(select_one, engine_revision)
    assert decode(select_one, 0)[0].rows == [(1,)]


def test_a_writer_is_answered_the_hello_too(store: LogStore) -> None:
    """A user with `write` that is a clickhouse-go client (the OpenTelemetry Collector's ClickHouse
    exporter, tests/peers/test_clickhouse_exporter.py) says the same hello first: it gets the
    hand-made answer, not the engine's, which the driver cannot decode."""
    settings = ClickHouseHttpSettings.model_validate(
        {"users": {"schrijver": {"password": "schrijver-pw", "scope": "supervisor", "raw_rows": True, "write": True}}}
    )
    with running(create_app(store, settings)) as url:
        client = GoClient(SimpleNamespace(url=url), "schrijver", "schrijver-pw")  # type: ignore[arg-type]
        display_name, _, revision, _ = client.dial()
        assert (display_name, revision) == ("ldv", 0)
        client.ping()
