"""Overviews for organisations and supervisors: aggregates over the records, never subjects.

    GET /overzicht/v1/counts                    records per organisation, activity, status, period
    GET /overzicht/v1/unregistered-activities   processings whose activity is not in the register
    GET /overzicht/v1/errors                    failed processings per activity and exception type
    GET /overzicht/v1/flows                     calls between organisations (foreign processor, read API)

Role `organisation` sees its own records only (the `organisatie` parameter may be omitted or
must be its own); role `supervisor` sees every organisation. Every value reaches SQL as a
bound parameter. Counts are of distinct records (a duplicate delivery counts once).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from ldv_inzicht._auth import Principal, Role, TokenCheck, TokenFirstRoute, forbidden
from ldv_inzicht._deps import get_register, get_store
from ldv_inzicht._openapi_docs import bearer_security
from ldv_inzicht._problems import problem_responses
from ldv_inzicht._versioning import ApiInfo, CamelModel
from ldv_inzicht.inzage._api import period_or_400
from ldv_logboek import attributes as attr
from ldv_logboek.register import Register
from ldv_logboek.rules import COUNT_ONCE
from ldv_logboek.storage import RECORDS_TABLE, LogStore

OVERZICHT_API = ApiInfo(
    prefix="/overzicht/v1",
    title="LDV overzicht API",
    version="1.0.0",
    description="Aggregates for organisations (their own records) and supervisors (all organisations).",
)

MAX_ROWS = 10_000


class CountRow(CamelModel):
    organisation: str
    activity_id: str
    activity_name: str | None
    status: str
    period: str
    count: int


class UnregisteredRow(CamelModel):
    organisation: str
    activity_id: str
    count: int
    first_seen: str
    last_seen: str


class ErrorRow(CamelModel):
    organisation: str
    activity_id: str
    exception_type: str
    count: int


class FlowRow(CamelModel):
    direction: Literal["inbound", "outbound"]
    organisation: str
    counterpart: str
    counterpart_organisation: str | None
    count: int


class Rows(CamelModel):
    organisation: str | None


class CountRows(Rows):
    rows: list[CountRow]


class UnregisteredRows(Rows):
    rows: list[UnregisteredRow]


class ErrorRows(Rows):
    rows: list[ErrorRow]


class FlowRows(Rows):
    rows: list[FlowRow]


def _scope(principal: Principal, organisatie: str | None, register: Register) -> str | None:
    """The organisation code to filter on (None: all), enforcing the organisation role's limit."""
    if principal.has(Role.SUPERVISOR):
        wanted = organisatie
    else:
        own = principal.organisation or ""
        if organisatie and organisatie != own:
            org = register.organisation_by_ref(own)
            if org is None or organisatie not in (org.id, org.code):
                raise forbidden()
        wanted = own
    if wanted is None:
        return None
    org = register.organisation_by_ref(wanted)
    return org.code if org is not None and org.code else wanted


