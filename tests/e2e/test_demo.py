"""`ldv demo` end to end: real services with the SDK -> OTLP -> collector -> store -> citizen page.

The demo runs as a subprocess with `--exit-after-scenario`, twice on the same data directory
(the second run must keep the keys and not repeat the scenario). Only then does this test
process open the store (chDB opens a data directory from one process at a time) and check
the records, the chains across organisations, the pseudonyms, and the citizen page of an
Inzicht app built on that store with the demo's own settings, read back from the data dir.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from ldv_inzicht import create_app
from ldv_inzicht.auth import mint_demo_token
from ldv_logboek import LogRecord, Status
from ldv_logboek import attributes as attr
from ldv_logboek.pseudonym import is_pseudonym, pseudonymise
from ldv_logboek.register import Register, load_register_files
from ldv_logboek.storage import LogStore, RecordQuery, connect
from ldv_suite.demo.keys import DemoSecrets
from ldv_suite.demo.people import BEN_BSN, DAAN_BSN, LINDA_BSN, NOOR_BSN
from ldv_suite.demo.services import MODULES, service_module
from tests.conftest import REPO_ROOT
from tests.e2e.serve_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ORGANISATIONS = set(MODULES)
ALL_BSNS = (LINDA_BSN, NOOR_BSN, DAAN_BSN, BEN_BSN)
FIOD = "https://register.belastingdienst.example/processing-activities/fiod-fraudeonderzoek"


def _run_demo(data_dir: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable, "-m", "ldv_suite.cli", "demo",
        "--data-dir", str(data_dir),
        "--api-port", str(free_port()),
        "--otlp-http-port", str(free_port()),
        "--exit-after-scenario",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=90, env=env, cwd=REPO_ROOT)


class DemoRun:
    def __init__(self, data_dir: Path, first: subprocess.CompletedProcess[str], second: subprocess.CompletedProcess[str],
                 keys_before: dict[str, str]) -> None:  # fmt: skip
        self.data_dir = data_dir
        self.first = first
        self.second = second
        self.keys_before = keys_before
        self.secrets = DemoSecrets.existing(data_dir)
        self.register: Register = load_register_files([REPO_ROOT / "demo" / "register"])
        self.store = LogStore(connect(f"chdb://{data_dir.resolve()}"))
        self.records: list[LogRecord] = []
        for activity in self.register.activities:
            self.records += self.store.find(RecordQuery(processing_activity_id=activity, limit=1000)).records
        self.keys = {org: key.get_secret_value().encode() for org, key in self.secrets.organisation_keys().items()}

    def pseudonyms(self, bsn: str) -> set[str]:
        return {pseudonymise(bsn, key) for key in self.keys.values()}

    def by_span(self) -> dict[bytes, LogRecord]:
        return {r.span_id: r for r in self.records}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    data_dir = tmp_path_factory.mktemp("demo") / "ldv-data"
    first = _run_demo(data_dir)
    assert first.returncode == 0, first.stdout + first.stderr
    keys_before = {p.name: p.read_text() for p in (data_dir / "demo" / "keys").glob("*.key")}
    second = _run_demo(data_dir)  # a restart on the same data directory
    assert second.returncode == 0, second.stdout + second.stderr
    run = DemoRun(data_dir, first, second, keys_before)
    yield run
    run.store.close()


def _org(record: LogRecord) -> str:
    return record.resource_attributes[attr.ORGANISATION]


def test_the_demo_says_what_to_open(demo: DemoRun) -> None:
    out = demo.first.stdout
    assert "LDV demo ready" in out
    assert re.search(r"http://127\.0\.0\.1:\d+/inzage/inloggen", out)
    assert LINDA_BSN in out and BEN_BSN in out
    assert "/lezenapi/v1/processing-activities" in out
    assert "LDV demo stopped" in out
    assert "scenario done: 10 requests" in out


def test_a_restart_keeps_the_keys_and_does_not_repeat_the_scenario(demo: DemoRun) -> None:
    assert "the scenario ran before" in demo.second.stdout
    assert {p.name: p.read_text() for p in (demo.data_dir / "demo" / "keys").glob("*.key")} == demo.keys_before
    assert len(demo.keys_before) == len(ORGANISATIONS)


def test_demo_secrets_are_private_files(demo: DemoRun) -> None:
    secret_files = [demo.secrets.login_key_file, demo.secrets.jwks_file]
    secret_files += [demo.secrets.key_file(org) for org in ORGANISATIONS]
    secret_files += [demo.secrets.token_file(org) for org in ORGANISATIONS]
    for path in secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(demo.secrets.directory.stat().st_mode) == 0o700


def test_each_service_sends_as_a_sender_bound_to_its_organisation(demo: DemoRun) -> None:
    senders = demo.secrets.collector_senders()
    assert {name: s.organisation for name, s in senders.items()} == {org: org for org in ORGANISATIONS}
    assert "no senders configured" not in demo.first.stdout + demo.first.stderr
    for org in ORGANISATIONS:  # the collector holds hashes only; the services hold the tokens
        assert demo.secrets.token_file(org).read_text().strip() not in str(senders)


def test_every_organisation_logged_through_its_own_sdk(demo: DemoRun) -> None:
    assert demo.store.count() == len(demo.records)  # every record names a register activity
    assert all(r.status is not Status.ERROR for r in demo.records)
    by_org = {org: [r for r in demo.records if _org(r) == org] for org in ORGANISATIONS}
    for org, records in by_org.items():
        assert records, f"no records of {org}"
        module = service_module(org)
        assert {r.resource_attributes[attr.SERVICE_NAME] for r in records} == {module.SERVICE_NAME}
        # Each organisation logs only activities of its own register.
        assert all(r.processing_activity_id.startswith(module.REGISTER_BASE_URI + "/") for r in records)


def test_calls_between_organisations_are_one_trace_with_caller_and_callee_linked(demo: DemoRun) -> None:
    spans = demo.by_span()
    read_apis = {o.code: o.read_api_url for o in demo.register.organisations.values()}
    crossings = 0
    for callee in demo.records:
        caller = spans.get(callee.parent_span_id or b"")
        if caller is None or _org(caller) == _org(callee):
            continue
        crossings += 1
        assert caller.trace_id == callee.trace_id
        # Callee side: who called, and from which action (W3C traceparent + tracestate `ldv`).
        caller_app = f"urn:ldv:application:{_org(caller)}:{caller.resource_attributes[attr.SERVICE_NAME]}"
        assert callee.attributes[attr.FOREIGN_OPERATION_PROCESSOR] == caller_app
        assert callee.attributes[attr.FOREIGN_OPERATION_SPAN_ID] == caller.span_id.hex()
        # Caller side: where to read on (the callee's read API from the register).
        assert caller.attributes[attr.EXTERNAL_READ_API_ID] == read_apis[_org(callee)]
    # Linda: verhuizing 2 hops, huurtoeslag 3, zorgtoeslag 2, kinderopvangtoeslag 4, WW 1, bijstand 3;
    # Ben: verhuizing 2, zorgtoeslag 2.
    assert crossings == 19

    # The huurtoeslag application: one trace through four organisations.
    huurtoeslag = next(r for r in demo.records if r.processing_activity_id.endswith("/huurtoeslag"))
    trace = [r for r in demo.records if r.trace_id == huurtoeslag.trace_id]
    assert {_org(r) for r in trace} == {"burger-nl", "dienst-toeslagen", "belastingdienst", "rvig"}
    roots = [r for r in trace if not r.parent_span_id]
    assert [_org(r) for r in roots] == ["burger-nl"]


def test_subject_ids_are_pseudonymised_per_organisation_and_no_bsn_is_stored(demo: DemoRun) -> None:
    with_subject = [r for r in demo.records if r.data_subject_id]
    assert len(with_subject) >= len(demo.records) - 1  # only the multi-subject action has none of its own
    for record in with_subject:
        assert is_pseudonym(record.data_subject_id)
        assert record.attributes[attr.DATA_SUBJECT_ID_TYPE] == "BSN"
        key = demo.keys[_org(record)]
        assert record.data_subject_id in {pseudonymise(bsn, key) for bsn in ALL_BSNS}
    # Rule 6: Linda's children are subjects of the kinderopvangtoeslag, one record each.
    for child in (NOOR_BSN, DAAN_BSN):
        child_ids = demo.pseudonyms(child)
        child_records = [r for r in with_subject if r.data_subject_id in child_ids]
        assert [r.processing_activity_id.rsplit("/", 1)[1] for r in child_records] == ["kinderopvangtoeslag"]
    # Nowhere in the table, in no column, a clear BSN.
    dump = repr(demo.store.query_rows("SELECT * FROM otel_traces", {}))
    for bsn in ALL_BSNS:
        assert bsn not in dump


@pytest.fixture(scope="module")
def inzicht(demo: DemoRun) -> TestClient:
    """The Inzicht API on the demo's store, with the demo's settings read back from its data dir."""
    return TestClient(create_app(demo.store, **demo.secrets.api_kwargs()))


def test_linda_sees_her_processings_across_organisations_but_not_the_fiod(demo: DemoRun, inzicht: TestClient) -> None:
    inzicht.cookies.clear()
    login = inzicht.post("/inzage/inloggen", data={"bsn": LINDA_BSN}, follow_redirects=False)
    assert login.status_code == 303
    page = inzicht.get("/inzage/")
    assert page.status_code == 200
    html = page.text
    for law in (
        "Wet op de huurtoeslag", "Wet op de zorgtoeslag", "Wet kinderopvang", "Werkloosheidswet",
        "Participatiewet", "Wet basisregistratie personen", "Wet inkomstenbelasting 2001",
    ):  # fmt: skip
        assert law in html, law
    for organisation in ("Burger.nl", "Gemeente Amsterdam", "Dienst Toeslagen", "Belastingdienst", "RvIG", "UWV"):
        assert organisation in html, organisation
    assert "Inkomen opvragen bij de Belastingdienst" in html
    assert "FIOD" not in html and "fraude" not in html.lower()
    assert "niet beschikbaar" not in html  # every organisation is served here: no chain to fictitious URLs

    # The same through the JSON API: every record about Linda except the confidential one.
    token = mint_demo_token(demo.secrets.api_kwargs()["auth_settings"], LINDA_BSN)
    answer = inzicht.get("/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {token}"}).json()
    linda = demo.pseudonyms(LINDA_BSN)
    about_linda = [r for r in demo.records if r.data_subject_id in linda]
    assert any(r.processing_activity_id == FIOD for r in about_linda)
    assert answer["total"] == len([r for r in about_linda if r.processing_activity_id != FIOD])
    assert all(p["available"] for p in answer["organisations"])
    assert len(answer["organisations"]) == len(ORGANISATIONS)
    assert len(answer["traces"]) == 7  # 8 of Linda's life-event requests, the FIOD one hidden


def test_the_printed_read_api_example_works(demo: DemoRun, inzicht: TestClient) -> None:
    match = re.search(
        r"curl -s -X POST http://[\d.:]+(/lezenapi/v1/processing-activities) .*-d '(\{.*\})'", demo.first.stdout
    )
    assert match, demo.first.stdout
    token = (demo.secrets.directory / "linda.token").read_text()
    response = inzicht.post(
        match.group(1),
        content=match.group(2),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    found = response.json()["processingActivities"]
    linda = demo.pseudonyms(LINDA_BSN)
    expected = [r for r in demo.records if r.data_subject_id in linda and r.processing_activity_id != FIOD]
    assert len(found) == len(expected) > 20


def test_ben_sees_only_his_own(demo: DemoRun, inzicht: TestClient) -> None:
    inzicht.cookies.clear()
    token = mint_demo_token(demo.secrets.api_kwargs()["auth_settings"], BEN_BSN)
    html = inzicht.get("/inzage/", headers={"Authorization": f"Bearer {token}"}).text
    assert "Wet op de zorgtoeslag" in html and "Wet basisregistratie personen" in html
    for not_his in ("Wet op de huurtoeslag", "Werkloosheidswet", "Participatiewet", "Wet kinderopvang"):
        assert not_his not in html, not_his
    answer = inzicht.get("/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {token}"}).json()
    ben = demo.pseudonyms(BEN_BSN)
    assert answer["total"] == len([r for r in demo.records if r.data_subject_id in ben]) == 7


def test_lindas_page_summarises_each_life_event_and_draws_who_asked_whom(demo: DemoRun, inzicht: TestClient) -> None:
    """The summary per life event and the flow picture, against the demo's own stored records."""
    register = load_register_files([REPO_ROOT / "demo" / "register"])

    def name(record: LogRecord) -> str:
        org = register.organisation_by_ref(record.resource_attributes[attr.ORGANISATION])
        assert org is not None
        return org.name

    linda = demo.pseudonyms(LINDA_BSN)
    mine = [r for r in demo.records if r.data_subject_id in linda and r.processing_activity_id != FIOD]
    traces: dict[bytes, list[LogRecord]] = {}
    for r in mine:
        traces.setdefault(r.trace_id, []).append(r)
    newest_first = sorted(traces.values(), key=lambda rs: min(r.start_time_ns for r in rs), reverse=True)
    token = mint_demo_token(demo.secrets.api_kwargs()["auth_settings"], LINDA_BSN)
    inzicht.cookies.clear()
    html = inzicht.get("/inzage/", headers={"Authorization": f"Bearer {token}"}).text
    events = re.split(r'<li class="gebeurtenis" id="gebeurtenis-\d+">', html)[1:]
    assert len(events) == len(newest_first) == 7
    for event, records in zip(events, newest_first):
        counts: dict[str, int] = {}
        for r in records:
            counts[name(r)] = counts.get(name(r), 0) + 1
        shown = re.findall(r'<th scope="row">([^<]+)</th>\s*<td>[^<]*</td>\s*<td class="getal">(\d+)</td>', event)
        assert {org: int(n) for org, n in shown} == counts
        spans = {r.span_id.hex(): r for r in records}
        expected = {
            (name(spans[r.attributes[attr.FOREIGN_OPERATION_SPAN_ID]]), name(r))
            for r in records
            if r.attributes.get(attr.FOREIGN_OPERATION_SPAN_ID) in spans
            and name(spans[r.attributes[attr.FOREIGN_OPERATION_SPAN_ID]]) != name(r)
        }
        drawn = set(re.findall(r'class="stroom-pijl" data-nummer="\d+" data-van="([^"]+)" data-naar="([^"]+)"', event))
        listed = set(re.findall(r'<li data-nummer="\d+" data-van="([^"]+)" data-naar="([^"]+)"', event))
        assert drawn == listed == expected
    assert sum("stroom-pijl" in event for event in events) >= 5  # most life events cross organisations

    pdf = inzicht.get("/inzage/overzicht.pdf", headers={"Authorization": f"Bearer {token}"})
    assert pdf.status_code == 200 and pdf.headers["content-disposition"].startswith("attachment;")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf.content)).pages).split())
    assert f"6 organisaties gebruikten uw gegevens {len(mine)} keer, bij 7 gebeurtenissen." in text
    for org in register.organisations.values():
        assert org.name in text, org.name
    assert "FIOD" not in text and "Wet op de huurtoeslag" in text
