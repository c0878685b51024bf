"""The ClickHouse HTTP interface (the subset Grafana's plugin, clickhouse-connect and curl use) over the store.

Routes: `GET /ping` and a bare `GET /` answer `Ok.`; `GET /?query=...`; `POST /` with the query
in the body, or the start of it in `query` and the rest in the body. URL parameters:
`database`, `default_format` (TabSeparated when absent), `query_id`, `param_<name>` (values of
`{name:Type}` placeholders); every other parameter (ClickHouse settings, session ids) is
accepted and ignored: the reader connections' limits are fixed. Credentials: HTTP Basic,
`X-ClickHouse-User`/`X-ClickHouse-Key`, or `user`/`password` parameters.

Answers carry `X-ClickHouse-Query-Id`, `-Format`, `-Timezone`, `-Summary` and a Content-Length;
gzip when the client asks with `enable_http_compression=1` and `Accept-Encoding: gzip`. Errors
are ClickHouse's: status from the exception code, `X-ClickHouse-Exception-Code`, and a
`Code: N. DB::Exception: ...` body.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import logging
import re
import tempfile
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ldv_inzicht.clickhouse_http._access import Access, sql_string
from ldv_inzicht.clickhouse_http._admission import admit
from ldv_inzicht.clickhouse_http._native import hello_block, is_hello
from ldv_inzicht.clickhouse_http._readers import ReaderPool, Result
from ldv_inzicht.clickhouse_http.errors import (
    AUTHENTICATION_FAILED,
    QUERY_IS_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    ClickHouseError,
)
from ldv_inzicht.clickhouse_http.settings import ClickHouseHttpSettings, ClickHouseUser
from ldv_inzicht.errors import InzichtError
from ldv_logboek.storage import LogStore, embedded_path

log = logging.getLogger("ldv.clickhouse_http")

DISPLAY_NAME = "ldv"
DEFAULT_FORMAT = "TabSeparated"
_BINARY_FORMATS = ("Native", "RowBinary", "Arrow", "Parquet", "ORC", "Avro", "MsgPack", "Protobuf", "CapnProto")
# An answer's Content-Type: the first whose formats its format's name starts with; else text/plain.
_CONTENT_TYPES = (
    (_BINARY_FORMATS, "application/octet-stream"),
    (("JSON",), "application/json; charset=UTF-8"),
    (("CSV",), "text/csv; charset=UTF-8"),
    (("TabSeparated", "TSV"), "text/tab-separated-values; charset=UTF-8"),
)
# Checked for an unknown user too, so that a wrong name costs what a wrong password costs.
_NOBODY = ClickHouseUser(password_sha256_hex="0" * 64, scope="nobody")  # type: ignore[arg-type]


@dataclass(frozen=True)
class Answer:
    """A successful query's bytes and the headers that describe them."""

    data: bytes
    format: str
    result: Result | None


class Endpoint:
    """Users, their access and the reader pool; request handling that does not depend on HTTP details."""

    def __init__(self, pool: ReaderPool, settings: ClickHouseHttpSettings):
        self.pool = pool
        self.settings = settings
        self.access = {name: Access.for_user(user, pool.catalog) for name, user in settings.users.items()}

    def authenticate(self, name: str | None, password: str | None) -> str:
        """The user's name, or ClickHouseError 516 (403); never says which part was wrong."""
        if not name:
            raise _auth_failed("no credentials given: use HTTP Basic, X-ClickHouse-User/Key or user/password")
        user = self.settings.users.get(name)
        matches = (user or _NOBODY).password_matches(password or "")
        if user is None or not matches:
            raise _auth_failed(
                f"{name}: Authentication failed: password is incorrect, or there is no user with such name"
            )
        return name

    def execute(self, user: str, sql: str, database: str, params: Mapping[str, str], default_format: str) -> Answer:
        """Admit and run `sql` for `user` on a reader of the user's scope (blocking: call from a worker thread)."""
        access = self.access[user]
        with self.pool.reader(access.scope, database) as reader:
            admitted = admit(reader, sql, params, access, database)
            fmt = admitted.format or default_format
            result = reader.run(admitted.sql, fmt, params)
        return Answer(result.data, fmt, result)

    def execute_write(
        self, user: str, sql: str, data: bytes, database: str, params: Mapping[str, str], default_format: str
    ) -> Answer:
        """Run `sql` for a user with `write`, on an unrestricted connection; `data` is an INSERT's body.

        As ClickHouse's HTTP interface: `INSERT INTO t (...) FORMAT F` (in `query` or at the start of
        the body) and the rows after it. chDB reads input data from a file only, so the rows go
        through a temporary file.
        """
        # The query may start in `query` and go on in the body; an INSERT's rows follow its FORMAT line.
        stream = (sql.encode() + b"\n" + data) if sql and data else sql.encode() or data
        insert = _INSERT_WITH_DATA.match(stream)
        with self.pool.reader(self.access[user].scope, database, writer=True) as writer:
            if insert is not None:
                with tempfile.NamedTemporaryFile(prefix="ldv-insert-", suffix=".bin") as file:
                    file.write(stream[insert.end() :])
                    file.flush()
                    head, fmt = insert.group(1).decode(), insert.group(2).decode()
                    statement = f"{head} FROM INFILE {sql_string(file.name)} FORMAT {fmt}"
                    result = writer.run(statement, default_format, params)
                fmt = default_format
            else:
                text = stream.decode("utf-8", errors="replace")
                trailing = _TRAILING_FORMAT.search(text)
                fmt = trailing.group(1) if trailing else default_format
                result = writer.run(text, fmt, params)
        return Answer(result.data, fmt, result)


