"""The read ("lezen") API of the LDV standard: `POST /lezenapi/v1/processing-activities`.

Implements the Logius "LDV lezen API" 1.1.0 (specs/ldv-lezen-openapi.json in this repository) with two
additions the published spec leaves open: paging (`limit` and `cursor` query parameters, a
`Link: <...>; rel="next"` header and a top-level `nextCursor`) and `GET /health`.
Every record is returned once, however often it was delivered. Cursors are sealed
(`ldv_inzicht._cursors`): one is accepted only for the search and the caller it was handed to.

The standard: "a client must be authenticated and may only read what it is entitled to".
`POST /processing-activities` needs a bearer token (`ldv_inzicht._auth`, 401 without a good
one) and reads only what the caller's role allows (`ldv_inzicht._read_access`): a supervisor
everything, an organisation its own records, a citizen their own non-confidential records.
`/health` and `/openapi.json` stay open.
"""

# No `from __future__ import annotations`: the route signatures use query bounds from the
# factory's `settings`, which FastAPI must evaluate at definition time.

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, params
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ldv_inzicht._auth import Principal, Role, TokenCheck, TokenFirstRoute
from ldv_inzicht._cursors import CursorRefused, CursorSealer, binding
from ldv_inzicht._deps import get_receipts, get_register_source, get_store, get_subject_keys
from ldv_inzicht._log_receipts import ReceiptMaker
from ldv_inzicht._openapi_docs import bearer_security
from ldv_inzicht._problems import ProblemError, problem_responses
from ldv_inzicht._read_access import ReadRestriction, read_restriction
from ldv_inzicht._subject_keys import SubjectKeys
from ldv_inzicht._versioning import ApiInfo, CamelModel
from ldv_inzicht.settings import ApiSettings
from ldv_logboek import LogRecord, is_uri, parse_trace_id, trace_id_as_uuid
from ldv_logboek import attributes as attr
from ldv_logboek.register import Register
from ldv_logboek.storage import MAX_PAGE_SIZE, MAX_TIME_MS, Cursor, LogStore, RecordQuery

LEZEN_API = ApiInfo(
    prefix="/lezenapi/v1",
    title="LDV lezen API",
    # The version of the Logius spec this implements; paging and /health are compatible additions.
    version="1.1.0",
    description=(
        "API voor het lezen van Logboek dataverwerkingen (Logius 'LDV lezen API' 1.1.0), "
        "with paging: `limit` and `cursor` query parameters, a `Link: <...>; rel=\"next\"` "
        "header and `nextCursor` in the body while more records follow. "
        "Needs a bearer token (JWT) with role `supervisor` (every record), `organisation` "
        "(records of the token's organisation) or `citizen` (records about the citizen in the "
        "token, never of confidential activities); what a caller may not read is not in the answer."
    ),
    tags=({"name": "ProcessingActivities", "description": "Alle API operaties die bij processingActivities horen."},),
)

_MAX_CURSOR_LENGTH = 200

_ATTRIBUTE_PROPERTIES: dict[str, Any] = {
    attr.PROCESSING_ACTIVITY_ID: {"type": "string", "format": "uri",
                                  "description": "Verwijzing naar de Verwerkingsactiviteit in een Register"},
    attr.DATA_SUBJECT_ID: {"type": "string", "description": "Unieke, versleutelde identificerende code van de Betrokkene"},
    attr.DATA_SUBJECT_ID_TYPE: {"type": "string", "description": "Type van de identificerende code, zoals BSN"},
    attr.FOREIGN_OPERATION_PROCESSOR: {"type": "string", "format": "uri", "description": "Link naar externe Applicatie"},
    attr.EXTERNAL_READ_API_ID: {"type": "string", "format": "uri",
                                "description": "URL van de lees-API van de aangeroepen partij"},
}


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 5 and 5.0 are integers; "5", true and 5.5 are not (no coercion)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer (milliseconds since epoch)")
    return value


EpochMillis = Annotated[int, Field(ge=0, le=MAX_TIME_MS), BeforeValidator(_json_integer)]

_SELECTORS = ("traceId", attr.PROCESSING_ACTIVITY_ID, attr.DATA_SUBJECT_ID)  # the search fields that select records


