"""The citizen page's overview: a summary per life event, who asked whom for which data, details.

`build_overview` turns an inzage (`InzageResult`, already filtered by the register) into what
the page and the PDF show, from the same groups the inzage API answers with
(`ldv_inzicht.inzage._view.trace_groups`), not from the API's response:

- per life event (a trace): which organisations used which kinds of data, and how often;
- the flows of that life event: which organisation asked which other organisation for which
  data, from the standard's own link between parties: a record's
  `dpl.core.foreign_operation.span_id` names the calling party's action in the same trace.
  Where a record only names another party's read API (`dpl.read.externalReadAPI_id`) and no
  record of that party links back, the flow is still shown, with its data "not known" (or the
  party "not available now" when its read API did not answer);
- per organisation and register activity, purpose, legal basis and data once, with the
  actions under it (today's cards repeated them for every action);
- a drawing of the flows (`FlowPicture`): boxes and arrows laid out in rows by depth along
  the chain. The template draws it as inline SVG; the numbers on the arrows match the numbered
  list next to it, which says the same in words.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from ldv_inzicht.inzage._service import UNAVAILABLE_NL, InzageRecord, InzageResult
from ldv_inzicht.inzage._view import (
    STATUS_NL,
    UNKNOWN_ACTIVITY_NL,
    CheckOut,
    LegalBasisOut,
    OrganisationRef,
    PartyOut,
    TraceGroup,
    check_out,
    date_nl,
    legal_basis_nl,
    organisation_of,
    organisation_ref,
    party_summaries,
    trace_groups,
)
from ldv_logboek import trace_id_as_uuid
from ldv_logboek.register import Register

NOT_KNOWN_NL = "welke gegevens is niet bekend"


@dataclass
class ActionLine:
    """One processing (one action) under its activity."""

    time: datetime
    time_label: str
    action: str
    status_label: str


@dataclass
class ActivityBlock:
    """One register activity of one organisation in a life event: purpose and law said once."""

    name: str
    purpose: str
    data: list[str]
    legal_basis: list[LegalBasisOut]
    unknown_label: str | None
    actions: list[ActionLine] = field(default_factory=list)


@dataclass
class OrganisationUse:
    """What one organisation did with the citizen's data in one life event."""

    organisation: OrganisationRef
    count: int
    data: list[str]
    activities: list[ActivityBlock]


@dataclass
class Flow:
    """`caller` asked `callee` for data of the citizen (numbered as in the picture)."""

    number: int
    caller: OrganisationRef
    callee: OrganisationRef
    data: list[str]
    callee_available: bool = True

    @property
    def sentence(self) -> str:
        """The flow in words, for the list next to the picture, the picture's <desc> and the PDF."""
        text = f"{self.caller.name} vroeg gegevens op bij {self.callee.name}"
        if self.data:
            return f"{text}: {', '.join(self.data)}."
        if not self.callee_available:
            return f"{text}. Welke gegevens, kunnen wij nu niet zien: {self.callee.name} is {UNAVAILABLE_NL}."
        return f"{text}; {NOT_KNOWN_NL}."


@dataclass
class Box:
    """An organisation in the picture: a box at (x, y) with its name in one or two lines."""

    organisation: OrganisationRef
    x: int
    y: int
    lines: list[str]


@dataclass
class Arrow:
    """A numbered arrow from the bottom of one box to the top of another."""

    number: int
    caller: str
    callee: str
    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def label_x(self) -> int:
        return (self.x1 + self.x2) // 2

    @property
    def label_y(self) -> int:
        return (self.y1 + self.y2) // 2


@dataclass
class FlowPicture:
    """The geometry of one life event's flow picture (drawn by the template as inline SVG)."""

    width: int
    height: int
    boxes: list[Box]
    arrows: list[Arrow]
    box_width: int = 176
    box_height: int = 52


BOX_WIDTH = FlowPicture.box_width
BOX_HEIGHT = FlowPicture.box_height
GAP_X = 24
GAP_Y = 64
MARGIN = 8
_LINE_CHARS = 17


@dataclass
class LifeEvent:
    """One life event (trace): the summary, its flows and its details."""

    number: int
    trace_id: str
    title: str
    start: datetime
    start_label: str
    count: int
    organisations: list[OrganisationUse]
    flows: list[Flow]
    picture: FlowPicture | None


@dataclass
class Overview:
    """The whole page (and PDF): life events newest first, and every organisation asked."""

    total: int
    events: list[LifeEvent]
    parties: list[PartyOut]
    truncated: bool
    checks: list[CheckOut] = field(default_factory=list)  # what the overview was checked against
    receipts: list[tuple[str, str]] = field(default_factory=list)  # (trace id/span id, receipt) for the PDF

    @property
    def unavailable(self) -> list[PartyOut]:
        return [p for p in self.parties if not p.available]

    @property
    def organisations_used(self) -> list[PartyOut]:
        """Organisations with at least one processing, most first."""
        return sorted((p for p in self.parties if p.processings), key=lambda p: (-p.processings, p.organisation.name))


def short_name(name: str) -> str:
    """`Rijksdienst voor Identiteitsgegevens (RvIG)` -> `RvIG`: the abbreviation a box has room for."""
    match = re.search(r"\(([^()]{2,12})\)\s*$", name)
    return match.group(1) if match else name


def _merge(into: list[str], items: list[str]) -> None:
    seen = {i.lower() for i in into}
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            into.append(item)


