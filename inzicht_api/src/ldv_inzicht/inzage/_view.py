"""An inzage grouped, dated and labelled in Dutch: the API's answer (`build_response`) and what the page builds on.

`trace_groups` and `party_summaries` work on the service's `InzageResult`; the inzage API turns
them into `InzageResponse` (its pydantic models, `...Out`), and the page's overview
(`ldv_inzicht.inzage._overview`) builds on the same groups and the same `InzageRecord` objects,
never on the API's response. The small value models (`OrganisationRef`, `LegalBasisOut`,
`PartyOut`, `CheckOut`) are shared: they are the same facts in the same words on both.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import Field

from ldv_inzicht._versioning import CamelModel
from ldv_inzicht.inzage._service import UNAVAILABLE_NL, InzageRecord, InzageResult, LogCheck
from ldv_logboek import Status, trace_id_as_uuid
from ldv_logboek.register import ActivityVersion, Organisation

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


class OrganisationRef(CamelModel):
    id: str
    code: str = ""
    name: str


class LegalBasisOut(CamelModel):
    dpv: str
    label: str  # AVG-grondslag in Dutch
    law: str
    article: str
    url: str | None


class RegisterEntry(CamelModel):
    """The register version valid at the processing's time."""

    activity_id: str
    version: int
    name: str
    purpose: str
    legal_basis: list[LegalBasisOut]
    personal_data_categories: list[str]
    retention_period: str


class ProcessingOut(CamelModel):
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


class CheckOut(CamelModel):
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


class OrganisationGroup(CamelModel):
    organisation: OrganisationRef
    processings: list[ProcessingOut]


class TraceOut(CamelModel):
    """One life event: a trace, possibly across organisations."""

    trace_id: str
    start: datetime
    start_label: str
    title: str
    organisations: list[OrganisationGroup]


class PartyOut(CamelModel):
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


class InzageResponse(CamelModel):
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


def organisation_ref(org: Organisation | None, fallback: str) -> OrganisationRef:
    """`org` as the inzage names it; an organisation the register does not know by `fallback` (its ref)."""
    if org is None:
        return OrganisationRef(id=fallback or "onbekend", code="", name=fallback or "Onbekende organisatie")
    return OrganisationRef(id=org.id, code=org.code, name=org.name)


def organisation_of(p: InzageRecord) -> OrganisationRef:
    return organisation_ref(p.organisation, p.record.organisation_ref)


def legal_basis_nl(version: ActivityVersion) -> list[LegalBasisOut]:
    """The legal bases of a register version, each with its AVG-grondslag in Dutch."""
    return [LegalBasisOut(dpv=b.dpv.value, label=b.dpv.label_nl, law=b.law, article=b.article, url=b.url)
            for b in version.legal_basis]


@dataclass
class TraceGroup:
    """One life event of an inzage: a trace's processings (oldest first), per organisation in order of
    their first processing. The API's `TraceOut` and the page's `LifeEvent` are both made from it."""

    trace_id: str  # 32 hex
    processings: list[InzageRecord]
    organisations: list[tuple[OrganisationRef, list[InzageRecord]]]

    @property
    def start(self) -> datetime:
        return self.processings[0].record.time

    @property
    def title(self) -> str:
        # The first action names this particular processing ("Aanvraag huurtoeslag doorsturen
        # naar Dienst Toeslagen"); its register name is generic and repeats when many life
        # events start at the same portal. The register name is shown on each processing.
        first = self.processings[0]
        action = first.record.name.strip()  # with a capital first letter, as a heading
        return action[:1].upper() + action[1:] or (first.register.name if first.register else "")


def trace_groups(result: InzageResult) -> list[TraceGroup]:
    """`result`'s processings per trace (newest first), per organisation (in order of first processing)."""
    by_trace: dict[str, list[InzageRecord]] = defaultdict(list)
    for p in result.processings:
        by_trace[p.record.trace_id].append(p)
    groups: list[TraceGroup] = []
    for trace_id, items in by_trace.items():
        items.sort(key=lambda p: (p.record.time, p.record.span_id))
        per_org: dict[str, tuple[OrganisationRef, list[InzageRecord]]] = {}
        for p in items:
            ref = organisation_of(p)
            per_org.setdefault(ref.id, (ref, []))[1].append(p)
        groups.append(TraceGroup(trace_id, items, list(per_org.values())))
    groups.sort(key=lambda g: g.start, reverse=True)
    return groups