def _where(organisation: str | None, vanaf: date | None, tot: date | None, extra: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    period = period_or_400(vanaf, tot)
    clauses = list(extra or [])
    params: dict[str, Any] = {}
    if organisation is not None:
        clauses.append("Organisation = {organisation:String}")
        params["organisation"] = organisation
    if period.start_ms is not None:
        clauses.append("Timestamp >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')")
        params["start_ms"] = period.start_ms
    if period.end_ms is not None:
        clauses.append("Timestamp <= fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')")
        params["end_ms"] = period.end_ms
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _rows(store: LogStore, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
    # query_rows holds the store's lock and maps driver failures to StorageUnavailable (503) or StorageFault (500).
    return store.query_rows(sql + f" LIMIT {MAX_ROWS}", params)


# Module level: with postponed annotations FastAPI resolves these names in the module's globals.
Caller = Annotated[Principal, Depends(TokenCheck(Role.ORGANISATION, Role.SUPERVISOR))]
Store = Annotated[LogStore, Depends(get_store)]
Reg = Annotated[Register, Depends(get_register)]
Org = Annotated[
    str | None, Query(max_length=300, description="Organisation code or id (supervisors; organisations may give their own).")
]
From = Annotated[date | None, Query(description="First day (YYYY-MM-DD), Dutch time.")]
To = Annotated[date | None, Query(description="Last day (YYYY-MM-DD), inclusive.")]


def create_overzicht_router() -> APIRouter:
    """The overzicht API's routes, relative to `OVERZICHT_API.prefix`."""
    router = APIRouter(tags=["Overzicht"], route_class=TokenFirstRoute)
    # Every route: a token of an organisation or a supervisor, and the same problems.
    common: dict[str, Any] = {"responses": problem_responses(400, 401, 403, 503), "openapi_extra": bearer_security()}

    @router.get("/counts", operation_id="getCounts", response_model=CountRows, **common)
    def counts(
        caller: Caller, store: Store, register: Reg, organisatie: Org = None, vanaf: From = None, tot: To = None,
        interval: Annotated[Literal["day", "month"], Query(description="Period of each row.")] = "day",
    ) -> CountRows:
        scope = _scope(caller, organisatie, register)
        where, params = _where(scope, vanaf, tot)
        bucket = "toStartOfDay(Timestamp)" if interval == "day" else "toStartOfMonth(Timestamp)"
        fmt = "'%Y-%m-%d'" if interval == "day" else "'%Y-%m'"
        sql = (
            f"SELECT Organisation, ProcessingActivityId, StatusCode, formatDateTime({bucket}, {fmt}) AS period, "
            f"{COUNT_ONCE} FROM {RECORDS_TABLE}{where} "
            "GROUP BY Organisation, ProcessingActivityId, StatusCode, period "
            "ORDER BY period, Organisation, ProcessingActivityId, StatusCode"
        )
        rows = [
            CountRow(
                organisation=o, activity_id=a, status=s, period=p, count=int(n),
                activity_name=(act.latest.name if (act := register.activity(a)) else None),
            )
            for o, a, s, p, n in _rows(store, sql, params)
        ]
        return CountRows(organisation=scope, rows=rows)

    @router.get("/unregistered-activities", operation_id="getUnregisteredActivities", response_model=UnregisteredRows, **common)
    def unregistered(caller: Caller, store: Store, register: Reg, organisatie: Org = None, vanaf: From = None, tot: To = None) -> UnregisteredRows:
        scope = _scope(caller, organisatie, register)
        where, params = _where(scope, vanaf, tot, ["NOT has({known:Array(String)}, ProcessingActivityId)"])
        params["known"] = sorted(register.activities)
        sql = (
            f"SELECT Organisation, ProcessingActivityId, {COUNT_ONCE}, "
            f"toString(min(Timestamp)), toString(max(Timestamp)) FROM {RECORDS_TABLE}{where} "
            "GROUP BY Organisation, ProcessingActivityId ORDER BY Organisation, ProcessingActivityId"
        )
        rows = [
            UnregisteredRow(organisation=o, activity_id=a, count=int(n), first_seen=f, last_seen=last)
            for o, a, n, f, last in _rows(store, sql, params)
        ]
        return UnregisteredRows(organisation=scope, rows=rows)

    @router.get("/errors", operation_id="getErrors", response_model=ErrorRows, **common)
    def errors(caller: Caller, store: Store, register: Reg, organisatie: Org = None, vanaf: From = None, tot: To = None) -> ErrorRows:
        scope = _scope(caller, organisatie, register)
        where, params = _where(scope, vanaf, tot, ["StatusCode = 'Error'"])
        # Only the exception type: messages and stack traces may hold personal data.
        sql = (
            f"SELECT Organisation, ProcessingActivityId, SpanAttributes[{{exc_type_key:String}}] AS exc, "
            f"{COUNT_ONCE} FROM {RECORDS_TABLE}{where} "
            "GROUP BY Organisation, ProcessingActivityId, exc ORDER BY Organisation, ProcessingActivityId, exc"
        )
        params["exc_type_key"] = attr.EXCEPTION_TYPE
        rows = [ErrorRow(organisation=o, activity_id=a, exception_type=e, count=int(n)) for o, a, e, n in _rows(store, sql, params)]
        return ErrorRows(organisation=scope, rows=rows)

    @router.get("/flows", operation_id="getFlows", response_model=FlowRows, **common)
    def flows(caller: Caller, store: Store, register: Reg, organisatie: Org = None, vanaf: From = None, tot: To = None) -> FlowRows:
        scope = _scope(caller, organisatie, register)
        rows: list[FlowRow] = []
        for direction, column in (("inbound", "ForeignProcessor"), ("outbound", "ExternalReadApi")):
            where, params = _where(scope, vanaf, tot, [f"{column} != ''"])
            sql = (
                f"SELECT Organisation, {column}, {COUNT_ONCE} FROM {RECORDS_TABLE}{where} "
                f"GROUP BY Organisation, {column} ORDER BY Organisation, {column}"
            )
            for o, counterpart, n in _rows(store, sql, params):
                party = register.organisation_for_read_api(counterpart) if direction == "outbound" else None
                rows.append(
                    FlowRow(
                        direction=direction, organisation=o, counterpart=counterpart,
                        counterpart_organisation=party.code or party.id if party else None, count=int(n),
                    )
                )
        return FlowRows(organisation=scope, rows=rows)

    return router

