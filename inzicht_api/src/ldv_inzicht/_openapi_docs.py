"""One OpenAPI 3 document per API, served at `<base path>/openapi.json`.

FastAPI generates one document for a whole app; this app serves several APIs, each with its
own base path and version, so each gets a document of its own routes only, with paths
relative to its base path, as in the published Logius spec: server `.../lezenapi/v1`, path
`/processing-activities`. Generation also fixes what FastAPI describes differently from
what the app does: no 422 (bad input is a 400 problem), problems as
`application/problem+json`, and the `API-Version` header on every response.

Authentication is a FastAPI dependency (`ldv_inzicht._auth`), which FastAPI cannot describe as
a security scheme; so each route that takes a token says so itself, with
`openapi_extra=bearer_security()` (token required) or `bearer_security(optional=True)` (a
token widens what is shown), and the document then declares the `bearerAuth` scheme. A route
without `security` needs no token. `tests/inzicht_api/test_openapi_security.py` calls every
operation of every document with no token and with a bad one to check that each states this
truthfully.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.openapi.utils import get_openapi

from ldv_inzicht._problems import PROBLEM_MEDIA_TYPE
from ldv_inzicht._versioning import API_VERSION_HEADER, ApiInfo

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
BEARER_SCHEME_NAME = "bearerAuth"
BEARER_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT from a trusted issuer (see `ldv_inzicht._auth`), with role `supervisor`, "
    "`organisation` (claim `organisation`) or `citizen` (claim `bsn`).",
}


def bearer_security(*, optional: bool = False) -> dict[str, Any]:
    """`openapi_extra` for a route that needs a bearer token (or, `optional`, accepts one).

    An optional token is the OpenAPI alternative "no requirement" (`{}`) or the bearer token.
    """
    requirement: list[dict[str, list[str]]] = [{BEARER_SCHEME_NAME: []}]
    return {"security": ([{}] if optional else []) + requirement}


def build_openapi(router: APIRouter, info: ApiInfo, server_url: str) -> dict[str, Any]:
    """The OpenAPI document of the API `info`, whose routes (relative to its base path) are `router`'s."""
    doc = get_openapi(
        title=info.title,
        version=info.version,
        description=info.description or None,
        routes=router.routes,
        tags=list(info.tags) or None,
        servers=[{"url": server_url}],
    )
    # The `API-Version` header object, as in the NL GOV ADR components.
    version_header = {"description": "De volledige versie van de API (major.minor.patch).",
                      "schema": {"type": "string", "example": info.version}}
    for item in doc["paths"].values():
        for operation in item.values():
            responses: dict[str, Any] = operation.get("responses", {})
            responses.pop("422", None)
            for code, response in responses.items():
                content = response.get("content", {})
                if code[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
                response.setdefault("headers", {})[API_VERSION_HEADER] = version_header
    if f'"{BEARER_SCHEME_NAME}"' in json.dumps(doc["paths"]):
        # Routes that name the scheme with `openapi_extra=bearer_security()`.
        doc.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER_SCHEME_NAME] = BEARER_SCHEME
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schema = schemas.pop(name, None)
        # Keep it only if something other than the dropped 422s still refers to it.
        if schema is not None and f'"#/components/schemas/{name}"' in json.dumps(doc):
            schemas[name] = schema
    return doc
