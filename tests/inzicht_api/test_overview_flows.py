"""`build_overview` on its own: the flows it derives from the standard's links between parties,
and a picture that stays finite whatever the links say (cycles, self-calls, hidden callers).

Real register (the demo's), real records as the inzage service finds them; no browser.
"""

from __future__ import annotations

import time
from itertools import count

from ldv_inzicht.inzage._overview import build_overview, short_name
from ldv_inzicht.inzage._service import FoundRecord, InzageRecord, InzageResult, PartyOutcome
from ldv_logboek._record import Status
from ldv_logboek.register import Register, load_register_files
from tests.inzicht_api.inzage_support import ACT, DEMO_REGISTER

REGISTER: Register = load_register_files([DEMO_REGISTER])
TRACE = "ab" * 16
_spans = count(1)


def _processing(
    org: str, activity: str, *, caller: InzageRecord | FoundRecord | None = None, read_api: str = "",
    trace: str = TRACE, span: str | None = None,
) -> InzageRecord:
    caller_record = caller.record if isinstance(caller, InzageRecord) else caller
    found = FoundRecord(
        trace_id=trace, span_id=span or f"{next(_spans):016x}", name=f"{org} doet iets", start_ns=time.time_ns() + next(_spans),
        status=Status.OK, activity_id=activity, organisation_ref=org, external_read_api=read_api,
        foreign_span_id=caller_record.span_id if caller_record else "",
    )  # fmt: skip
    org_ref = REGISTER.organisation_by_ref(org)
    version = REGISTER.resolve(activity, found.time)
    assert version is not None
    return InzageRecord(found, org_ref, version, unknown_activity=False)


def _flows(*processings: InzageRecord, parties: list[PartyOutcome] | None = None) -> list[tuple[str, str, list[str]]]:
    overview = build_overview(InzageResult(processings=list(processings), parties=parties or []), REGISTER)
    (event,) = overview.events
    return [(f.caller.name, f.callee.name, f.data) for f in event.flows]


def test_two_calls_between_the_same_parties_are_one_flow() -> None:
    asks = _processing("dienst-toeslagen", ACT["huurtoeslag"])
    asks_again = _processing("dienst-toeslagen", ACT["huurtoeslag"])
    gives = _processing("belastingdienst", ACT["inkomen"], caller=asks)
    gives_again = _processing("belastingdienst", ACT["inkomen"], caller=asks_again)
    assert _flows(asks, asks_again, gives, gives_again) == [
        ("Dienst Toeslagen", "Belastingdienst", ["BSN", "verzamelinkomen", "toetsingsinkomen"])
    ]


def test_a_call_within_one_organisation_or_from_a_hidden_action_is_no_flow() -> None:
    first = _processing("gemeente-amsterdam", ACT["bijstand"])
    inner = _processing("gemeente-amsterdam", ACT["bijstand"], caller=first)
    hidden_caller = FoundRecord(TRACE, "f" * 16, "vertrouwelijk", 0, Status.OK, ACT["fiod"], "belastingdienst")
    answered_hidden = _processing("dienst-toeslagen", ACT["zorgtoeslag"], caller=hidden_caller)
    overview = build_overview(InzageResult(processings=[first, inner, answered_hidden]), REGISTER)
    assert overview.events[0].flows == [] and overview.events[0].picture is None


def test_a_cycle_of_calls_still_draws_every_arrow_once() -> None:
    a = _processing("dienst-toeslagen", ACT["huurtoeslag"])
    b = _processing("belastingdienst", ACT["inkomen"], caller=a)
    a_again = _processing("dienst-toeslagen", ACT["zorgtoeslag"], caller=b)
    overview = build_overview(InzageResult(processings=[a, b, a_again]), REGISTER)
    picture = overview.events[0].picture
    assert picture is not None
    assert [(x.caller, x.callee) for x in picture.arrows] == [
        ("Dienst Toeslagen", "Belastingdienst"), ("Belastingdienst", "Dienst Toeslagen")
    ]  # fmt: skip
    assert len(picture.boxes) == 2 and 0 < picture.height < 1000 and 0 < picture.width < 1000


def test_a_party_named_only_by_its_read_api_is_a_flow_marked_unavailable_when_it_did_not_answer() -> None:
    uwv = REGISTER.organisation_by_ref("uwv")
    assert uwv is not None and uwv.read_api_url
    asks = _processing("dienst-toeslagen", ACT["huurtoeslag"], read_api=uwv.read_api_url)
    overview = build_overview(
        InzageResult(processings=[asks], parties=[PartyOutcome(uwv, uwv.id, available=False)]), REGISTER
    )
    (flow,) = overview.events[0].flows
    assert (flow.caller.name, flow.callee.name, flow.callee_available) == ("Dienst Toeslagen", "UWV", False)
    assert flow.sentence.endswith("UWV is niet beschikbaar op dit moment.")
    assert [p.organisation.name for p in overview.unavailable] == ["UWV"]


def test_the_same_span_id_in_another_trace_does_not_hide_a_flow() -> None:
    """Span ids are unique within a trace only (another Logboek may answer with any): the flows of
    one life event come from that trace's records alone."""
    asks = _processing("dienst-toeslagen", ACT["huurtoeslag"], span="1" * 16)
    gives = _processing("belastingdienst", ACT["inkomen"], caller=asks, span="2" * 16)
    elsewhere = _processing("gemeente-amsterdam", ACT["bijstand"], trace="cd" * 16, span="2" * 16)
    overview = build_overview(InzageResult(processings=[asks, gives, elsewhere]), REGISTER)
    flows = {e.trace_id.replace("-", ""): [(f.caller.name, f.callee.name) for f in e.flows] for e in overview.events}
    assert flows == {TRACE: [("Dienst Toeslagen", "Belastingdienst")], "cd" * 16: []}


def test_short_names_in_the_boxes() -> None:
    assert short_name("Rijksdienst voor Identiteitsgegevens (RvIG)") == "RvIG"
    assert short_name("Gemeente Amsterdam") == "Gemeente Amsterdam"
