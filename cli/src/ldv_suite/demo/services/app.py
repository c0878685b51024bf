"""What every demo service shares besides its own processings: error answers, demo control, and
how a route about one citizen is logged (`verzoek_verwerking`, `beslist`).

`service_app()` adds the one line every LDV service needs: `app.add_middleware(ldv_sdk.LdvMiddleware)`.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import ldv_sdk
from ldv_suite.demo.services.peers import Peers, PeerUnavailable

FLUSH_TIMEOUT_SECONDS = 20.0


def verzoek_verwerking(activity: str, action: str) -> ldv_sdk.Declaration:
    """`ldv_sdk.verwerking` for a route about one citizen, whose BSN is in the body (`verzoek`).

    `activity` becomes <REGISTER_BASE_URI>/<activity>, the id in the register; the citizen is the
    data subject (the SDK pseudonymises it); an HTTPException (an unknown person, say) is handled
    input, not a fault.
    """
    return ldv_sdk.verwerking(activity, action, subject=lambda args: args["verzoek"].bsn, expected=(HTTPException,))


def beslist() -> None:
    """Mark the current processing as completed: status Ok instead of the default Unset."""
    if (v := ldv_sdk.current()) is not None:
        v.mark_ok()


def service_app(title: str, organisation: str, peers: Peers, router: APIRouter) -> FastAPI:
    """A FastAPI app for one organisation's service: its `router`, the demo's health and flush routes."""
    app = FastAPI(title=f"{title} (LDV-demo)", lifespan=peers.lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(PeerUnavailable)
    async def peer_unavailable(request: Request, exc: PeerUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes the input; a request may hold a BSN, so name the fields only.
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "organisation": organisation}

    @app.post("/demo/flush", include_in_schema=False)
    async def flush() -> dict[str, bool]:
        """Demo control: wait until the SDK delivered every spooled record to the collector."""
        delivered = await asyncio.to_thread(ldv_sdk.flush, FLUSH_TIMEOUT_SECONDS)
        return {"delivered": delivered}

    app.add_middleware(ldv_sdk.LdvMiddleware)  # continue the caller's trace and record who called
    app.include_router(router)
    return app
