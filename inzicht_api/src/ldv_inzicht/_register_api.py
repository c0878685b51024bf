"""The register API: read-only access to the register of processing activities.

After the draft in the standard's repository, with kebab-case paths:

    GET /registerapi/v1/processing-activities                     ids, names, active flag
    GET /registerapi/v1/processing-activities/{id}                active flag, latest version
    GET /registerapi/v1/processing-activities/{id}/versions/{n}   one version in full
    GET /registerapi/v1/organisations/{id}                        an organisation

Ids are URIs: pass them URL-encoded (`https%3A%2F%2Fregister.example%2F...`).

The register is public, as GDPR art. 30 registers of public bodies are, except confidential
activities: those exist for the controller organisation and supervisors only; anyone else
gets the same 404 as for an id that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from ldv_inzicht._auth import Principal, Role, TokenFirstRoute, optional_principal
from ldv_inzicht._deps import get_register
from ldv_inzicht._openapi_docs import bearer_security
from ldv_inzicht._problems import ProblemError, problem_responses
from ldv_inzicht._versioning import ApiInfo, CamelModel
from ldv_logboek.register import ActivityVersion, Organisation, ProcessingActivity, Register

REGISTER_API = ApiInfo(
    prefix="/registerapi/v1",
    title="LDV register API",
    version="1.0.0",
    description=(
        "Register van verwerkingsactiviteiten (read-only), after the draft register API of the "
        "Logboek Dataverwerkingen standard. Ids are URIs: pass them URL-encoded in paths."
    ),
)


class VersionRef(CamelModel):
    version: int
    valid_from: datetime
    href: str


class ActivitySummary(CamelModel):
    """An activity as the register lists it."""

    id: str
    name: str = Field(description="Name of the latest version.")
    controller: str
    active: bool = Field(description="A version is in force now and the activity has not ended.")
    latest_version: int
    confidential: bool = Field(description="Whether records of the activity are hidden from data subjects now.")
    ended_at: datetime | None = None
    versions: list[VersionRef]


class ActivityList(CamelModel):
    processing_activities: list[ActivitySummary]


def may_see(activity: ProcessingActivity, principal: Principal | None, register: Register, now: datetime) -> bool:
    """Whether `principal` may know that `activity` exists (confidential ones are not public)."""
    if not activity.hidden_from_subject(now, now):
        return True
    if principal is None:
        return False
    if principal.has(Role.SUPERVISOR):
        return True
    if principal.has(Role.ORGANISATION) and principal.organisation:
        controller = register.organisation(activity.latest.controller)
        return controller is not None and principal.organisation in (controller.id, controller.code)
    return False


def _summary(activity: ProcessingActivity, now: datetime) -> ActivitySummary:
    href = f"{REGISTER_API.prefix}/processing-activities/{quote(activity.id, safe='')}"
    return ActivitySummary(
        id=activity.id,
        name=activity.latest.name,
        controller=activity.latest.controller,
        active=activity.active_at(now),
        latest_version=activity.latest.version,
        confidential=activity.hidden_from_subject(now, now),
        ended_at=activity.ended_at,
        versions=[VersionRef(version=v.version, valid_from=v.valid_from, href=f"{href}/versions/{v.version}") for v in activity.versions],
    )


def _not_found(what: str) -> ProblemError:
    return ProblemError(404, f"The register has no {what} with this id.")


# Module level: with postponed annotations FastAPI resolves these names in the module's globals.
RegisterDep = Annotated[Register, Depends(get_register)]
CallerDep = Annotated[Principal | None, Depends(optional_principal)]
ActivityIdPath = Annotated[str, Path(description="The activity's URI, URL-encoded.", min_length=3, max_length=2000)]


def create_register_router() -> APIRouter:
    """The register API's routes, relative to `REGISTER_API.prefix`."""
    router = APIRouter(tags=["Register"], route_class=TokenFirstRoute)

    @router.get(
        "/processing-activities",
        operation_id="listProcessingActivities",
        summary="All processing activities the caller may see",
        response_model=ActivityList,
        responses=problem_responses(401, 503),
        openapi_extra=bearer_security(optional=True),
    )
    def list_activities(register: RegisterDep, caller: CallerDep) -> ActivityList:
        now = datetime.now(UTC)
        visible = [a for a in register.activities.values() if may_see(a, caller, register, now)]
        return ActivityList(processing_activities=[_summary(a, now) for a in sorted(visible, key=lambda a: a.id)])

    # Registered before the plain {activity_id:path} route: that one would also match ".../versions/2".
    @router.get(
        "/processing-activities/{activity_id:path}/versions/{number}",
        operation_id="getProcessingActivityVersion",
        summary="One version of a processing activity",
        response_model=ActivityVersion,
        response_model_exclude_none=True,
        responses=problem_responses(401, 404, 503),
        openapi_extra=bearer_security(optional=True),
    )
    def get_version(
        activity_id: ActivityIdPath,
        number: Annotated[int, Path(ge=1, le=100_000, description="Version number, from 1.")],
        register: RegisterDep,
        caller: CallerDep,
    ) -> ActivityVersion:
        activity = register.activity(activity_id)
        if activity is None or not may_see(activity, caller, register, datetime.now(UTC)):
            raise _not_found("processing activity")
        version = activity.version(number)
        if version is None:
            raise ProblemError(404, f"The activity has versions 1 to {len(activity.versions)}, not {number}.")
        return version

    @router.get(
        "/processing-activities/{activity_id:path}",
        operation_id="getProcessingActivity",
        summary="A processing activity: active flag and latest version number",
        response_model=ActivitySummary,
        responses=problem_responses(401, 404, 503),
        openapi_extra=bearer_security(optional=True),
    )
    def get_activity(activity_id: ActivityIdPath, register: RegisterDep, caller: CallerDep) -> ActivitySummary:
        activity = register.activity(activity_id)
        now = datetime.now(UTC)
        if activity is None or not may_see(activity, caller, register, now):
            raise _not_found("processing activity")
        return _summary(activity, now)

    @router.get(
        "/organisations/{organisation_id:path}",
        operation_id="getOrganisation",
        summary="An organisation: name, read API, register",
        response_model=Organisation,
        response_model_exclude_none=True,
        responses=problem_responses(404, 503),
    )
    def get_organisation(
        organisation_id: Annotated[str, Path(description="The organisation's URI, URL-encoded.", max_length=2000)],
        register: RegisterDep,
    ) -> Organisation:
        organisation = register.organisation(organisation_id)
        if organisation is None:
            raise _not_found("organisation")
        return organisation

    return router
