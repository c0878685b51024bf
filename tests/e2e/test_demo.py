"""`ldv demo` end to end: real services with the SDK -> OTLP -> each organisation's Logboek ->
the shared Logboek's citizen page, which reads the others with exchanged tokens.

The demo runs as a subprocess twice on the same data directory: first with
`--exit-after-scenario`, then (a restart: it must keep the keys and not repeat the scenario)
until it is ready, while this test reads Linda's and Ben's pages from the running demo, stops
UWV's own Logboek, reads Linda's page again, and stops the demo with SIGINT. Only then does
this test process open the stores (chDB opens a data directory from one process at a time): the
shared one and the Belastingdienst's and UWV's own, and checks the records, the chains across
organisations and Logboeken, and the pseudonyms.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from ldv_inzicht._auth import mint_demo_token
from ldv_logboek import LogRecord, Status
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import is_pseudonym, pseudonymise
from ldv_logboek.register import Register, load_register_files
from ldv_logboek.storage import LogStore, RecordQuery, connect
from ldv_suite.demo.keys import DemoSecrets
from ldv_suite.demo.people import BEN_BSN, DAAN_BSN, LINDA_BSN, NOOR_BSN
from ldv_suite.demo.run import OWN_LOGBOEKEN
from ldv_suite.demo.services import MODULES, service_module
from tests.conftest import REPO_ROOT
from tests.e2e.serve_process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
READY_WITHIN_SECONDS = 60

ORGANISATIONS = set(MODULES)
ALL_BSNS = (LINDA_BSN, NOOR_BSN, DAAN_BSN, BEN_BSN)
FIOD = "https://register.belastingdienst.example/processing-activities/fiod-fraudeonderzoek"


def _demo_command(data_dir: Path, api_port: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "ldv_suite.cli", "demo",
        "--data-dir", str(data_dir),
        "--api-port", str(api_port),
        "--otlp-http-port", str(free_port()),
        *extra,
    ]  # fmt: skip


ENV = {**os.environ, "COLUMNS": "250"}


def _run_demo(data_dir: Path) -> subprocess.CompletedProcess[str]:
    cmd = _demo_command(data_dir, free_port(), "--exit-after-scenario")
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, env=ENV, cwd=REPO_ROOT)


@dataclass
class Live:
    """What the running demo answered, read over HTTP while it ran."""

    ready_seconds: float = 0.0
    stdout: str = ""
    linda_html: str = ""
    linda_pdf: bytes = b""
    linda: dict[str, Any] = field(default_factory=dict)
    ben_html: str = ""
    ben: dict[str, Any] = field(default_factory=dict)
    read_api_example: list[dict[str, Any]] = field(default_factory=list)
    without_uwv_html: str = ""
    without_uwv: dict[str, Any] = field(default_factory=dict)
    returncode: int | None = None


def _run_live(data_dir: Path, live: Live) -> None:
    """Restart the demo, read the pages while it runs, stop UWV's Logboek, read again, stop it."""
    api_port = free_port()
    out = data_dir.parent / "live.out"
    started = time.monotonic()
    with out.open("w") as handle:
        proc = subprocess.Popen(
            _demo_command(data_dir, api_port), stdout=handle, stderr=subprocess.STDOUT, env=ENV, cwd=REPO_ROOT
        )
    try:
        while "LDV demo ready" not in out.read_text() or "Ctrl-C" not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() - started < 120, out.read_text()
            time.sleep(0.2)
        live.ready_seconds = time.monotonic() - started
        secrets = DemoSecrets.existing(data_dir)
        auth = secrets.api_kwargs()["auth_settings"]
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as client:
            # Linda through the demo login form, as a person would.
            assert client.post("/inzage/inloggen", data={"bsn": LINDA_BSN}).status_code in (200, 303)
            live.linda_html = client.get("/inzage/").text
            pdf = client.get("/inzage/overzicht.pdf")
            assert pdf.status_code == 200 and pdf.headers["content-disposition"].startswith("attachment;")
            live.linda_pdf = pdf.content
            client.cookies.clear()
            linda = {"Authorization": f"Bearer {mint_demo_token(auth, LINDA_BSN)}"}
            ben = {"Authorization": f"Bearer {mint_demo_token(auth, BEN_BSN)}"}
            live.linda = client.get("/inzage/v1/mijn-verwerkingen", headers=linda).json()
            live.ben_html = client.get("/inzage/", headers=ben).text
            live.ben = client.get("/inzage/v1/mijn-verwerkingen", headers=ben).json()
            match = re.search(
                r"curl -s -X POST http://[\d.:]+(/lezenapi/v1/processing-activities) .*-d '(\{.*\})'", out.read_text()
            )
            assert match, out.read_text()
            token = (secrets.directory / "linda.token").read_text()
            response = client.post(
                match.group(1),
                content=match.group(2),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
            live.read_api_example = response.json()["processingActivities"]
            # UWV's Logboek goes down; the rest of Linda's overview must still show.
            uwv = json.loads((secrets.directory / "logboeken.json").read_text())["uwv"]["pid"]
            os.kill(uwv, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while os.path.exists(f"/proc/{uwv}") and "zombie" not in _state(uwv):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            live.without_uwv_html = client.get("/inzage/", headers=linda).text
            live.without_uwv = client.get("/inzage/v1/mijn-verwerkingen", headers=linda).json()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        live.returncode = proc.wait(timeout=90)
        live.stdout = out.read_text()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def _read_store(data_dir: Path, register: Register) -> tuple[list[LogRecord], str]:
    """Every record of a register activity in the store at `data_dir`, and a dump of its table."""
    store = LogStore(connect(f"chdb://{data_dir.resolve()}"))
    try:
        records: list[LogRecord] = []
        for activity in register.activities:
            records += store.find(RecordQuery(processing_activity_id=activity, limit=1000)).records
        assert store.count() == len(records)  # every record names a register activity
        return records, repr(store.query_rows("SELECT * FROM otel_traces", {}))
    finally:
        store.close()


class DemoRun:
    def __init__(self, data_dir: Path, first: subprocess.CompletedProcess[str], live: Live,
                 keys_before: dict[str, str]) -> None:  # fmt: skip
        self.data_dir = data_dir
        self.first = first
        self.live = live
        self.keys_before = keys_before
        self.secrets = DemoSecrets.existing(data_dir)
        self.register: Register = load_register_files([REPO_ROOT / "demo" / "register"])
        # Each Logboek's records: the organisations that keep their own, then the shared one.
        self.records_of: dict[str, list[LogRecord]] = {}
        self.dump = ""
        for logboek in (*OWN_LOGBOEKEN, "gedeeld"):
            folder = data_dir / "logboeken" / logboek if logboek != "gedeeld" else data_dir
            self.records_of[logboek], dump = _read_store(folder, self.register)
            self.dump += dump
        self.records: list[LogRecord] = [r for records in self.records_of.values() for r in records]
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
    live = Live()
    _run_live(data_dir, live)  # a restart on the same data directory
    assert live.returncode == 0, live.stdout
    yield DemoRun(data_dir, first, live, keys_before)


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
    assert "the scenario ran before" in demo.live.stdout
    assert "LDV demo stopped" in demo.live.stdout
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
    dump = demo.dump
    for bsn in ALL_BSNS:
        assert bsn not in dump


def test_each_organisation_logs_into_its_own_logboek(demo: DemoRun) -> None:
    """Belastingdienst and UWV keep their own Logboek (own store, own key); the others share one."""
    for logboek, records in demo.records_of.items():
        expected = {logboek} if logboek in OWN_LOGBOEKEN else ORGANISATIONS - set(OWN_LOGBOEKEN)
        assert {_org(r) for r in records} == expected, logboek
    index = json.loads((demo.secrets.directory / "logboeken.json").read_text())
    assert set(index) == set(OWN_LOGBOEKEN)
    read_apis = {o.code: o.read_api_url for o in demo.register.organisations.values()}
    assert {org: entry["identifier"] for org, entry in index.items()} == {org: read_apis[org] for org in OWN_LOGBOEKEN}


def test_the_demo_is_ready_within_a_minute(demo: DemoRun) -> None:
    assert demo.live.ready_seconds < READY_WITHIN_SECONDS
    ready = demo.live.stdout.split("LDV demo ready", 1)[1].split("Ctrl-C stops the demo.", 1)[0]
    assert len(ready.splitlines()) <= 30  # one screen


def _about(demo: DemoRun, bsn: str) -> list[LogRecord]:
    ids = demo.pseudonyms(bsn)
    return [r for r in demo.records if r.data_subject_id in ids]


def test_linda_sees_her_processings_from_every_logboek_but_not_the_fiod(demo: DemoRun) -> None:
    html = demo.live.linda_html
    for law in (
        "Wet op de huurtoeslag", "Wet op de zorgtoeslag", "Wet kinderopvang", "Werkloosheidswet",
        "Participatiewet", "Wet basisregistratie personen", "Wet inkomstenbelasting 2001",
    ):  # fmt: skip
        assert law in html, law
    for organisation in ("Burger.nl", "Gemeente Amsterdam", "Dienst Toeslagen", "Belastingdienst", "RvIG", "UWV"):
        assert organisation in html, organisation
    assert "Inkomen opvragen bij de Belastingdienst" in html
    assert "FIOD" not in html and "fraude" not in html.lower()
    assert "niet beschikbaar" not in html
    # Where the information came from: the own Logboeken, named by their organisation (not their address).
    assert "opgevraagd bij het Logboek van UWV" in html

    # The same through the JSON API: every record about Linda in every Logboek except the confidential one.
    answer = demo.live.linda
    about_linda = _about(demo, LINDA_BSN)
    assert any(r.processing_activity_id == FIOD for r in about_linda)
    assert {_org(r) for r in about_linda if r.processing_activity_id != FIOD} == ORGANISATIONS
    assert answer["total"] == len([r for r in about_linda if r.processing_activity_id != FIOD])
    assert all(p["available"] for p in answer["organisations"])
    assert len(answer["organisations"]) == len(ORGANISATIONS)
    sources = {p["organisation"]["code"]: p["source"] for p in answer["organisations"]}
    read_apis = {o.code: o.read_api_url for o in demo.register.organisations.values()}
    assert sources == {org: read_apis[org] if org in OWN_LOGBOEKEN else "local" for org in ORGANISATIONS}
    assert len(answer["traces"]) == 7  # 8 of Linda's life-event requests, the FIOD one hidden


def test_lindas_records_from_every_logboek_are_checked_against_its_log(demo: DemoRun) -> None:
    """The shared Logboek's records and those read from the Belastingdienst's and UWV's own
    Logboeken: each checked against its own log, cosigned by the supervisor's witness."""
    checks = demo.live.linda["checks"]
    by_source = {c["source"]: c for c in checks}
    read_apis = {o.code: o.read_api_url for o in demo.register.organisations.values()}
    assert set(by_source) == {"local", *(read_apis[org] for org in OWN_LOGBOEKEN)}, checks
    for check in checks:
        assert check["ok"], check
        assert check["witnesses"] == ["de Autoriteit Persoonsgegevens"], check
    for org in OWN_LOGBOEKEN:
        check = by_source[read_apis[org]]
        assert check["origin"] == f"logboek.demo/{org}"
        assert check["label"].startswith("Gecontroleerd: elke verwerking hieronder van ") and "opgevraagd bij een ander Logboek" in check["label"]
    assert all(p["verified"] for t in demo.live.linda["traces"] for g in t["organisations"] for p in g["processings"])


def test_a_logboek_that_is_down_is_named_and_the_rest_still_shows(demo: DemoRun) -> None:
    answer, html = demo.live.without_uwv, demo.live.without_uwv_html
    uwv = [p for p in answer["organisations"] if p["organisation"]["code"] == "uwv"]
    assert uwv and not uwv[0]["available"] and uwv[0]["statusLabel"] == "niet beschikbaar op dit moment"
    assert all(p["available"] for p in answer["organisations"] if p["organisation"]["code"] != "uwv")
    assert "niet beschikbaar op dit moment" in html and "Werkloosheidswet" not in html
    assert "Wet inkomstenbelasting 2001" in html  # the Belastingdienst's own Logboek still answers
    visible = [r for r in _about(demo, LINDA_BSN) if r.processing_activity_id != FIOD]
    assert answer["total"] == len([r for r in visible if _org(r) != "uwv"]) < demo.live.linda["total"]


def test_the_printed_read_api_example_works(demo: DemoRun) -> None:
    """The printed curl reads the shared Logboek: Linda's records of the organisations that log there."""
    found = demo.live.read_api_example
    expected = [
        r for r in demo.records_of["gedeeld"] if r.data_subject_id in demo.pseudonyms(LINDA_BSN)
    ]  # the FIOD is the Belastingdienst's, in its own Logboek
    assert len(found) == len(expected) > 15


def test_ben_sees_only_his_own(demo: DemoRun) -> None:
    html = demo.live.ben_html
    assert "Wet op de zorgtoeslag" in html and "Wet basisregistratie personen" in html
    for not_his in ("Wet op de huurtoeslag", "Werkloosheidswet", "Participatiewet", "Wet kinderopvang"):
        assert not_his not in html, not_his
    assert demo.live.ben["total"] == len(_about(demo, BEN_BSN)) == 7


def test_lindas_page_summarises_each_life_event_and_draws_who_asked_whom(demo: DemoRun) -> None:
    """The summary per life event and the flow picture, against the stored records of all three Logboeken."""
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
    html = demo.live.linda_html
    events = re.split(r'<li class="gebeurtenis" id="gebeurtenis-\d+">', html)[1:]
    assert len(events) == len(newest_first) == 7
    for event, records in zip(events, newest_first):
        counts: dict[str, int] = {}
        for r in records:
            counts[name(r)] = counts.get(name(r), 0) + 1
        shown = re.findall(
            r'<th scope="row"[^>]*>([^<]+)</th>\s*<td[^>]*>[^<]*</td>\s*<td[^>]*class="getal"[^>]*>(\d+)</td>', event
        )
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

    pdf = demo.live.linda_pdf
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages).split())
    assert f"6 organisaties gebruikten uw gegevens {len(mine)} keer, bij 7 gebeurtenissen." in text
    for org in register.organisations.values():
        assert org.name in text, org.name
    # The receipts' appendix is base64 (random to the eye: "FIOD" may occur in it); what the PDF
    # says in words is before it, and no activity's name of the FIOD is anywhere.
    words = text.split("Bijlage: bewijzen uit het onveranderbare logboek")[0]
    assert "Bijlage: bewijzen uit het onveranderbare logboek" in text
    assert "FIOD" not in words and "fiscale fraude" not in text and "Wet op de huurtoeslag" in words


