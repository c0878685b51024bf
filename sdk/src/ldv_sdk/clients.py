"""Client side: send W3C Trace Context from the current processing, and name the callee's read API.

`instrument_httpx()` and `instrument_requests()` patch the libraries (all clients), or
instrument one `httpx.Client`/`httpx.AsyncClient`/`requests.Session` when one is given.
Within a `verwerking`, each request gets `traceparent` (the action's span, sampled) and
`tracestate` with this application's `ldv` entry (see ldv_sdk._propagation); when the URL
starts with a prefix in the `read_apis` setting, the action records
`dpl.read.externalReadAPI_id`. Outside a processing nothing is added. No baggage.
httpx and requests are optional: import this module only where you use them.
"""

from __future__ import annotations

import functools
import types
from collections.abc import MutableMapping
from typing import Any

from ldv_sdk._processing import current
from ldv_sdk._propagation import inject_headers

_PATCHED: dict[str, Any] = {}


def prepare_outgoing(url: str, headers: MutableMapping[str, str]) -> bool:
    """Add trace context for a request to `url` made inside the current processing.

    Returns False (and changes nothing) outside a processing. Never raises.
    """
    v = current()
    if v is None or v.span is None or v._runtime is None:
        return False
    span, runtime = v.span, v._runtime
    try:
        config = runtime.config
        inject_headers(span.get_span_context(), config.application, headers)
        for prefix, read_api in config.read_apis.items():
            if url.startswith(prefix):
                v.set_external_read_api(read_api)
                break
        return True
    except Exception:  # noqa: BLE001 - logging must not break the call
        return False


# -- httpx -------------------------------------------------------------------------------------


def _httpx_hook(request: Any) -> None:
    prepare_outgoing(str(request.url), request.headers)


async def _httpx_async_hook(request: Any) -> None:
    prepare_outgoing(str(request.url), request.headers)


def instrument_httpx(client: Any = None) -> None:
    """Instrument one httpx client (sync or async), or every httpx client when none is given."""
    import httpx

    if client is not None:
        hook = _httpx_async_hook if isinstance(client, httpx.AsyncClient) else _httpx_hook
        hooks = client.event_hooks
        if hook not in hooks["request"]:
            hooks["request"] = [*hooks["request"], hook]
            client.event_hooks = hooks
        return
    if "httpx" in _PATCHED:
        return
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    @functools.wraps(sync_send)
    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        prepare_outgoing(str(request.url), request.headers)
        return sync_send(self, request, **kwargs)

    @functools.wraps(async_send)
    async def asend(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        prepare_outgoing(str(request.url), request.headers)
        return await async_send(self, request, **kwargs)

    httpx.Client.send, httpx.AsyncClient.send = send, asend  # type: ignore[method-assign]
    _PATCHED["httpx"] = (sync_send, async_send)


def uninstrument_httpx() -> None:
    """Undo `instrument_httpx()` (the global form)."""
    import httpx

    if original := _PATCHED.pop("httpx", None):
        httpx.Client.send, httpx.AsyncClient.send = original  # type: ignore[method-assign]


# -- requests ----------------------------------------------------------------------------------


def instrument_requests(session: Any = None) -> None:
    """Instrument one requests.Session, or every session (and `requests.get` etc.) when none is given."""
    import requests

    original = _PATCHED.get("requests", requests.Session.send)

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        prepare_outgoing(request.url or "", request.headers)  # type: ignore[arg-type] # str values only
        return original(self, request, **kwargs)

    if session is not None:
        session.send = types.MethodType(send, session)
        return
    if "requests" in _PATCHED:
        return
    _PATCHED["requests"] = original
    requests.Session.send = functools.wraps(original)(send)  # type: ignore[method-assign]


def uninstrument_requests() -> None:
    """Undo `instrument_requests()` (the global form)."""
    import requests

    if original := _PATCHED.pop("requests", None):
        requests.Session.send = original  # type: ignore[method-assign]
