"""The inzage answer as the API returns it and the page shows it: grouped, dated and labelled in Dutch."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ldv_inzicht.inzage._service import UNAVAILABLE_NL, InzageResult, LogCheck, Processing
from ldv_logboek import Status, trace_id_as_uuid
from ldv_logboek.register import Organisation

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")
_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december")
STATUS_NL = {Status.OK: "afgerond", Status.ERROR: "mislukt", Status.UNSET: "uitgevoerd"}
LOCAL_SOURCE_NL = "uit het Logboek van deze website"
UNKNOWN_ACTIVITY_NL = "Deze verwerking staat niet in het register van verwerkingsactiviteiten."


def date_nl(moment: datetime, *, with_time: bool = True) -> str:
    """`12 maart 2025 om 14:03` in Dutch time."""
    local = moment.astimezone(DUTCH_TIME)
    text = f"{local.day} {_MONTHS[local.month - 1]} {local.year}"
    return f"{text} om {local:%H:%M}" if with_time else text


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class OrganisationRef(_Out):
    id: str
    code: str = ""
    name: str


class LegalBasisOut(_Out):
    dpv: str
    label: str  # AVG-grondslag in Dutch
    law: str
    article: str
    url: str | None


class RegisterEntry(_Out):
    """The register version valid at the processing's time."""

    activity_id: str
    version: int
    name: str
    purpose: str
    legal_basis: list[LegalBasisOut]
    personal_data_categories: list[str]
    retention_period: str


class ProcessingOut(_Out):
    trace_id: str
    span_id: str
    action: str
    time: datetime
    time_label: str
    status: str
    status_label: str
    organisation: OrganisationRef
    activity_id: str
    register_entry: RegisterEntry | None = Field(alias="register", description="None: the activity is not in the register.")
    unknown_activity: bool
    unknown_activity_label: str | None = None
    source: str  # "local" or the URL of the read API it came from
    receipt: str | None = Field(
        None,
        description="The record's receipt (C2SP tlog-proof: its leaf in this Logboek's transparency log, the inclusion "
        "proof and the cosigned checkpoint), to check offline with `ldv verify receipt`; absent when the record is "
        "in no log, not yet in a signed checkpoint, or from another Logboek.",
    )
    verified: bool | None = Field(
        None, description="Whether this service checked the receipt against the configured log and witness keys."
    )


class CheckOut(_Out):
    """What the overview was checked against, per log (see `label`, in Dutch, for the citizen)."""

    origin: str = Field(description="The log's origin; empty for records that could not be checked.")
    source: str
    organisations: list[str]
    verified: int
    failed: int
    unchecked: int
    witnesses: list[str]
    cosigned_at: datetime | None = None
    checkpoint_size: int
    ok: bool = Field(description="Every record of this source was checked and verified.")
    label: str


class OrganisationGroup(_Out):
    organisation: OrganisationRef
    processings: list[ProcessingOut]


class TraceOut(_Out):
    """One life event: a trace, possibly across organisations."""

    trace_id: str
    start: datetime
    start_label: str
    title: str
    organisations: list[OrganisationGroup]


class PartyOut(_Out):
    organisation: OrganisationRef
    available: bool
    status_label: str
    processings: int
    truncated: bool = False
    source: str = Field(
        "local",
        description="Where the information came from: `local` (this Logboek) or the identifier of the other "
        "Logboek it was read from.",
    )
    source_label: str = Field(
        LOCAL_SOURCE_NL,
        description="The same, in Dutch, for the citizen: `uit het Logboek van deze website` or `opgevraagd bij het "
        "Logboek van <organisation name>` (a name, never an address).",
    )


class InzageResponse(_Out):
    """`GET /inzage/v1/mijn-verwerkingen`: the citizen's processings per trace, organisation and processing."""

    total: int
    traces: list[TraceOut]
    organisations: list[PartyOut]
    truncated: bool
    checks: list[CheckOut] = Field(default_factory=list)


def source_nl(source: str, organisation: OrganisationRef) -> str:
    """Where information came from, for the citizen: this Logboek, or the Logboek of `organisation`.

    Named by the organisation, never by the read API's address: an address means nothing to a
    citizen, and a long URL cannot wrap on a small screen (WCAG 1.4.10). The address stays in
    the API's `source`.
    """
    return LOCAL_SOURCE_NL if source == "local" else f"opgevraagd bij het Logboek van {organisation.name}"


def _org_ref(org: Organisation | None, fallback: str) -> OrganisationRef:
    if org is None:
        return OrganisationRef(id=fallback or "onbekend", code="", name=fallback or "Onbekende organisatie")
    return OrganisationRef(id=org.id, code=org.code, name=org.name)


def _processing_out(p: Processing) -> ProcessingOut:
    r = p.record
    entry = None
    if p.register is not None:
        v = p.register
        entry = RegisterEntry(
            activity_id=r.activity_id,
            version=v.version,
            name=v.name,
            purpose=v.purpose,
            legal_basis=[
                LegalBasisOut(dpv=b.dpv.value, label=b.dpv.label_nl, law=b.law, article=b.article, url=b.url)
                for b in v.legal_basis
            ],
            personal_data_categories=list(v.personal_data_categories),
            retention_period=v.retention_period,
        )
    return ProcessingOut(
        trace_id=trace_id_as_uuid(r.trace_id),
        span_id=r.span_id,
        action=r.name,
        time=r.time,
        time_label=date_nl(r.time),
        status=r.status.value,
        status_label=STATUS_NL[r.status],
        organisation=_org_ref(p.organisation, r.organisation_ref),
        activity_id=r.activity_id,
        register_entry=entry,
        unknown_activity=p.unknown_activity,
        unknown_activity_label=UNKNOWN_ACTIVITY_NL if p.unknown_activity else None,
        source=r.source,
        receipt=p.receipt,
        verified=p.checked.ok if p.checked is not None else None,
    )


