"""Server side: continue an incoming W3C `traceparent` in the LDV records of a request.

`LdvMiddleware` is plain ASGI, so it works for FastAPI and Starlette
(`app.add_middleware(LdvMiddleware)`) and any other ASGI app (`app = LdvMiddleware(app)`);
`LdvWsgiMiddleware` does the same for WSGI (Flask, Django's WSGI handler, ...).

The middleware itself writes no record: every `verwerking` started while handling the
request gets the caller's span as parent (rule 3), span kind Server, and the attributes
`dpl.core.foreign_operation.span_id` and, when the caller identified itself in the `ldv`
tracestate entry, `dpl.core.foreign_operation.processor` (rule 8). A `traceparent` with
sampled=0 is continued all the same: LDV records are never sampled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from ldv_sdk._processing import incoming_request
from ldv_sdk._propagation import extract_incoming

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WANTED = (b"traceparent", b"tracestate")
_WSGI_KEYS = (("traceparent", "HTTP_TRACEPARENT"), ("tracestate", "HTTP_TRACESTATE"))


class LdvMiddleware:
    """ASGI middleware that makes the request's processings continue the caller's trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: dict[str, str] = {}
        if scope.get("type") in ("http", "websocket"):  # a lifespan scope continues nothing
            for key, value in scope.get("headers") or ():
                lowered = key.lower()
                if lowered in _WANTED:
                    name = lowered.decode("latin-1")
                    text = value.decode("latin-1")
                    # Several tracestate headers are one list (W3C Trace Context 3.3.1.1).
                    headers[name] = f"{headers[name]},{text}" if name in headers else text
        call = extract_incoming(headers) if headers else None
        if call is None:
            await self.app(scope, receive, send)
            return
        with incoming_request(call):
            await self.app(scope, receive, send)


class LdvWsgiMiddleware:
    """WSGI middleware that makes the request's processings continue the caller's trace."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = {name: environ[key] for name, key in _WSGI_KEYS if key in environ}
        call = extract_incoming(headers)  # None without a traceparent
        if call is None:
            return self.app(environ, start_response)
        with incoming_request(call):
            # Processings run while the app is called; a lazy body is iterated outside this block.
            return self.app(environ, start_response)
