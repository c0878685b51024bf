"""Errors as `application/problem+json` (RFC 9457, NL GOV API Design Rules), for every API here.

Any router in this package reports a client or server problem by raising `ProblemError`
(or returning `problem_response`); `problem_handlers` make FastAPI's own errors —
malformed JSON, failed validation, unknown paths, wrong methods — and an unreachable store
come out in the same shape, so a client never sees FastAPI's default `{"detail": ...}` or a
422. Routes document their problems in OpenAPI with `problem_responses(400, 503)`.

The body follows the NL GOV problem+json profile: `type`, `title`, `status`, `detail`,
`instance` and, for bad input, `invalidParams: [{name, reason}]`. `instance` is a fresh
`urn:uuid:` per occurrence; it is logged with the problem so an operator can find it, while
the request's values (which may hold a citizen's id) are never logged or echoed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ldv_inzicht.errors import InzichtError
from ldv_logboek import contains_bsn
from ldv_logboek.storage import StorageFault, StorageUnavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
ABOUT_BLANK = "about:blank"

log = logging.getLogger(__name__)

# Where FastAPI's validation errors say a value came from; the parameter's own name follows.
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


class InvalidParam(BaseModel):
    """One request parameter that was wrong, and why (NL GOV `invalidParams` item)."""

    name: str = Field(description="Name of the parameter or body field, e.g. `startTime` or `limit`.")
    reason: str = Field(description="Why the value was refused, in words a developer understands.")


class Problem(BaseModel):
    """A problem+json body (RFC 9457 with the NL GOV `invalidParams` extension)."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "type": ABOUT_BLANK,
        "title": "Bad Request",
        "status": 400,
        "detail": "The request has 1 invalid parameter.",
        "instance": "urn:uuid:3d0ca315-aff9-4fc2-be61-3b76b9a2d798",
        "invalidParams": [{"name": "startTime", "reason": "Input should be a valid integer"}],
    }})

    type: str = Field(ABOUT_BLANK, description="URI of the problem type; `about:blank` means: see `status`.")
    title: str = Field(description="Short summary of the problem type (for `about:blank` the HTTP status phrase).")
    status: int = Field(ge=400, le=599, description="The HTTP status code of this response.")
    detail: str | None = Field(None, description="What went wrong in this occurrence.")
    instance: str | None = Field(None, description="URI of this occurrence (`urn:uuid:...`), as logged by the server.")
    invalidParams: list[InvalidParam] | None = Field(  # noqa: N815 - the NL GOV wire name
        None, description="The parameters that were refused (bad requests only)."
    )


