"""The app factory: one FastAPI app serving every API of the Inzicht component on one store.

Each API is a router plus an `ApiInfo` (base path, title, version) added with `include_api`:
that mounts the router under its base path, serves its own OpenAPI document at
`<base path>/openapi.json` and makes its responses carry its `API-Version`. Errors of every
API are problem+json (see `ldv_inzicht._problems`); errors of the citizen page are HTML pages in
Dutch made from those problems (`ldv_inzicht.inzage._page.error_page`). Every response, errors
included, carries the security headers of `ldv_inzicht._security_headers` (`no-store`, CSP, ...).
"""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from ldv_inzicht._auth import TokenVerifier
from ldv_inzicht._deps import AppContext, app_context
from ldv_inzicht._lezen import LEZEN_API, create_lezen_router
from ldv_inzicht._log_receipts import ReceiptMaker
from ldv_inzicht._openapi_docs import build_openapi
from ldv_inzicht._overzicht import OVERZICHT_API, create_overzicht_router
from ldv_inzicht._problems import PROBLEM_MEDIA_TYPE, Handler, problem_handlers
from ldv_inzicht._register_api import REGISTER_API, create_register_router
from ldv_inzicht._security_headers import SECURITY_HEADERS, ResponseHeadersMiddleware
from ldv_inzicht._subject_keys import SubjectKeys
from ldv_inzicht._versioning import API_VERSION_HEADER, ApiInfo, ApiRegistry
from ldv_inzicht.inzage._api import INZAGE_API, create_inzage_router
from ldv_inzicht.inzage._page import create_page_router, error_page, is_page_path
from ldv_inzicht.inzage._service import InzageService
from ldv_inzicht.settings import ApiSettings, AuthSettings, InzageSettings
from ldv_logboek.storage import LogStore, RegisterStore


def create_app(
    store: LogStore,
    settings: ApiSettings | None = None,
    *,
    auth_settings: AuthSettings | None = None,
    inzage_settings: InzageSettings | None = None,
) -> FastAPI:
    """Build the app on `store` (already migrated) with `settings` (default: from the environment).

    `auth_settings` (`LDV_AUTH_*`) and `inzage_settings` (`LDV_INZAGE_*`) configure tokens and the
    citizen inzage; both default to the environment. The organisations served and their
    pseudonymisation keys are `settings.organisation_keys`, shared by the read API and the inzage.
    """
    settings = settings or ApiSettings()
    registry = ApiRegistry(default_version=_component_version())
    handlers = problem_handlers(retry_after_seconds=settings.retry_after_seconds)
    app = FastAPI(
        title="LDV Inzicht API",
        version=registry.default_version,
        # Each API has its own document at its base path; no app-wide mix of all of them.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        exception_handlers={key: _finished(handler, registry) for key, handler in handlers.items()},
    )
    app.add_middleware(ResponseHeadersMiddleware, version_for=registry.version_for)

    # Tokens, the register and the organisations' keys, shared by every API below.
    auth_settings = auth_settings or AuthSettings()
    app.state.token_verifier = TokenVerifier(auth_settings)  # read by ldv_inzicht._auth.get_verifier
    register_store = RegisterStore(store)
    keys = SubjectKeys(settings.organisation_keys)
    receipts = ReceiptMaker(store)
    inzage = InzageService(store, register_store.load, inzage_settings or InzageSettings(), keys, receipts=receipts)
    app.state.context = AppContext(store, settings, auth_settings, registry, register_store, keys, receipts, inzage)
    include_api(app, create_lezen_router(settings), LEZEN_API)
    include_api(app, create_register_router(), REGISTER_API)
    include_api(app, create_inzage_router(), INZAGE_API)
    include_api(app, create_overzicht_router(), OVERZICHT_API)
    app.include_router(create_page_router())
    # Further APIs are added the same way: include_api(app, router, ApiInfo(...)).
    return app


def include_api(app: FastAPI, router: APIRouter, info: ApiInfo) -> None:
    """Serve `router` under `info.prefix`, with its `API-Version` header and its OpenAPI document at
    `<prefix>/openapi.json` (built once, on first request).

    Router paths are relative to the base path (`/processing-activities`, not
    `/lezenapi/v1/processing-activities`).
    """
    context = app_context(app)
    context.apis.add(info)
    app.include_router(router, prefix=info.prefix)
    server_url = (context.settings.base_url() or "") + info.prefix

    @functools.cache
    def openapi_document() -> dict[str, Any]:
        return build_openapi(router, info, server_url)

    app.add_api_route(
        f"{info.prefix}/openapi.json",
        openapi_document,
        methods=["GET"],
        include_in_schema=False,
        name=f"openapi:{info.prefix}",
    )


def _finished(handler: Handler, registry: ApiRegistry) -> Handler:
    """`handler`, answering a page request with an HTML page, and every error with the response headers.

    A problem+json answer to a request of the citizen page (under `/inzage`, outside the inzage
    API's base path) becomes `error_page`'s Dutch HTML page with the same status and headers.
    The security headers and `API-Version` are set here as well because the 500 handler runs in
    Starlette's `ServerErrorMiddleware`, outside `ResponseHeadersMiddleware`.
    """
    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        path = request.url.path
        is_problem = response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE)
        if is_problem and is_page_path(path) and registry.api_for(path) is None:
            response = error_page(request, response)
        response.headers[API_VERSION_HEADER] = registry.version_for(path)
        response.headers.update(SECURITY_HEADERS)
        return response

    return handle


def _component_version() -> str:
    """Version of the ldv-inzicht-api distribution: the `API-Version` outside any API's base path."""
    try:
        return version("ldv-inzicht-api")
    except PackageNotFoundError:
        return "0.0.0"
