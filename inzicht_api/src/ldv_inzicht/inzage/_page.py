"""The citizen web page "Wie heeft mijn gegevens gebruikt?" (plain HTML and CSS, in Dutch).

    GET  /inzage/            the overview (`overview.py`): a summary per life event, a picture
                             of who asked whom for which data, details on demand (<details>,
                             no script), with a GET filter form (vanaf, tot, organisatie)
    GET  /inzage/overzicht.pdf  the same overview as a PDF download (same login; same filters)
    GET  /inzage/static/inzage.css
    GET  /inzage/inloggen    DEMO ONLY (LDV_AUTH_DEMO_LOGIN): a form that mints a citizen token
    POST /inzage/inloggen    DEMO ONLY: mints the token into an HttpOnly cookie
    POST /inzage/uitloggen   drops that cookie

Authentication: a bearer token in the Authorization header (e.g. set by a gateway), or the
`ldv_token` cookie (HttpOnly, SameSite=Lax; set by the demo login, or by a deployment's own
login). With demo login on, `?token=` is accepted once: it is moved into the cookie and the
browser is redirected to the URL without it, so the token stays out of history and logs.
Without a valid token the page answers 401 (HTML, with `WWW-Authenticate`); a valid token of
another role gets 403. Any other error under `PAGE_PREFIX` (an unknown path, an unreachable
store, an unexpected fault) is also an HTML page in Dutch, made by `error_page` from the
problem the app's error handlers produced: same status and headers, and for a server error the
problem's `instance` as the reference a citizen can quote.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ldv_inzicht._auth import (
    REALM,
    TOKEN_COOKIE,
    AuthError,
    Principal,
    Role,
    TokenVerifier,
    bearer_token,
    get_verifier,
    mint_demo_token,
)
from ldv_inzicht._deps import app_context, get_auth_settings, get_inzage_service, get_register_source
from ldv_inzicht.inzage._api import MAX_ORGANISATION_LENGTH, period_of
from ldv_inzicht.inzage._overview import Overview, build_overview
from ldv_inzicht.inzage._pdf import PdfUnavailable, render_pdf
from ldv_inzicht.inzage._pdf import filename as pdf_filename
from ldv_inzicht.inzage._service import InzageResult, InzageService
from ldv_inzicht.settings import AuthSettings
from ldv_logboek.register import Register

PAGE_PREFIX = "/inzage"
log = logging.getLogger(__name__)
_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(_HERE / "templates"))
_MAX_FORM_BYTES = 1024
_FILTERS = ("vanaf", "tot", "organisatie")


def _context(request: Request, auth: AuthSettings, **extra: Any) -> dict[str, Any]:
    return {"request": request, "base_path": PAGE_PREFIX, "demo_login": auth.demo_login, "logged_in": False, **extra}


def _notice(request: Request, auth: AuthSettings, status: int, heading: str, message: str) -> HTMLResponse:
    headers = {"WWW-Authenticate": f'Bearer realm="{REALM}"'} if status == 401 else None
    return templates.TemplateResponse(
        request, "melding.html", _context(request, auth, heading=heading, message=message), status_code=status, headers=headers
    )


# Any other 4xx (405 ...) gets the text of 400.
_ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: ("Dit verzoek klopt niet", "De pagina kon uw verzoek niet verwerken. Ga terug en probeer het opnieuw."),
    404: ("Pagina niet gevonden", "Deze pagina bestaat niet."),
    503: (
        "Tijdelijk niet beschikbaar",
        "Uw gegevens kunnen op dit moment niet worden opgehaald. Probeer het later opnieuw.",
    ),
}
_SERVER_ERROR = (
    "Er is iets misgegaan",
    "Door een fout bij ons kunnen wij uw gegevens nu niet tonen. De fout is vastgelegd. Probeer het later opnieuw.",
)
# When even the template cannot be rendered: a page without any template machinery.
_BARE_ERROR_PAGE = (
    '<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Er is iets misgegaan</title></head>'
    "<body><main><h1>Er is iets misgegaan</h1><p>Probeer het later opnieuw.</p></main></body></html>"
)
# Not copied from the problem onto the page: they describe the problem+json body.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


def is_page_path(path: str) -> bool:
    """Whether `path` is under the page's prefix (callers exclude the inzage API's own base path)."""
    return path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")


def error_page(request: Request, problem: Response) -> Response:
    """The HTML page in Dutch for the problem+json response `problem` of a page request.

    Keeps the problem's status and headers (`Retry-After`, `Allow`, `API-Version`); for a
    server error it shows the problem's `instance`, which is in the server log.
    """
    status = problem.status_code
    heading, message = _ERROR_TEXTS.get(status) or (_SERVER_ERROR if status >= 500 else _ERROR_TEXTS[400])
    reference = None
    if status >= 500 and status != 503:
        with contextlib.suppress(ValueError, AttributeError):
            reference = json.loads(bytes(problem.body)).get("instance")
    headers = {k: v for k, v in problem.headers.items() if k.lower() not in _BODY_HEADERS}
    try:
        auth = app_context(request.app).auth_settings
        context = _context(request, auth, heading=heading, message=message, reference=reference)
        return templates.TemplateResponse(request, "melding.html", context, status_code=status, headers=headers)
    except Exception:  # noqa: BLE001 - an error page must not fail in its turn
        log.exception("the error page could not be rendered")
        return HTMLResponse(_BARE_ERROR_PAGE, status_code=status, headers=headers)


def _parse_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# Module level: with postponed annotations FastAPI resolves these names in the module's globals.
Auth = Annotated[AuthSettings, Depends(get_auth_settings)]
Verifier = Annotated[TokenVerifier, Depends(get_verifier)]
Service = Annotated[InzageService, Depends(get_inzage_service)]
# Loaded after the login check: a caller without a token gets 401, whatever the store's state.
RegisterSource = Annotated[Callable[[], Register], Depends(get_register_source)]


def create_page_router() -> APIRouter:
    """The page's routes (absolute paths under `PAGE_PREFIX`), on the app's `AppContext` and token verifier."""
    router = APIRouter(prefix=PAGE_PREFIX, include_in_schema=False)

    @router.get("/static/inzage.css")
    def stylesheet() -> FileResponse:
        return FileResponse(_HERE / "static" / "inzage.css", media_type="text/css")

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse)
    async def page(
        request: Request, auth: Auth, verifier: Verifier, service: Service, register_source: RegisterSource
    ) -> Response:
        principal = _authenticate(request, auth, verifier)
        if isinstance(principal, Response):
            return principal
        query_token = request.query_params.get("token") if auth.demo_login else None
        if query_token is not None and principal.token.get_secret_value() == query_token:
            # Demo: move the token from the URL into the cookie, then drop it from the URL.
            redirect = RedirectResponse(f"{PAGE_PREFIX}/" + (f"?{_query(request)}" if _query(request) else ""), status_code=303)
            _set_cookie(redirect, query_token, auth)
            return redirect
        register = register_source()
        overview, filters, error = await _overview(request, principal, service, register)
        choices = sorted(register.organisations.values(), key=lambda o: o.name)
        first_with_flows = next((e.number for e in overview.events if e.picture), None)
        return templates.TemplateResponse(
            request,
            "inzage.html",
            _context(
                request, auth, logged_in=True, overview=overview, filters=filters, organisation_choices=choices,
                error=error, query=_query(request), first_with_flows=first_with_flows,
            ),
            status_code=400 if error else 200,
        )

    @router.get("/overzicht.pdf")
    async def overview_pdf(
        request: Request, auth: Auth, verifier: Verifier, service: Service, register_source: RegisterSource
    ) -> Response:
        """The whole overview as a PDF download, behind the same login as the page."""
        principal = _authenticate(request, auth, verifier)
        if isinstance(principal, Response):
            return principal
        overview, filters, error = await _overview(request, principal, service, register_source())
        if error:
            return _notice(request, auth, 400, "Dit verzoek klopt niet", error)
        try:
            pdf = await asyncio.to_thread(render_pdf, templates.env, overview, filters)
        except PdfUnavailable:
            log.exception("the PDF overview cannot be made: WeasyPrint or Pango is missing")
            return _notice(
                request, auth, 503, "PDF maken lukt nu niet",
                "Het overzicht kan nu niet als PDF worden gemaakt. U kunt de pagina zelf wel bekijken en afdrukken.",
            )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{pdf_filename()}"'},
        )

    @router.get("/inloggen", response_class=HTMLResponse)
    def login_form(request: Request, auth: Auth) -> Response:
        if not auth.demo_login:
            return _notice(request, auth, 404, "Pagina niet gevonden", "Inloggen gebeurt via uw eigen inlogdienst.")
        return templates.TemplateResponse(request, "inloggen.html", _context(request, auth, error=None))

    @router.post("/inloggen", response_class=HTMLResponse)
    async def login(request: Request, auth: Auth) -> Response:
        if not auth.demo_login:
            return _notice(request, auth, 404, "Pagina niet gevonden", "Inloggen gebeurt via uw eigen inlogdienst.")
        body = await request.body()
        form = parse_qs(body[:_MAX_FORM_BYTES].decode("utf-8", "replace"))
        bsn = (form.get("bsn") or [""])[0].strip()
        try:
            token = mint_demo_token(auth, bsn)
        except ValueError:
            return templates.TemplateResponse(
                request,
                "inloggen.html",
                _context(request, auth, error="Dit is geen geldig BSN: vul negen cijfers in die de elfproef doorstaan."),
                status_code=400,
            )
        response = RedirectResponse(f"{PAGE_PREFIX}/", status_code=303)
        _set_cookie(response, token, auth)
        return response

    @router.post("/uitloggen")
    def logout() -> Response:
        response = RedirectResponse(f"{PAGE_PREFIX}/", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path=PAGE_PREFIX)
        return response

    return router


def _set_cookie(response: Response, token: str, auth: AuthSettings) -> None:
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=auth.demo_token_lifetime_seconds,
        path=PAGE_PREFIX,
        httponly=True,
        secure=auth.cookie_secure,
        samesite="lax",
    )


def _authenticate(request: Request, auth: AuthSettings, verifier: TokenVerifier) -> Principal | Response:
    """The citizen behind the request's token (header, cookie or demo `?token=`), or the
    page that says why not: 401 without a valid token, 403 for another role."""
    token = bearer_token(request, allow_cookie=True, allow_query=auth.demo_login)
    if token is None:
        return _notice(request, auth, 401, "U bent niet ingelogd", "Log in om te zien wie uw gegevens heeft gebruikt.")
    try:
        principal = verifier.verify(token)
    except AuthError:
        response = _notice(request, auth, 401, "Uw inlog is verlopen of ongeldig", "Log opnieuw in om uw gegevens te bekijken.")
        response.delete_cookie(TOKEN_COOKIE, path=PAGE_PREFIX)
        return response
    if not principal.has(Role.CITIZEN):
        return _notice(request, auth, 403, "Geen toegang", "Deze pagina is alleen voor burgers die hun eigen gegevens bekijken.")
    return principal


def _query(request: Request) -> str:
    """The request's filters as a query string (never the demo `token`)."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k in _FILTERS])


async def _overview(
    request: Request, principal: Principal, service: InzageService, register: Register
) -> tuple[Overview, dict[str, str | bool], str | None]:
    """The citizen's overview for the request's filters, the filters, and an error for a bad period."""
    params = request.query_params
    organisatie = (params.get("organisatie") or "")[:MAX_ORGANISATION_LENGTH] or None
    filters: dict[str, str | bool] = {
        "vanaf": params.get("vanaf") or "", "tot": params.get("tot") or "", "organisatie": organisatie or ""
    }
    filters["any"] = any(filters.values())
    try:
        period = period_of(_parse_day(params.get("vanaf")), _parse_day(params.get("tot")))
    except ValueError:
        error = "De periode klopt niet: gebruik geldige datums en zorg dat 'vanaf' niet na 'tot en met' ligt."
        return build_overview(InzageResult(), register), filters, error
    assert principal.bsn is not None
    result = await service.inzage(
        principal.bsn.get_secret_value(), principal.token.get_secret_value(), period, organisatie
    )
    return build_overview(result, register), filters, None