# `INSERT INTO t (...) FORMAT F` up to the end of its line; what follows is the data.
_INSERT_WITH_DATA = re.compile(
    rb"^\s*(INSERT\s+INTO\s+.*?)\s+FORMAT\s+(\w+)[ \t]*(?:\r?\n|$)", re.IGNORECASE | re.DOTALL
)
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)


def _auth_failed(message: str) -> ClickHouseError:
    return ClickHouseError(
        AUTHENTICATION_FAILED, f"Code: {AUTHENTICATION_FAILED}. DB::Exception: {message}. (AUTHENTICATION_FAILED)"
    )


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """(user, password) from X-ClickHouse-User/Key, HTTP Basic, or user/password parameters, in that order."""
    headers = request.headers
    if "x-clickhouse-user" in headers:
        return headers["x-clickhouse-user"], headers.get("x-clickhouse-key", "")
    authorization = headers.get("authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        name, _, password = decoded.partition(":")
        return name, password
    params = request.query_params
    if "user" in params:
        return params["user"], params.get("password", "")
    return None, None


async def _read_body(request: Request, limit: int, *, decode: bool = False) -> bytes:
    """The request body (Content-Length or chunked), at most `limit` bytes.

    Compressed bodies (Content-Encoding gzip, deflate, lz4) only with `decode` (a writer's INSERT).
    """
    encoding = request.headers.get("content-encoding", "").lower()
    if (encoding and not (decode and encoding in _DECODERS)) or request.query_params.get("decompress") == "1":
        raise ClickHouseError(UNSUPPORTED_MEDIA_TYPE, "compressed request bodies are not supported")
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise ClickHouseError(UNSUPPORTED_MEDIA_TYPE, "external tables (multipart/form-data) are not supported")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    if encoding:
        try:
            return _DECODERS[encoding](bytes(body))
        except Exception:  # noqa: BLE001 - any decoder failure means: not the encoding it says
            raise ClickHouseError(36, f"the body is not valid {encoding}") from None
    return bytes(body)


def _lz4(data: bytes) -> bytes:
    import lz4.frame  # clickhouse-connect's own dependency, and its default insert compression

    return bytes(lz4.frame.decompress(data))


_DECODERS: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.decompress, "deflate": zlib.decompress, "lz4": _lz4}


def _too_large(limit: int) -> ClickHouseError:
    return ClickHouseError(QUERY_IS_TOO_LARGE, f"the query is larger than {limit} bytes (max_query_bytes)")