def _search_schema(schema: dict[str, Any]) -> None:
    """The request schema as the API really checks it: the standard's "at least one search
    field", and no field may be null (an absent field is left out, not sent as null)."""
    for prop in schema.get("properties", {}).values():
        options = prop.pop("anyOf", None)
        if options:
            prop.update(next(o for o in options if o.get("type") != "null"))
        if prop.get("default", "") is None:
            del prop["default"]
    schema["anyOf"] = [{"required": [name]} for name in _SELECTORS]


# Both notations the read API accepts (ldv_logboek._ids.parse_trace_id), for the OpenAPI document.
TRACE_ID_PATTERN = r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"


class ProcessingActivityRequest(BaseModel):
    """Search fields: at least one of `traceId`, `dpl.core.processing_activity_id`,
    `dpl.core.data_subject_id` (for everyone, as the standard says; a citizen's own BSN is a
    selector); `startTime`/`endTime` narrow the search to actions that started in that window
    (ms since epoch, inclusive). Other fields are refused. A citizen's search is restricted to
    their own records whatever it names."""

    # Only the wire names: `trace_id` or `data_subject_id` are unknown fields, not aliases.
    model_config = ConfigDict(
        extra="forbid",
        field_title_generator=lambda name, info: info.alias or name,
        json_schema_extra=_search_schema,
    )

    trace_id: str | None = Field(
        None, alias="traceId",
        description="Trace id in UUID notation (8-4-4-4-12) or as 32 hex digits.",
        pattern=TRACE_ID_PATTERN,  # what parse_trace_id accepts
        examples=["ef4e77b9-b03b-585f-b613-5fcf8d8555fb"],
    )
    processing_activity_id: str | None = Field(
        None, alias=attr.PROCESSING_ACTIVITY_ID, min_length=1, max_length=2048,
        description="URI of the processing activity in a register.",
        json_schema_extra={"format": "uri"},
    )
    data_subject_id: str | None = Field(
        None, alias=attr.DATA_SUBJECT_ID, min_length=1, max_length=512,
        description=(
            "Identifying code of the data subject: as stored (a pseudonym, this suite's or another "
            "implementation's), or a BSN, which the API pseudonymises with the keys of the organisations "
            "it serves (as the collector does); anything else is searched as given. A citizen may give "
            "only their own BSN or pseudonym; anything else finds no records."
        ),
    )
    start_time: EpochMillis | None = Field(
        None, alias="startTime",
        description="Only actions that started at or after this time (ms since epoch).",
        json_schema_extra={"format": "int64"},
    )
    end_time: EpochMillis | None = Field(
        None, alias="endTime",
        description="Only actions that started at or before this time (ms since epoch).",
        json_schema_extra={"format": "int64"},
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Defaults are not validated, so this sees only values that were sent.
        if value is None:
            raise ValueError("must not be null: leave the field out instead")
        return value

    @field_validator("processing_activity_id")
    @classmethod
    def _activity_is_uri(cls, value: str | None) -> str | None:
        if value is not None and not is_uri(value):
            raise ValueError("must be an absolute URI of a processing activity")
        return value


class _WireModel(CamelModel):
    model_config = ConfigDict(field_title_generator=lambda name, info: info.alias or name)


class Resource(_WireModel):
    """The system that performed the action (service name, version, organisation ...)."""

    attributes: dict[str, str] = Field(default_factory=dict)


# Named as in the Logius schema (the component name is part of the API): one record, not the
# register's activity (`ldv_logboek.register.ProcessingActivity`, named by `dpl.core.processing_activity_id`).
class ProcessingActivity(_WireModel):
    """Dataverwerking: one log record (one action)."""

    trace_id: str = Field(json_schema_extra={"format": "uuid"}, examples=["ef4e77b9-b03b-585f-b613-5fcf8d8555fb"])
    span_id: str = Field(pattern=r"^[0-9a-fA-F]{16}$", examples=["beb0291b5162d850"])
    status: Literal["Unset", "Ok", "Error"]
    name: str
    start_time: int = Field(description="Start of the action in ms since epoch.")
    end_time: int = Field(description="End of the action in ms since epoch.")
    parent_span_id: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{16}$", description="The calling action; absent for a root action."
    )
    resource: Resource
    attributes: dict[str, str] = Field(
        description="All attributes of the record: the `dpl.*` ones, `exception.*` for errors, and any other.",
        json_schema_extra={"properties": _ATTRIBUTE_PROPERTIES},
    )

    @classmethod
    def from_record(cls, record: LogRecord) -> "ProcessingActivity":
        return cls(
            trace_id=trace_id_as_uuid(record.trace_id.hex()),
            span_id=record.span_id.hex(),
            status=record.status.value,
            name=record.name,
            start_time=record.start_time_ns // 1_000_000,
            end_time=record.end_time_ns // 1_000_000,
            parent_span_id=record.parent_span_id.hex() or None,
            resource=Resource(attributes=record.resource_attributes),
            attributes=record.attributes,
        )