def party_summaries(result: InzageResult) -> list[PartyOut]:
    """Every organisation asked or seen in a record, by name: whether it could be read, and its count."""
    counts = Counter(organisation_of(p).id for p in result.processings)
    parties: dict[str, PartyOut] = {}

    def party(ref: OrganisationRef, source: str) -> PartyOut:
        if ref.id not in parties:
            parties[ref.id] = PartyOut(organisation=ref, available=True, status_label="beschikbaar",
                                       processings=counts[ref.id], source=source, source_label=source_nl(source, ref))
        return parties[ref.id]

    for outcome in result.parties:
        found = party(organisation_ref(outcome.organisation, outcome.ref), outcome.source)
        if not outcome.available:
            found.available = False
            found.status_label = UNAVAILABLE_NL
        found.truncated |= outcome.truncated
    # Organisations seen only through records (e.g. the controller differs from the Logboek's owner).
    for p in result.processings:
        party(organisation_of(p), p.record.source)
    return sorted(parties.values(), key=lambda p: p.organisation.name)


def _processing_out(p: InzageRecord) -> ProcessingOut:
    r, v = p.record, p.register
    entry = None
    if v is not None:
        entry = RegisterEntry(
            activity_id=r.activity_id, version=v.version, name=v.name, purpose=v.purpose, legal_basis=legal_basis_nl(v),
            personal_data_categories=list(v.personal_data_categories), retention_period=v.retention_period,
        )
    return ProcessingOut(
        trace_id=trace_id_as_uuid(r.trace_id), span_id=r.span_id, action=r.name, time=r.time, time_label=date_nl(r.time),
        status=r.status.value, status_label=STATUS_NL[r.status], organisation=organisation_of(p),
        activity_id=r.activity_id, register_entry=entry, unknown_activity=p.unknown_activity,
        unknown_activity_label=UNKNOWN_ACTIVITY_NL if p.unknown_activity else None, source=r.source,
        receipt=p.receipt, verified=p.checked.ok if p.checked is not None else None,
    )


def _names_nl(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " en " + names[-1] if names else "onbekend"


def _count_nl(n: int) -> str:
    return "1 verwerking" if n == 1 else f"{n} verwerkingen"


def _staat(n: int) -> str:
    return "staat" if n == 1 else "staan"


def check_label(c: LogCheck) -> str:
    """What was checked, in plain Dutch; only what the check found."""
    orgs = _names_nl(c.organisations)
    if c.source != "local" and not c.origin:
        return (f"Niet gecontroleerd: {_count_nl(c.unchecked)} van {orgs}, opgevraagd bij een ander Logboek, "
                f"{'is' if c.unchecked == 1 else 'zijn'} niet tegen een onveranderbaar logboek gecontroleerd.")
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


def check_out(c: LogCheck) -> CheckOut:
    return CheckOut(
        origin=c.origin, source=c.source, organisations=c.organisations, verified=c.verified, failed=c.failed,
        unchecked=c.unchecked, witnesses=list(c.witnesses), cosigned_at=c.cosigned_at, checkpoint_size=c.size,
        ok=bool(c.origin) and c.failed == 0 and c.unchecked == 0, label=check_label(c),
    )


def build_response(result: InzageResult) -> InzageResponse:
    """The inzage API's answer: `result` grouped per trace (newest first) and per organisation."""
    traces = [
        TraceOut(
            trace_id=trace_id_as_uuid(g.trace_id), start=g.start, start_label=date_nl(g.start), title=g.title,
            organisations=[OrganisationGroup(organisation=ref, processings=[_processing_out(p) for p in ps])
                           for ref, ps in g.organisations],
        )
        for g in trace_groups(result)
    ]
    return InzageResponse(total=len(result.processings), traces=traces, organisations=party_summaries(result),
                          truncated=result.truncated, checks=[check_out(c) for c in result.checks])