def _answer(request: Request, answer: Answer, headers: dict[str, str], started: float) -> Response:
    """A successful query's response: its bytes (gzip when asked), format, summary and Content-Length."""
    params = request.query_params
    elapsed_ns = int((time.perf_counter() - started) * 1e9)
    result = answer.result
    summary = {
        "read_rows": str(result.rows_read if result else 0),
        "read_bytes": str(result.bytes_read if result else 0),
        "written_rows": "0",
        "written_bytes": "0",
        "total_rows_to_read": str(result.rows_read if result else 0),
        "result_rows": str(result.rows if result else 1),
        "result_bytes": str(len(answer.data)),
        "elapsed_ns": str(elapsed_ns),
    }
    data = answer.data
    headers.update({"X-ClickHouse-Format": answer.format, "X-ClickHouse-Summary": json.dumps(summary)})
    if params.get("enable_http_compression") == "1" and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, compresslevel=3)
        headers["Content-Encoding"] = "gzip"
    log.debug("clickhouse query %s: %d bytes", headers.get("X-ClickHouse-Query-Id"), len(answer.data))
    fmt = answer.format
    media_type = next((t for formats, t in _CONTENT_TYPES if fmt.startswith(formats)), "text/plain; charset=UTF-8")
    return Response(data, media_type=media_type, headers=headers)


def _client_protocol_version(params: Mapping[str, str]) -> int:
    try:
        return int(params.get("client_protocol_version", "0") or 0)
    except ValueError:
        return 0


def create_app(store: LogStore, settings: ClickHouseHttpSettings | None = None) -> Starlette:
    """The endpoint over `store` (a migrated embedded `LogStore`) with `settings` (default: the environment);
    its reader pool closes when the app's lifespan ends.

    Raises NotEmbeddedStore for a store on a ClickHouse server: point Grafana at that server.
    """
    settings = settings or ClickHouseHttpSettings()
    path = embedded_path(store.client)
    if path is None:
        raise NotEmbeddedStore(
            "the ClickHouse endpoint serves the embedded chDB store; with a ClickHouse server, give Grafana that server"
        )
    pool = ReaderPool(store.pool, path, settings)
    endpoint = Endpoint(pool, settings)
    hello = Answer(hello_block(DISPLAY_NAME, pool.version, pool.timezone), "Native", None)  # clickhouse-go's first query

    async def ping(request: Request) -> Response:
        return Response(b"Ok.\n", media_type="text/plain; charset=UTF-8")

    async def query(request: Request) -> Response:
        started = time.perf_counter()
        params = request.query_params
        query_id = params.get("query_id") or str(uuid.uuid4())
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": pool.timezone,
            "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
        }
        user = "-"
        if request.method == "GET" and "query" not in params:
            return await ping(request)  # ClickHouse's health answer
        try:
            user = endpoint.authenticate(*_credentials(request))
            sql = params.get("query", "")
            database = params.get("database") or "default"
            query_params = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
            default_format = params.get("default_format") or DEFAULT_FORMAT
            client_protocol_version = _client_protocol_version(params)
            if settings.users[user].write and request.method == "POST":  # GET stays read-only, as in ClickHouse
                data = await _read_body(request, settings.max_insert_bytes, decode=True)
                # A writer that is a clickhouse-go client (the OpenTelemetry Collector's ClickHouse
                # exporter) says hello first, like any other.
                if not sql and len(data) < 256 and is_hello(data.decode(errors="replace"), client_protocol_version):
                    answer = hello
                else:
                    answer = await run_in_threadpool(
                        endpoint.execute_write, user, sql, data, database, query_params, default_format
                    )
                return _answer(request, answer, headers, started)
            if request.method == "POST":
                body = (await _read_body(request, settings.max_query_bytes)).decode("utf-8", errors="replace")
                sql = f"{sql}\n{body}" if sql and body else sql or body
            if len(sql.encode()) > settings.max_query_bytes:
                raise _too_large(settings.max_query_bytes)
            if not sql.strip():
                raise ClickHouseError(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
            if is_hello(sql, client_protocol_version):
                answer = hello
            else:
                answer = await run_in_threadpool(endpoint.execute, user, sql, database, query_params, default_format)
        except ClickHouseError as error:
            log.info("clickhouse query %s by %s refused: code %s", query_id, user, error.code)
            return Response(
                error.body(),
                status_code=error.status,
                media_type="text/plain; charset=UTF-8",
                headers={**headers, "X-ClickHouse-Exception-Code": str(error.code)},
            )
        return _answer(request, answer, headers, started)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        endpoint.pool.close()

    app = Starlette(
        routes=[Route("/ping", ping, methods=["GET", "HEAD"]), Route("/", query, methods=["GET", "POST"])],
        lifespan=lifespan,
    )
    app.state.endpoint = endpoint
    return app


class NotEmbeddedStore(InzichtError, ValueError):
    """The store is not an embedded chDB directory this process can open readers on."""