def _names_nl(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " en " + names[-1] if names else "onbekend"


def _count_nl(n: int) -> str:
    return "1 verwerking" if n == 1 else f"{n} verwerkingen"


def _staat(n: int) -> str:
    return "staat" if n == 1 else "staan"


def _is(n: int) -> str:
    return "is" if n == 1 else "zijn"


def check_label(c: LogCheck) -> str:
    """What was checked, in plain Dutch; only what the check found."""
    orgs = _names_nl(c.organisations)
    if c.source != "local" and not c.origin:
        return (f"Niet gecontroleerd: {_count_nl(c.unchecked)} van {orgs}, opgevraagd bij een ander Logboek, "
                f"{_is(c.unchecked)} niet tegen een onveranderbaar logboek gecontroleerd.")
    if c.source != "local":
        orgs += ", opgevraagd bij een ander Logboek,"
    if not c.origin:
        return (f"Niet gecontroleerd: {_count_nl(c.unchecked)} van {orgs} {_staat(c.unchecked)} (nog) niet in een "
                "onveranderbaar logboek met een ondertekend controlepunt.")
    if c.no_key:
        return (f"Niet gecontroleerd: {_count_nl(c.unchecked)} van {orgs} {_staat(c.unchecked)} in het logboek {c.origin}, maar "
                "deze website heeft geen sleutel van dat logboek ingesteld om dat te controleren.")
    if c.failed:
        return (f"Let op: bij {_count_nl(c.failed)} van {orgs} klopt de controle tegen het onveranderbare logboek "
                f"{c.origin} niet. De gegevens kunnen zijn veranderd; u kunt dit melden bij de Autoriteit Persoonsgegevens.")
    when = f" op {date_nl(c.cosigned_at)}" if c.cosigned_at is not None else ""
    by = (f", bevestigd door {_names_nl(list(c.witnesses))}{when}" if c.witnesses
          else "; alleen door het logboek zelf ondertekend, niet door een onafhankelijke getuige bevestigd")
    return f"Gecontroleerd: elke verwerking hieronder van {orgs} staat in het onveranderbare logboek {c.origin}{by}."


def _check_out(c: LogCheck) -> CheckOut:
    return CheckOut(
        origin=c.origin, source=c.source, organisations=c.organisations, verified=c.verified, failed=c.failed,
        unchecked=c.unchecked, witnesses=list(c.witnesses), cosigned_at=c.cosigned_at, checkpoint_size=c.size,
        ok=bool(c.origin) and c.failed == 0 and c.unchecked == 0, label=check_label(c),
    )


def _sentence(text: str) -> str:
    """`text` with a capital first letter, as a heading."""
    text = text.strip()
    return text[:1].upper() + text[1:]


def build_response(result: InzageResult) -> InzageResponse:
    """Group `result` per trace (newest first), per organisation (in order of first processing)."""
    by_trace: dict[str, list[ProcessingOut]] = defaultdict(list)
    for p in result.processings:
        by_trace[p.record.trace_id].append(_processing_out(p))
    traces: list[TraceOut] = []
    for items in by_trace.values():
        items.sort(key=lambda i: (i.time, i.span_id))
        groups: dict[str, OrganisationGroup] = {}
        for item in items:
            groups.setdefault(item.organisation.id, OrganisationGroup(organisation=item.organisation, processings=[]))
            groups[item.organisation.id].processings.append(item)
        first = items[0]
        # The first action names this particular processing ("Aanvraag huurtoeslag doorsturen
        # naar Dienst Toeslagen"); its register name is generic and repeats when many life
        # events start at the same portal. The register name is shown on each processing.
        title = _sentence(first.action) or (first.register_entry.name if first.register_entry else "")
        traces.append(
            TraceOut(
                trace_id=first.trace_id,
                start=first.time,
                start_label=date_nl(first.time),
                title=title,
                organisations=list(groups.values()),
            )
        )
    traces.sort(key=lambda t: t.start, reverse=True)
    counts: dict[str, int] = defaultdict(int)
    for p in result.processings:
        counts[_org_ref(p.organisation, p.record.organisation_ref).id] += 1
    parties: dict[str, PartyOut] = {}
    for outcome in result.parties:
        ref = _org_ref(outcome.organisation, outcome.ref)
        party = parties.get(ref.id)
        if party is None:
            party = parties[ref.id] = PartyOut(
                organisation=ref,
                available=True,
                status_label="beschikbaar",
                processings=counts.get(ref.id, 0),
                source=outcome.source,
                source_label=source_nl(outcome.source, ref),
            )
        if not outcome.available:
            party.available = False
            party.status_label = UNAVAILABLE_NL
        party.truncated |= outcome.truncated
    # Organisations seen only through records (e.g. the controller differs from the Logboek's owner).
    for p in result.processings:
        ref = _org_ref(p.organisation, p.record.organisation_ref)
        parties.setdefault(
            ref.id,
            PartyOut(
                organisation=ref,
                available=True,
                status_label="beschikbaar",
                processings=counts[ref.id],
                source=p.record.source,
                source_label=source_nl(p.record.source, ref),
            ),
        )
    return InzageResponse(
        total=len(result.processings),
        traces=traces,
        organisations=sorted(parties.values(), key=lambda p: p.organisation.name),
        truncated=result.truncated,
        checks=[_check_out(c) for c in result.checks],
    )
