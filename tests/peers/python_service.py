"""A Python service in the middle of a cross-language trace: our SDK, FastAPI, httpx.

`python -m tests.peers.python_service PORT` serves POST /verwerk {"bsns": [...]}: a processing
(activity LDV_ACTIVITY) that continues the caller's W3C trace (LdvMiddleware), with one child
record per subject, and that posts the same subjects to NEXT_URL (if set) inside it, with the
SDK's traceparent and `ldv` tracestate (instrument_httpx). The SDK is configured from LDV_*
variables (organisation, service name, key, endpoint, sender token, spool path).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

import ldv_sdk
from ldv_sdk.clients import instrument_httpx


def create_app() -> Any:
    ldv_sdk.configure()
    app = FastAPI()
    client = httpx.Client(timeout=30)
    instrument_httpx(client)
    activity = os.environ["LDV_ACTIVITY"]
    next_url = os.environ.get("NEXT_URL", "")

    @app.post("/verwerk")
    def verwerk(body: dict[str, list[str]]) -> dict[str, str]:
        with ldv_sdk.verwerking(activity, "huurtoeslag berekenen") as v:
            v.add_subjects(body["bsns"])
            if next_url:
                client.post(next_url, json=body).raise_for_status()
            v.mark_ok()
            return {"traceId": v.trace_id, "spanId": v.span_id}

    @app.post("/flush")
    def flush() -> dict[str, bool]:
        return {"flushed": ldv_sdk.flush(timeout=30)}

    return ldv_sdk.LdvMiddleware(app)


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
