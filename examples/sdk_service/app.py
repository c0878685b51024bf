"""Example: a FastAPI service of Dienst Toeslagen with LDV logging in three lines.

Run (with a collector on localhost:4318, e.g. `ldv serve`):

    LDV_PSEUDONYM_KEY=a-key-of-at-least-16-bytes .venv/bin/uvicorn examples.sdk_service.app:app --port 8001

then `curl localhost:8001/huurtoeslag/123456782`. The record of the processing goes to the
spool (.ldv/spool.sqlite3 and its .segments/ log) and from there to the collector; the call to the Belastingdienst
carries traceparent/tracestate, and the record names the Belastingdienst's read API.
"""

from __future__ import annotations

import os

import httpx
from fastapi import FastAPI, HTTPException

import ldv_sdk
from ldv_sdk import LdvMiddleware
from ldv_sdk.clients import instrument_httpx

BELASTINGDIENST = os.environ.get("BELASTINGDIENST_URL", "http://127.0.0.1:8002/")

# 1. Configure once (everything can also come from LDV_* environment variables).
ldv_sdk.configure(
    organisation="dienst-toeslagen",
    service_name="huurtoeslag-api",
    register_base_uri="https://register.toeslagen.example/verwerkingsactiviteiten",
    read_apis={BELASTINGDIENST: "https://logboek.belastingdienst.example/lezenapi/v1"},
)
app = FastAPI(title="Huurtoeslag (voorbeeld)")
# 2. Continue the caller's trace (and record who called) on every request.
app.add_middleware(LdvMiddleware)
instrument_httpx()  # and send trace context on every outgoing call made during a processing


class OngeldigBsn(ValueError):
    """Bad user input: handled, so the record's status stays Unset, not Error."""


# 3. Declare the processing: activity, and which argument holds the data subject.
@app.get("/huurtoeslag/{bsn}")
@ldv_sdk.verwerking("huurtoeslag-berekenen", "huurtoeslag berekenen", subject="bsn", expected=(HTTPException,))
async def huurtoeslag(bsn: str) -> dict[str, int]:
    if len(bsn) != 9 or not bsn.isdigit():
        raise HTTPException(status_code=400, detail="BSN moet 9 cijfers zijn")
    try:
        async with httpx.AsyncClient(base_url=BELASTINGDIENST, timeout=5) as client:
            inkomen = (await client.get(f"inkomen/{bsn}")).json()["inkomen"]
    except httpx.HTTPError:
        inkomen = 30_000  # the example runs without a Belastingdienst too
    return {"huurtoeslag": max(0, (40_000 - inkomen) // 10)}