def test_the_single_logboek_mode_puts_everyone_in_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "single"
    cmd = _demo_command(data_dir, free_port(), "--exit-after-scenario", "--single-logboek")
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, env=ENV, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Token service" not in done.stdout and not (data_dir / "logboeken").exists()
    records, _ = _read_store(data_dir, load_register_files([REPO_ROOT / "demo" / "register"]))
    assert {_org(r) for r in records} == ORGANISATIONS


def test_every_logboek_keeps_a_transparency_log_the_supervisors_witness_cosigned(demo: DemoRun) -> None:
    state = json.loads((demo.secrets.directory / "ap-witness.json").read_text())["logs"]
    origins = {"logboek.demo/gedeeld", *(f"logboek.demo/{org}" for org in OWN_LOGBOEKEN)}
    assert origins <= set(state), sorted(state)
    assert all(state[origin]["size"] > 0 and "— witness.autoriteitpersoonsgegevens.demo/ap " in state[origin]["note"] for origin in origins)
    assert "witness of the Autoriteit Persoonsgegevens" in demo.first.stdout
    # The supervisor audits each store that stopped cleanly (UWV's was killed during the live run).
    for folder in (demo.data_dir, *(demo.data_dir / "logboeken" / org for org in OWN_LOGBOEKEN if org != "uwv")):
        audit = subprocess.run(
            [sys.executable, "-m", "ldv_suite.cli", "audit", "--data-dir", str(folder)], capture_output=True, text=True, timeout=300
        )
        assert audit.returncode == 0, audit.stdout + audit.stderr