class ListProcessingActivities(_WireModel):
    """A page of records in (start time, trace id, span id) order."""

    processing_activities: list[ProcessingActivity]
    next_cursor: str | None = Field(
        None,
        description=(
            "Present when more records follow: repeat the same request with `?cursor=<nextCursor>` "
            "(the `Link` header holds that URL). Absent on the last page."
        ),
    )


READ_ROLES = (Role.SUPERVISOR, Role.ORGANISATION, Role.CITIZEN)


class Health(BaseModel):
    """The API answers and its store can be read."""

    status: Literal["ok"] = "ok"


def create_lezen_router(
    settings: ApiSettings,
    *,
    dependencies: Sequence[params.Depends] = (),
    responses: Mapping[int | str, dict[str, Any]] | None = None,
) -> APIRouter:
    """The read API's routes, relative to its base path `LEZEN_API.prefix`.

    `POST /processing-activities` always needs a bearer token with one of `READ_ROLES` and is
    restricted by role (see `ldv_inzicht._read_access`); it runs on the app's `AppContext`
    and token verifier (`ldv_inzicht._deps`; `create_app` sets both). `dependencies` run before every route (also `/health`) and
    `responses` document what they may answer, for extra checks a deployment adds.
    """
    router = APIRouter(
        dependencies=list(dependencies), responses=dict(responses or {}), route_class=TokenFirstRoute
    )
    if settings.cursor_key is not None:
        sealer = CursorSealer(settings.cursor_key.get_secret_value().encode())
    else:  # a random key: cursors are valid in this process only
        sealer = CursorSealer(secrets.token_bytes(32))

    @router.post(
        "/processing-activities",
        operation_id="listProcessingActivitiesPost",
        summary="Alle dataverwerkingen ophalen",
        description=(
            "Records matching every given search field, each once, oldest first. At most `limit` "
            "per response; while more follow, the response has `nextCursor` and a "
            "`Link: <...>; rel=\"next\"` header: POST the same body to that URL for the next page."
        ),
        tags=["ProcessingActivities"],
        response_model=ListProcessingActivities,
        response_model_exclude_none=True,
        responses={
            200: {"headers": {"Link": {
                "description": "`<url>; rel=\"next\"` while more records follow.",
                "schema": {"type": "string"},
            }}},
            **problem_responses(400, 401, 403, 503),
        },
        openapi_extra=bearer_security(),
    )
    def list_processing_activities(
        request: Request,
        response: Response,
        caller: Annotated[Principal, Depends(TokenCheck(*READ_ROLES))],
        search: Annotated[ProcessingActivityRequest, Body()],
        store: Annotated[LogStore, Depends(get_store)],
        keys: Annotated[SubjectKeys, Depends(get_subject_keys)],
        register_source: Annotated[Callable[[], Register], Depends(get_register_source)],
        limit: Annotated[int | None, Query(
            ge=1, le=settings.max_page_size,
            description=f"Records per page, 1..{settings.max_page_size} (default {settings.default_page_size}).",
        )] = None,
        cursor: Annotated[str | None, Query(
            min_length=1, max_length=_MAX_CURSOR_LENGTH,
            description=(
                "`nextCursor` of the previous page, to read the next one: valid only with the same "
                "body and a token of the same caller; any other cursor is a 400."
            ),
        )] = None,
    ) -> ListProcessingActivities:
        _check_window(search)
        bound_to = _cursor_binding(search, caller)
        after = _open_cursor(sealer, cursor, bound_to) if cursor is not None else None
        restriction = read_restriction(caller, search.data_subject_id, keys, register_source, datetime.now(UTC))
        query = _record_query(search, restriction, limit or settings.default_page_size, after)
        page = store.find(query)
        next_cursor = sealer.seal(Cursor.decode(page.next_cursor), bound_to) if page.next_cursor else None
        if next_cursor:
            response.headers["Link"] = f'<{_next_url(request, next_cursor, settings)}>; rel="next"'
        return ListProcessingActivities(
            processing_activities=[ProcessingActivity.from_record(r) for r in page.records],
            next_cursor=next_cursor,
        )

    @router.get(
        "/processing-activities/{traceId}/{spanId}/proof",
        operation_id="getProcessingActivityProof",
        summary="Inclusion proof (receipt) of one record in the Logboek's transparency log",
        description=(
            "An extension of this suite, beside the Logius schema: the C2SP tlog-proof receipt of the "
            "record with this trace id and span id in the newest checkpoint of its transparency log "
            "(with the witnesses' cosignatures), to check offline with `ldv verify receipt`. The same "
            "read rules as the search: a record the caller may not read, or that does not exist, is "
            "the same 404 (the answer never tells whether someone else's record exists). A record "
            "the caller may read that is in no log, or not yet in a signed checkpoint, is a 404 too, "
            "with that reason. With `opening=true` the answer is JSON: the receipt and the record's "
            "opening (its salt and stored values, which give the receipt's entry), so a reader can "
            "check that the record it was shown is the record logged."
        ),
        tags=["ProcessingActivities"],
        response_class=Response,  # the receipt is text/plain, problems are application/problem+json
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}},
                              "application/json": {"schema": {"type": "object", "required": ["receipt", "opening"],
                                  "properties": {"receipt": {"type": "string"}, "opening": {"type": ["object", "null"]}}}}},
                  "description": "The receipt (c2sp.org/tlog-proof@v1 with an `extra` line carrying the entry); "
                                 "with `opening=true` JSON with the receipt and the record's opening "
                                 "(`{\"salt\": hex, \"record\": {field: value}}`, null when the record is past its retention)."},
            **problem_responses(400, 401, 403, 404, 503),
        },
        openapi_extra=bearer_security(),
    )
    def processing_activity_proof(
        caller: Annotated[Principal, Depends(TokenCheck(*READ_ROLES))],
        trace_id: Annotated[str, Path(alias="traceId", pattern=TRACE_ID_PATTERN,
                                      description="Trace id in UUID notation or as 32 hex digits.")],
        span_id: Annotated[str, Path(alias="spanId", pattern=r"^[0-9a-fA-F]{16}$", description="Span id, 16 hex digits.")],
        store: Annotated[LogStore, Depends(get_store)],
        keys: Annotated[SubjectKeys, Depends(get_subject_keys)],
        register_source: Annotated[Callable[[], Register], Depends(get_register_source)],
        maker: Annotated[ReceiptMaker, Depends(get_receipts)],
        opening: Annotated[bool, Query(description="Also the record's opening (JSON answer).")] = False,
    ) -> Response:
        restriction = read_restriction(caller, None, keys, register_source, datetime.now(UTC))
        trace = parse_trace_id(trace_id)
        span = bytes.fromhex(span_id)
        # Found through the caller's read restriction first: what they may not read is "not found".
        readable = _readable_record(store, restriction, trace, span)
        if not readable:
            raise ProblemError(404, "No record with this trace id and span id that you may read.")
        found = maker.for_records([(trace, span)]).get((trace, span))
        if found is None:
            raise ProblemError(404, "This record is in no transparency log (it was not stored by a collector that logs).")
        if found.receipt is None:
            raise ProblemError(404, "This record is not yet in a signed checkpoint; try again in a second.")
        if opening:
            # The caller may read this record: its opening tells them nothing they may not see.
            opened = maker.opening(found)
            return JSONResponse({"receipt": found.receipt, "opening": opened.to_json() if opened else None})
        return PlainTextResponse(found.receipt, media_type="text/plain; charset=utf-8")

    @router.get(
        "/health",
        operation_id="health",
        summary="Answers 200 when the API can read its store",
        response_model=Health,
        responses=problem_responses(503),
    )
    def health(store: Annotated[LogStore, Depends(get_store)]) -> Health:
        # A point lookup on an id no record has: touches the store, reads next to nothing.
        store.find(RecordQuery(trace_id=bytes(16), limit=1))
        return Health()

    return router


