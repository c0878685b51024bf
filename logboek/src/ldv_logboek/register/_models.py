"""The register of processing activities (GDPR art. 30) as the LDV standard uses it.

A processing activity has an id (a URI, the value of `dpl.core.processing_activity_id` in log
records) and one or more versions. Each version is valid from its `valid_from` until the next
version's `valid_from`, so an activity id plus a moment resolves to exactly one version (the
standard's register rule). Vocabulary follows W3C DPV where the standard does.

Field names are snake_case in Python and accept camelCase aliases in files, so a register
exported from another tool (`validFrom`, `legalBasis`) loads as well.
"""

from __future__ import annotations

import bisect
import enum
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from ldv_logboek.rules import is_uri


def _check_uri(value: str) -> str:
    if not is_uri(value):
        raise ValueError(f"must be an absolute URI (https://... or urn:...), got {value!r}")
    return value


def _as_utc(value: datetime) -> datetime:
    # A naive time in a register file means UTC; storing it naive would make comparisons fail.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_ISO_DURATION = re.compile(r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")
Uri = Annotated[str, AfterValidator(_check_uri)]
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, str_strip_whitespace=True
    )


class DpvLegalBasis(str, enum.Enum):
    """GDPR art. 6 legal bases with their W3C DPV names."""

    CONSENT = "Consent"
    CONTRACT = "Contract"
    LEGAL_OBLIGATION = "LegalObligation"
    VITAL_INTEREST = "VitalInterest"
    PUBLIC_INTEREST = "PublicInterest"
    OFFICIAL_AUTHORITY = "OfficialAuthorityOfController"
    LEGITIMATE_INTEREST = "LegitimateInterest"

    @property
    def label_nl(self) -> str:
        """How a citizen reads this legal basis (wording of AVG art. 6 lid 1)."""
        return _DPV_LABELS_NL[self]


_DPV_LABELS_NL = {
    DpvLegalBasis.CONSENT: "Toestemming",
    DpvLegalBasis.CONTRACT: "Uitvoering van een overeenkomst",
    DpvLegalBasis.LEGAL_OBLIGATION: "Wettelijke verplichting",
    DpvLegalBasis.VITAL_INTEREST: "Vitaal belang",
    DpvLegalBasis.PUBLIC_INTEREST: "Taak van algemeen belang",
    DpvLegalBasis.OFFICIAL_AUTHORITY: "Uitoefening van openbaar gezag",
    DpvLegalBasis.LEGITIMATE_INTEREST: "Gerechtvaardigd belang",
}


class LegalBasis(_Model):
    """One legal ground: the DPV basis and the law and article that give it."""

    dpv: DpvLegalBasis
    law: str = Field(min_length=1, description="Name of the law, e.g. 'Wet op de huurtoeslag'")
    article: str = Field(default="", description="Article, e.g. 'artikel 7, eerste lid'")
    url: Uri | None = Field(default=None, description="Link to the law text (wetten.overheid.nl)")


class Organisation(_Model):
    """An organisation in the register: controller, recipient or a party with a read API."""

    id: Uri
    name: str = Field(min_length=1)
    code: str = Field(
        default="",
        pattern=r"^[a-z0-9][a-z0-9-]*$|^$",
        description="Short code that log records carry in the `dpl.suite.organisation` resource attribute",
    )
    read_api_url: Uri | None = Field(default=None, description="Base URL of its LDV read ('lezen') API")
    register_url: Uri | None = None
    website: Uri | None = None
    contact: str = ""


class ActivityVersion(_Model):
    """One version of a processing activity, valid from `valid_from` until the next version."""

    version: int = Field(ge=1)
    valid_from: UtcDateTime
    name: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    legal_basis: tuple[LegalBasis, ...] = Field(min_length=1)
    controller: Uri = Field(description="Id of the controller organisation")
    data_subject_categories: tuple[str, ...] = ()
    personal_data_categories: tuple[str, ...] = ()
    retention_period: str = Field(default="", description="ISO 8601 duration, e.g. P7Y")
    retention_description: str = ""
    processing_operations: tuple[str, ...] = ()
    recipients: tuple[Uri, ...] = Field(default=(), description="Ids of receiving organisations")
    measures: tuple[str, ...] = Field(default=(), description="Technical and organisational measures")
    confidential: bool = False
    confidential_until: UtcDateTime | None = Field(
        default=None, description="End of confidentiality; none means confidential until a new version says otherwise"
    )

    @field_validator("retention_period")
    @classmethod
    def _iso_duration(cls, value: str) -> str:
        if value and not _ISO_DURATION.fullmatch(value):
            raise ValueError(f"must be an ISO 8601 duration such as P7Y or P6M, got {value!r}")
        return value

    @model_validator(mode="after")
    def _until_needs_confidential(self) -> ActivityVersion:
        if self.confidential_until is not None and not self.confidential:
            raise ValueError("confidential_until is set but confidential is false")
        return self

    def confidential_at(self, moment: datetime) -> bool:
        """True when this version hides its records from data subjects at `moment`."""
        return self.confidential and (self.confidential_until is None or moment < self.confidential_until)


