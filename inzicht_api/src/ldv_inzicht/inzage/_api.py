"""The citizen inzage API: `GET /inzage/v1/mijn-verwerkingen` (citizen role only)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ldv_inzicht._auth import Principal, Role, TokenCheck, TokenFirstRoute
from ldv_inzicht._deps import get_inzage_service
from ldv_inzicht._openapi_docs import bearer_security
from ldv_inzicht._problems import ProblemError, problem_responses
from ldv_inzicht._versioning import ApiInfo
from ldv_inzicht.inzage._service import InzageService, Period
from ldv_inzicht.inzage._view import DUTCH_TIME, InzageResponse, build_response
from ldv_logboek.storage import MAX_TIME_MS, MIN_TIME_MS

INZAGE_API = ApiInfo(
    prefix="/inzage/v1",
    title="LDV inzage API",
    version="1.0.0",
    description=(
        "Inzage voor de betrokkene: welke organisaties uw gegevens hebben verwerkt, wanneer, "
        "welke gegevens, waarvoor en op grond van welke wet. Needs a citizen bearer token."
    ),
)

MAX_ORGANISATION_LENGTH = 300


def period_of(vanaf: date | None, tot: date | None) -> Period:
    """Whole Dutch calendar days `vanaf` to `tot` (inclusive) as a window in ms; ValueError if reversed."""
    if vanaf and tot and vanaf > tot:
        raise ValueError("vanaf ligt na tot")
    return Period(start_ms=_ms(vanaf, time.min), end_ms=_ms(tot, time.max))  # time.max: the day's last microsecond


def period_or_400(vanaf: date | None, tot: date | None) -> Period:
    """`period_of`, with a reversed period answered as a 400 problem naming `vanaf` (the APIs' query parameters)."""
    try:
        return period_of(vanaf, tot)
    except ValueError:
        raise ProblemError.bad_request("The period is reversed.", ("vanaf", "must not be after tot")) from None


def _ms(day: date | None, moment: time) -> int | None:
    """`moment` of `day`, Dutch time, in ms; a day outside what the store can represent (1677 to 2262) is
    clamped to its range."""
    if day is None:
        return None
    return max(MIN_TIME_MS, min(int(datetime.combine(day, moment, DUTCH_TIME).timestamp() * 1000), MAX_TIME_MS))


def create_inzage_router() -> APIRouter:
    """The inzage API's routes, relative to `INZAGE_API.prefix`."""
    router = APIRouter(tags=["Inzage"], route_class=TokenFirstRoute)

    @router.get(
        "/mijn-verwerkingen",
        operation_id="getMijnVerwerkingen",
        summary="Mijn verwerkingen: who processed my data, when, why, under which law",
        response_model=InzageResponse,
        responses=problem_responses(400, 401, 403, 503),
        openapi_extra=bearer_security(),
    )
    async def mijn_verwerkingen(
        principal: Annotated[Principal, Depends(TokenCheck(Role.CITIZEN))],
        service: Annotated[InzageService, Depends(get_inzage_service)],
        vanaf: Annotated[date | None, Query(description="First day (YYYY-MM-DD), Dutch time.")] = None,
        tot: Annotated[date | None, Query(description="Last day (YYYY-MM-DD), inclusive.")] = None,
        organisatie: Annotated[
            str | None, Query(max_length=MAX_ORGANISATION_LENGTH, description="Only this organisation (code or id).")
        ] = None,
    ) -> InzageResponse:
        period = period_or_400(vanaf, tot)
        assert principal.bsn is not None  # a citizen token always has one (checked in auth)
        result = await service.inzage(
            principal.bsn.get_secret_value(), principal.token.get_secret_value(), period, organisatie or None
        )
        return build_response(result)

    return router