def _readable_record(store: LogStore, restriction: ReadRestriction, trace: bytes, span: bytes) -> bool:
    """Whether the record (trace, span) exists within `restriction` (the search's own rules)."""
    after: Cursor | None = None
    for _ in range(100):  # a trace of more than 100 pages of readable spans is not a real trace
        page = store.find(RecordQuery(
            trace_id=trace, data_subject_ids=restriction.data_subject_ids, organisation=restriction.organisation,
            exclude=restriction.exclude, limit=MAX_PAGE_SIZE, after=after,
        ))
        if any(r.span_id == span for r in page.records):
            return True
        if page.next_cursor is None:
            return False
        after = Cursor.decode(page.next_cursor)
    return False


def _check_window(search: ProcessingActivityRequest) -> None:
    if search.start_time is not None and search.end_time is not None and search.start_time > search.end_time:
        raise ProblemError.bad_request(
            "startTime lies after endTime.",
            ("startTime", "must not be later than endTime"),
            ("endTime", "must not be earlier than startTime"),
        )


def _record_query(
    search: ProcessingActivityRequest, restriction: ReadRestriction, limit: int, after: Cursor | None
) -> RecordQuery:
    """The store query for a validated request within the caller's `restriction`."""
    if search.trace_id is None and search.processing_activity_id is None and search.data_subject_id is None:
        reason = "give at least one of traceId, dpl.core.processing_activity_id, dpl.core.data_subject_id"
        raise ProblemError.bad_request(
            "No search field given: a time window alone does not select records.",
            *((name, reason) for name in _SELECTORS),
        )
    return RecordQuery(
        trace_id=parse_trace_id(search.trace_id) if search.trace_id is not None else None,
        processing_activity_id=search.processing_activity_id,
        data_subject_ids=restriction.data_subject_ids,
        organisation=restriction.organisation,
        exclude=restriction.exclude,
        start_time_ms=search.start_time,
        end_time_ms=search.end_time,
        limit=limit,
        after=after,
    )