def _uses(group: TraceGroup) -> list[OrganisationUse]:
    uses: list[OrganisationUse] = []
    for ref, processings in group.organisations:
        data: list[str] = []
        blocks: dict[tuple[str, int], ActivityBlock] = {}
        for p in processings:
            r, v = p.record, p.register
            key = (r.activity_id, v.version if v else 0)
            block = blocks.get(key)
            if block is None:
                block = blocks[key] = ActivityBlock(
                    name=v.name if v else r.name,
                    purpose=v.purpose if v else "",
                    data=list(v.personal_data_categories) if v else [],
                    legal_basis=legal_basis_nl(v) if v else [],
                    unknown_label=UNKNOWN_ACTIVITY_NL if p.unknown_activity else None,
                )
            _merge(data, block.data)
            block.actions.append(ActionLine(r.time, date_nl(r.time), r.name, STATUS_NL[r.status]))
        uses.append(OrganisationUse(ref, len(processings), data, list(blocks.values())))
    return uses


def _data(p: InzageRecord) -> list[str]:
    return list(p.register.personal_data_categories) if p.register else []


def _flows(group: TraceGroup, register: Register, available: dict[str, bool]) -> list[Flow]:
    items = group.processings  # oldest first
    by_span = {p.record.span_id: p for p in items}
    flows: dict[tuple[str, str], Flow] = {}
    for p in items:
        caller = by_span.get(p.record.foreign_span_id) if p.record.foreign_span_id else None
        if caller is None or organisation_of(caller).id == organisation_of(p).id:
            continue
        flow = flows.setdefault(
            (organisation_of(caller).id, organisation_of(p).id), Flow(0, organisation_of(caller), organisation_of(p), [])
        )
        _merge(flow.data, _data(p))
    # A party named only by its read API: the call happened, what it gave is not in view.
    for p in items:
        caller_ref = organisation_of(p)
        target = register.organisation_for_read_api(p.record.external_read_api or "-")
        if target is None or target.id == caller_ref.id or (caller_ref.id, target.id) in flows:
            continue
        answered = [q for q in items if organisation_of(q).id == target.id and not q.record.foreign_span_id]
        ref = organisation_of(answered[0]) if answered else organisation_ref(target, target.id)
        flow = flows[(caller_ref.id, target.id)] = Flow(0, caller_ref, ref, [], available.get(target.id, True))
        for q in answered:
            _merge(flow.data, _data(q))
    result = list(flows.values())
    for number, flow in enumerate(result, start=1):
        flow.number = number
    return result


def _picture(flows: list[Flow]) -> FlowPicture | None:
    """Rows by depth along the chain (the first caller on top), boxes in order of appearance."""
    if not flows:
        return None
    order: list[OrganisationRef] = []
    for flow in flows:
        for ref in (flow.caller, flow.callee):
            if all(o.id != ref.id for o in order):
                order.append(ref)
    callees = {f.callee.id for f in flows}
    depth: dict[str, int] = {o.id: 0 for o in order if o.id not in callees} or {order[0].id: 0}
    for _ in range(len(order)):  # longest-path relaxation, bounded: cycles cannot loop forever
        for flow in flows:
            if flow.caller.id in depth and depth.get(flow.callee.id, -1) < depth[flow.caller.id] + 1 <= len(order):
                depth[flow.callee.id] = depth[flow.caller.id] + 1
    rows: dict[int, list[OrganisationRef]] = defaultdict(list)
    for ref in order:
        rows[depth.get(ref.id, 0)].append(ref)
    widest = max(len(r) for r in rows.values())
    width = 2 * MARGIN + widest * BOX_WIDTH + (widest - 1) * GAP_X
    boxes: dict[str, Box] = {}
    for level, refs in sorted(rows.items()):
        row_width = len(refs) * BOX_WIDTH + (len(refs) - 1) * GAP_X
        left = (width - row_width) // 2
        for i, ref in enumerate(refs):
            lines = textwrap.wrap(short_name(ref.name), _LINE_CHARS, max_lines=2, placeholder="…") or [ref.name]
            boxes[ref.id] = Box(ref, left + i * (BOX_WIDTH + GAP_X), MARGIN + level * (BOX_HEIGHT + GAP_Y), lines)
    arrows: list[Arrow] = []
    for flow in flows:
        a, b = boxes[flow.caller.id], boxes[flow.callee.id]
        if b.y > a.y:  # down the chain: bottom of the caller to the top of the callee
            ends = (a.x + BOX_WIDTH // 2, a.y + BOX_HEIGHT, b.x + BOX_WIDTH // 2, b.y - 2)
        else:  # same row or back up the chain: side to side
            ends = (a.x + BOX_WIDTH, a.y + BOX_HEIGHT // 2, b.x, b.y + BOX_HEIGHT // 2)
        arrows.append(Arrow(flow.number, flow.caller.name, flow.callee.name, *ends))
    height = 2 * MARGIN + (max(rows) + 1) * BOX_HEIGHT + max(rows) * GAP_Y
    return FlowPicture(width, height, list(boxes.values()), arrows)


def build_overview(result: InzageResult, register: Register) -> Overview:
    """The page's (and the PDF's) overview of the inzage `result`, grouped as the API groups it."""
    groups = trace_groups(result)
    parties = party_summaries(result)
    available = {p.organisation.id: p.available for p in parties}
    events: list[LifeEvent] = []
    for number, group in enumerate(groups, start=1):
        flows = _flows(group, register, available)
        events.append(LifeEvent(
            number=number, trace_id=trace_id_as_uuid(group.trace_id), title=group.title, start=group.start,
            start_label=date_nl(group.start, with_time=False), count=len(group.processings),
            organisations=_uses(group), flows=flows, picture=_picture(flows),
        ))
    receipts = [(f"{trace_id_as_uuid(p.record.trace_id)}/{p.record.span_id}", p.receipt)
                for g in groups for _, ps in g.organisations for p in ps if p.receipt is not None]
    return Overview(total=len(result.processings), events=events, parties=parties, truncated=result.truncated,
                    checks=[check_out(c) for c in result.checks], receipts=receipts)