class ProblemError(InzichtError):
    """Raise from a route to answer with a problem+json response.

    `invalid_params` lists the refused parameters (for 400); `headers` are added to the
    response (e.g. `Retry-After`, `WWW-Authenticate`); `instance`, an incident id the raiser
    has logged already (else a fresh one is made and logged). The type is always `about:blank`.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        invalid_params: Sequence[InvalidParam] = (),
        headers: Mapping[str, str] | None = None,
        instance: str | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.invalid_params = list(invalid_params)
        self.headers = dict(headers or {})
        self.instance = instance

    @classmethod
    def bad_request(cls, detail: str, *invalid: tuple[str, str]) -> ProblemError:
        """A 400 naming each refused parameter as a `(name, reason)` pair."""
        return cls(400, detail, invalid_params=[InvalidParam(name=n, reason=r) for n, r in invalid])


def problem_response(error: ProblemError) -> JSONResponse:
    """The problem+json response for `error`, logged (without request values) unless it has an `instance`.

    An `instance` given is an incident id the raiser has logged already, with what an operator
    needs; it is not logged again (one log line per incident).
    """
    instance = error.instance or f"urn:uuid:{uuid.uuid4()}"
    problem = Problem(title=_phrase(error.status), status=error.status, detail=error.detail, instance=instance,
                      invalidParams=error.invalid_params or None)
    if error.instance is None:
        level = logging.WARNING if error.status >= 500 else logging.INFO
        log.log(level, "problem %s: %s %s (%s)", instance, error.status, problem.title,
                ", ".join(_loggable(p.name) for p in error.invalid_params) or "-")
    return JSONResponse(
        problem.model_dump(exclude_none=True), error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for a route that may answer with these problem statuses."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {"model": Problem, "description": _RESPONSE_DESCRIPTIONS.get(status, _phrase(status))}
        if status == 503:
            response["headers"] = {"Retry-After": {
                "description": "Seconds to wait before trying again.", "schema": {"type": "integer"},
            }}
        elif status == 401:
            response["headers"] = {"WWW-Authenticate": {
                "description": 'RFC 6750 challenge, e.g. `Bearer realm="ldv-inzicht", error="invalid_token"`.',
                "schema": {"type": "string"},
            }}
        responses[status] = response
    return responses


_RESPONSE_DESCRIPTIONS = {
    400: "Bad Request: the body or a query parameter was refused; `invalidParams` names each one.",
    401: "Unauthorized: no bearer token, or one that is expired, forged or not for this service.",
    403: "Forbidden: the token is valid but its role does not give access (the same text for every resource).",
    404: "Not Found",
    503: "Service Unavailable: the store cannot be reached now; retry after `Retry-After` seconds.",
}


def invalid_params_from_validation(errors: Sequence[Mapping[str, Any]]) -> list[InvalidParam]:
    """Turn pydantic/FastAPI validation errors into `invalidParams`, without echoing input values."""
    params: list[InvalidParam] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        kind = error.get("type", "")
        if loc and loc[0] in _LOCATIONS:
            where, path = loc[0], loc[1:]
        else:
            where, path = "body", loc
        if kind == "json_invalid":
            # FastAPI puts the character offset in loc; the name is the body itself.
            reason = f"the body is not valid JSON: {error.get('ctx', {}).get('error', 'decode error')}"
            params.append(InvalidParam(name="body", reason=reason))
            continue
        name = ".".join(path) if path else where
        if kind == "missing" and not path:
            reason = "a JSON object is required as request body" if where == "body" else "required"
        elif kind == "extra_forbidden":
            reason = "not a known field of this request"
        elif kind == "value_error":
            # Our own validators raise ValueError; show their sentence, not pydantic's prefix.
            reason = str(error.get("ctx", {}).get("error", error.get("msg", "invalid value")))
        else:
            reason = str(error.get("msg", "invalid value"))
        params.append(InvalidParam(name=name, reason=reason))
    return params


Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]  # what `app.exception_handlers` holds


def problem_handlers(*, retry_after_seconds: int) -> dict[Any, Handler]:
    """The exception handlers (`FastAPI(exception_handlers=...)`) that make every error a problem+json response."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        params = invalid_params_from_validation(exc.errors())
        noun = "parameter" if len(params) == 1 else "parameters"
        return problem_response(ProblemError(400, f"The request has {len(params)} invalid {noun}.", invalid_params=params))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
        if exc.status_code == 404 and detail == _phrase(404):
            detail = f"There is no resource at {request.url.path}."
        elif exc.status_code == 405 and detail == _phrase(405):
            detail = f"{request.method} is not allowed on {request.url.path}."
        return problem_response(ProblemError(exc.status_code, detail, headers=exc.headers))

    async def on_storage(request: Request, exc: Exception) -> JSONResponse:
        # The driver's message may name hosts or paths: log it, do not send it.
        log.warning("store unavailable while serving %s %s: %s", request.method, _loggable(request.url.path), _loggable(str(exc)))
        return problem_response(ProblemError(
            503, "The Logboek's store cannot be reached at the moment; try again later.",
            headers={"Retry-After": str(retry_after_seconds)},
        ))

    async def on_storage_fault(request: Request, exc: Exception) -> JSONResponse:
        # A bug or a schema mismatch, not an outage: 500, not retried. The driver's message is
        # logged with the incident id that the client gets as `instance`; it is not sent.
        assert isinstance(exc, StorageFault)
        log.error("storage fault, incident %s, serving %s %s: %s", exc.incident, request.method,
                  _loggable(request.url.path), _loggable(str(exc)))
        return problem_response(ProblemError(
            500, "An internal error occurred in the Logboek's store; it has been logged.", instance=exc.incident
        ))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s %s", request.method, _loggable(request.url.path))
        return problem_response(ProblemError(500, "An unexpected error occurred; it has been logged."))

    return {
        ProblemError: on_problem,
        RequestValidationError: on_validation,
        StarletteHTTPException: on_http,
        StorageUnavailable: on_storage,
        StorageFault: on_storage_fault,
        Exception: on_unexpected,
    }


def _loggable(text: str) -> str:
    """`text` for a log line, unless it holds something that looks like a clear BSN."""
    return "<redacted: looks like a BSN>" if contains_bsn(text) else text


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