def _cursor_binding(search: ProcessingActivityRequest, caller: Principal) -> bytes:
    """What a cursor is valid for: this search (every field, normalised) by this caller.

    The caller is who the token names (issuer, subject) and what it grants (roles,
    organisation, BSN): a cursor of one reader, or of one search, is refused on another.
    The BSN stays inside the MAC input; it is never in the cursor.
    """
    trace_id = parse_trace_id(search.trace_id).hex() if search.trace_id is not None else None
    return binding(
        [trace_id, search.processing_activity_id, search.data_subject_id, search.start_time, search.end_time],
        [
            caller.issuer,
            caller.subject,
            sorted(role.value for role in caller.roles),
            caller.organisation,
            caller.bsn.get_secret_value() if caller.bsn is not None else None,
        ],
    )


def _open_cursor(sealer: CursorSealer, text: str, bound_to: bytes) -> Cursor:
    try:
        return sealer.open(text, bound_to)
    except CursorRefused:
        # One answer for every reason: it must not tell a forger what was wrong.
        raise ProblemError.bad_request(
            "The cursor was not handed out by this API for this search.",
            ("cursor", "use the nextCursor (or Link header) of the previous page unchanged, with the same body"),
        ) from None


def _next_url(request: Request, cursor: str, settings: ApiSettings) -> str:
    """This request's URL with `cursor` set, on the public base URL when one is configured."""
    url = request.url.include_query_params(cursor=cursor)
    base = settings.base_url()
    if base is None:
        return str(url)
    return f"{base}{url.path}?{url.query}"
