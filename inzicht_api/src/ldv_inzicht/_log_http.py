"""The transparency logs of the store, read-only over HTTP as C2SP tlog-tiles, under `/log/`.

    GET /log/                                   the logs in this store: origin, prefix, size (JSON)
    GET /log/<log id>/checkpoint                the newest checkpoint, with the witnesses' cosignatures
    GET /log/<log id>/tile/<L>/<N>[.p/<W>]      hash tiles (c2sp.org/tlog-tiles); full ones from the
                                                store's tile files when copied there (TileMirror)
    GET /log/<log id>/tile/entries/<N>[.p/<W>]  entry bundles: the 41-byte entries (no record data)
    GET /log/<log id>/proof/<index>             a receipt (C2SP tlog-proof) of leaf <index> in the
                                                newest checkpoint, cosignatures included (read
                                                again at most every 0.25 s; the entry and the
                                                hashes neither cached nor in tile files in one
                                                read of the store)

`<log id>` is the lowercase hex SHA-256 of the log's origin (as a witness's monitoring API names
a log), since an origin holds slashes. Full tiles and bundles never change: they are served with
`Cache-Control: public, max-age=31536000, immutable`; partial ones and the checkpoint for a
second. Nothing here is personal data: an entry is a salted digest and an expiry time.

This app is not the Inzicht API (whose every response is `no-store`, see `_security_headers`):
`with_log_routes` puts it in front of that app on the same port, so the API's header rule stays
without exceptions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ldv_logboek.storage import LogStore, LogTables, StorageError, StoredTree
from ldv_logboek.tlog import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Checkpoint,
    ProofError,
    Receipt,
    entry_bundle,
    log_id,
    parse_note,
    parse_tile_path,
)

LOG_PREFIX = "/log"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=1"
CHECKPOINT_REUSE_S = 0.25  # the collector's checkpoint interval
_BASE_HEADERS = {"X-Content-Type-Options": "nosniff"}


def _text(body: str, status: int = 200, cache: str = "no-store") -> Response:
    return PlainTextResponse(body, status, headers={**_BASE_HEADERS, "Cache-Control": cache})


def create_log_app(store: LogStore) -> Starlette:
    """The read-only tlog-tiles app over `store`'s logs (module docstring); paths without `/log`."""
    origins: dict[str, str] = {}  # log id -> origin

    def origin_of(request: Request) -> str | None:
        nonlocal origins
        if (ident := request.path_params["log"]) not in origins:
            origins = {log_id(o): o for o in LogTables(store, "").origins()}
        return origins.get(ident)

    async def index(request: Request) -> Response:
        def read() -> list[dict[str, object]]:
            out: list[dict[str, object]] = []
            for origin in LogTables(store, "").origins():
                latest = LogTables(store, origin).latest_checkpoint()
                out.append({"origin": origin, "prefix": f"{LOG_PREFIX}/{log_id(origin)}/", "size": latest[0] if latest else 0})
            return out

        return JSONResponse({"logs": await run_in_threadpool(read)}, headers={**_BASE_HEADERS, "Cache-Control": SHORT})

    async def checkpoint(request: Request) -> Response:
        origin = origin_of(request)
        if origin is None:
            return _text("no such log\n", 404)
        latest = await run_in_threadpool(LogTables(store, origin).latest_checkpoint)
        if latest is None:
            return _text("no checkpoint yet\n", 404)
        return _text(latest[2], cache="no-cache")

    async def tile(request: Request) -> Response:
        origin = origin_of(request)
        if origin is None:
            return _text("no such log\n", 404)
        try:
            ref = parse_tile_path("tile/" + request.path_params["path"])
        except ProofError as exc:
            return _text(f"{exc}\n", 400)
        tables = LogTables(store, origin)

        def read() -> bytes | None:
            if store.tile_files is not None:  # a full tile copied to a file (ldv_logboek.storage.TileMirror)
                copied = store.tile_files.read(origin, ref)
                if copied is not None:
                    return copied
            level = ref.tree_level
            start = ref.first_node
            end = start + ref.width
            if ref.level is None:
                leaves = tables.leaves(start, end)
                return entry_bundle([e for _, e, _ in leaves]) if len(leaves) == ref.width else None
            if ref.level > 0 and level not in range(TILE_HEIGHT, 64, TILE_HEIGHT):
                return None
            hashes = tables.level_hashes(level, start, end)
            return b"".join(hashes) if len(hashes) == ref.width else None

        data = await run_in_threadpool(read)
        if data is None:
            return _text("no such tile (yet)\n", 404)
        cache = IMMUTABLE if ref.width == TILE_WIDTH else SHORT
        return Response(data, media_type="application/octet-stream", headers={**_BASE_HEADERS, "Cache-Control": cache})

    # The newest checkpoint, read at most every CHECKPOINT_REUSE_S per log for the proofs of
    # leaves it covers (a leaf beyond it reads it again): a proof then costs one read of the
    # store, not two. A receipt may so carry a checkpoint up to that much older than the newest.
    newest: dict[str, tuple[float, tuple[int, bytes, str]]] = {}

    def newest_checkpoint(tables: LogTables, index: int) -> tuple[int, bytes, str] | None:
        now = time.monotonic()
        cached = newest.get(tables.origin)
        if cached is not None and now - cached[0] < CHECKPOINT_REUSE_S and index < cached[1][0]:
            return cached[1]
        latest = tables.latest_checkpoint()
        if latest is not None:
            newest[tables.origin] = (now, latest)
        return latest

    trees: dict[str, StoredTree] = {}  # per origin: stored hashes never change, so their cache is shared

    async def proof(request: Request) -> Response:
        origin = origin_of(request)
        if origin is None:
            return _text("no such log\n", 404)
        index_text = request.path_params["index"]
        if not index_text.isdigit() or len(index_text) > 20:
            return _text("the index is a leaf number\n", 400)
        index = int(index_text)
        tables = LogTables(store, origin)

        def make() -> str | None:
            latest = newest_checkpoint(tables, index)
            if latest is None or index >= latest[0]:
                return None
            size, _, note = latest
            tree = trees.get(origin)
            if tree is None or tree.size != size:
                tree = StoredTree(tables, size, cache_tiles=4096) if tree is None else tree.grown(size)
                trees[origin] = tree
            assert Checkpoint.from_text(parse_note(note).text).size == size
            entry, path = tree.proof(index)  # one query: the entry and the hashes not cached
            return Receipt(entry, index, tuple(path), note).serialize()

        receipt = await run_in_threadpool(make)
        if receipt is None:
            return _text("no such leaf in the newest checkpoint (yet)\n", 404)
        return _text(receipt, cache="no-cache")

    async def storage_unavailable(request: Request, exc: Exception) -> Response:
        return _text("the store is unavailable; try again later\n", 503)

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/{log:str}/checkpoint", checkpoint, methods=["GET"]),
            Route("/{log:str}/tile/{path:path}", tile, methods=["GET"]),
            Route("/{log:str}/proof/{index:str}", proof, methods=["GET"]),
        ],
        exception_handlers={StorageError: storage_unavailable},
    )


def with_log_routes(app: ASGIApp, log_app: ASGIApp) -> Callable[[Scope, Receive, Send], object]:
    """One ASGI app: requests under `LOG_PREFIX` go to `log_app` (prefix removed), all else to `app`
    (lifespan included)."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == LOG_PREFIX or path.startswith(LOG_PREFIX + "/")):
            # The log app's routes see the path below `LOG_PREFIX` (Starlette strips root_path).
            inner = dict(scope)
            inner["root_path"] = scope.get("root_path", "") + LOG_PREFIX
            if path == LOG_PREFIX:
                inner["path"] = path + "/"
            await log_app(inner, receive, send)
            return
        await app(scope, receive, send)

    dispatch.state = getattr(app, "state", None)  # type: ignore[attr-defined]
    return dispatch
