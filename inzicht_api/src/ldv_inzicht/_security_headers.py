"""The security headers on every response of the Inzicht app (OWASP ASVS 8.2.1, 14.4).

Almost every response here holds personal data or a fact about a citizen — read API and
inzage results, overviews, the citizen page, even a 404 that says a record does not exist.
So one rule for all, with no per-route exceptions to get wrong:

- `Cache-Control: no-store`: no browser, proxy or gateway keeps a copy. Also on the page's
  stylesheet and the OpenAPI documents, which hold no personal data: they are small, and an
  exception list is a place for the next route to slip through.
- `X-Content-Type-Options: nosniff`: a browser never reads JSON (with a citizen's values in it)
  as HTML or script.
- `Content-Security-Policy`: nothing but the page's own stylesheet and forms: no script at
  all (the page has none), no inline style, no frames, no `<base>`, forms post only to this
  origin, and `frame-ancestors 'none'` (no other site frames the page). For JSON the same
  policy is simply stricter than needed.
- `X-Frame-Options: DENY`: framing protection for browsers without `frame-ancestors`.
- `Referrer-Policy: no-referrer`: the page's URL (with the citizen's filters) never travels to
  a linked site (the legal texts on wetten.overheid.nl).

`ResponseHeadersMiddleware` sets them, with the `API-Version` of the request's API, on every
response that passes through the app's middleware; the 500 handler runs outside it (in
Starlette's `ServerErrorMiddleware`), so `ldv_inzicht._app` sets them there too; both replace a route's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ldv_inzicht._versioning import API_VERSION_HEADER

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class ResponseHeadersMiddleware:
    """Pure ASGI middleware: `SECURITY_HEADERS` and `API-Version` (`version_for(path)`) on every
    HTTP response, errors included."""

    def __init__(self, app: ASGIApp, version_for: Callable[[str], str]):
        self.app = app
        self.version_for = version_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        version = self.version_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[API_VERSION_HEADER] = version
                headers.update(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
