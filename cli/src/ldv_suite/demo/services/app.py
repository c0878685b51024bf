"""What every demo service shares besides its own processings: error answers and demo control.

The organisation modules build on `service_app()` and add, themselves, the one line every
LDV service needs: `app.add_middleware(ldv_sdk.LdvMiddleware)`.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import ldv_sdk
from ldv_suite.demo.services.peers import Peers, PeerUnavailable

FLUSH_TIMEOUT_SECONDS = 20.0


def service_app(title: str, organisation: str, peers: Peers) -> FastAPI:
    """A FastAPI app for one organisation's service, with the demo's health and flush routes."""
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

    return app