class ProcessingActivity(_Model):
    """A processing activity with all its versions, oldest first."""

    id: Uri
    versions: tuple[ActivityVersion, ...] = Field(min_length=1)
    ended_at: UtcDateTime | None = Field(default=None, description="When the activity stopped, if it did")

    @model_validator(mode="after")
    def _versions_in_order(self) -> ProcessingActivity:
        numbers = [v.version for v in self.versions]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"versions must be numbered 1, 2, 3 ... in order, got {numbers}")
        starts = [v.valid_from for v in self.versions]
        if any(b <= a for a, b in zip(starts, starts[1:])):
            raise ValueError("each version's valid_from must be later than the previous version's")
        if self.ended_at is not None and self.ended_at <= starts[-1]:
            raise ValueError("ended_at must be later than the last version's valid_from")
        return self

    @property
    def latest(self) -> ActivityVersion:
        return self.versions[-1]

    def version_at(self, moment: datetime) -> ActivityVersion | None:
        """The one version valid at `moment`; None before the first version or after the end."""
        moment = _as_utc(moment)
        if self.ended_at is not None and moment >= self.ended_at:
            return None
        index = bisect.bisect_right([v.valid_from for v in self.versions], moment) - 1
        return self.versions[index] if index >= 0 else None

    def version(self, number: int) -> ActivityVersion | None:
        return self.versions[number - 1] if 1 <= number <= len(self.versions) else None

    def active_at(self, moment: datetime) -> bool:
        return self.version_at(moment) is not None

    def hidden_from_subject(self, record_time: datetime, now: datetime) -> bool:
        """Whether a record of this activity made at `record_time` is hidden from the data subject `now`.

        Confidentiality is decided per activity in the register, never per record. A record is
        hidden while the version in force when it was made, or the version in force now, is
        confidential: a later version can declare an activity confidential (hiding its past
        records) and a version's `confidential_until` lifts it.
        """
        now = _as_utc(now)
        candidates = [self.version_at(record_time), self.version_at(now) or self.latest]
        return any(v is not None and v.confidential_at(now) for v in candidates)

    def hidden_windows(self, now: datetime) -> list[tuple[datetime | None, datetime | None]]:
        """The record times for which `hidden_from_subject(t, now)` holds, as half-open
        [start, end) intervals (None: open end), so a store can leave those records out in SQL.

        `hidden_from_subject` depends on the record time only through the version in force
        then, which changes only at a version's `valid_from` and at `ended_at`: so it is
        evaluated once per stretch between those moments (not re-implemented here).
        """
        moments = [v.valid_from for v in self.versions] + ([self.ended_at] if self.ended_at else [])
        stretches = [(None, moments[0])] + list(zip(moments, moments[1:])) + [(moments[-1], None)]
        windows: list[tuple[datetime | None, datetime | None]] = []
        for start, end in stretches:
            probe = start if start is not None else moments[0] - timedelta(microseconds=1)
            if not self.hidden_from_subject(probe, now):
                continue
            if windows and windows[-1][1] == start:
                windows[-1] = (windows[-1][0], end)  # adjacent: one window
            else:
                windows.append((start, end))
        return windows


class Register(BaseModel):
    """A whole register: organisations and processing activities, keyed by id."""

    model_config = ConfigDict(frozen=True)

    organisations: dict[str, Organisation] = Field(default_factory=dict)
    activities: dict[str, ProcessingActivity] = Field(default_factory=dict)

    def activity(self, activity_id: str) -> ProcessingActivity | None:
        return self.activities.get(activity_id)

    def organisation(self, organisation_id: str) -> Organisation | None:
        return self.organisations.get(organisation_id)

    def organisation_by_ref(self, ref: str) -> Organisation | None:
        """The organisation named by `ref`: its id or its code (what log records carry)."""
        if ref in self.organisations:
            return self.organisations[ref]
        return next((o for o in self.organisations.values() if ref and o.code == ref), None)

    def resolve(self, activity_id: str, moment: datetime) -> ActivityVersion | None:
        """The version of `activity_id` valid at `moment` (None when unknown or not valid then)."""
        activity = self.activities.get(activity_id)
        return activity.version_at(moment) if activity else None

    def hidden_from_subject(self, activity_id: str, record_time: datetime, now: datetime) -> bool:
        """Whether a record of `activity_id` made at `record_time` is hidden from its data subject
        `now` (see `ProcessingActivity.hidden_from_subject`); records of activities the register
        does not know are not hidden (they are shown, flagged as unknown)."""
        activity = self.activities.get(activity_id)
        return activity is not None and activity.hidden_from_subject(record_time, now)

    def hidden_windows(self, now: datetime) -> list[tuple[str, datetime | None, datetime | None]]:
        """(activity id, start, end) of every stretch of record times hidden from data subjects `now`."""
        return [
            (activity.id, start, end)
            for activity in self.activities.values()
            for start, end in activity.hidden_windows(now)
        ]

    def organisation_for_read_api(self, url: str) -> Organisation | None:
        """The organisation whose read API `url` is (or lies under); None for unknown parties."""
        wanted = url.rstrip("/")
        for org in self.organisations.values():
            base = (org.read_api_url or "").rstrip("/")
            if base and (wanted == base or wanted.startswith(base + "/")):
                return org
        return None

    def problems(self) -> list[str]:
        """References that point nowhere (a controller or recipient not in the register)."""
        found: list[str] = []
        for activity in self.activities.values():
            for v in activity.versions:
                if v.controller not in self.organisations:
                    found.append(f"{activity.id} v{v.version}: controller {v.controller} is not a known organisation")
                for r in v.recipients:
                    if r not in self.organisations:
                        found.append(f"{activity.id} v{v.version}: recipient {r} is not a known organisation")
        return found

    def merged(self, other: Register) -> Register:
        """This register with `other`'s entries added; an id present in both must be identical."""
        for kind, mine, theirs in (
            ("organisation", self.organisations, other.organisations),
            ("processing activity", self.activities, other.activities),
        ):
            for key, value in theirs.items():
                if key in mine and mine[key] != value:
                    raise ValueError(f"{kind} {key} is defined twice, differently")
        return Register(
            organisations={**self.organisations, **other.organisations},
            activities={**self.activities, **other.activities},
        )
