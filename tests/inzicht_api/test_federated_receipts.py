"""Records read from another Logboek are checked against that Logboek's transparency log
(issue #15 item 4, the federated inzage).

Two real Logboeken over real HTTP on loopback: A (the citizen's page; it does not serve UWV)
and B (UWV's own Logboek, whose records went through the collector's writer with B's log on,
checkpoints signed by B's log key and cosigned by the supervisor's witness). chDB opens one
store per process, so A and B share it, as in test_token_exchange: A holds no key of UWV and
no log of its own, so all it knows of B's records comes from B's read API,
and the demo issuer's token exchange between them. A asks B for the citizen's records and,
per record, B's proof route with `?opening=true`: the receipt, checked under B's log key and
the witness, and the record's opening, which must give the receipt's entry and be the record
shown. Without B's log (records stored past the writer) every positive assertion here fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings
from ldv_logboek import LogRecord, trace_id_as_uuid
from ldv_logboek.register import load_register_files
from ldv_logboek.storage import LogStore, RegisterStore, connect
from ldv_logboek.tlog import COSIGNATURE_V1, RecordOpening, Signer, verify_receipt
from ldv_suite.demo.token_service import DemoIssuer, create_token_service_app
from tests.inzicht_api.inzage_support import (
    DEMO_REGISTER,
    ISSUER,
    LINDA,
    Server,
    auth_settings,
    citizen,
    free_port,
    make_app,
    other_key,
    record,
    write_jwks,
)
from tests.inzicht_api.inzage_support import Signer as TokenSigner
from tests.inzicht_api.test_log_proofs import logged as log_records
from tests.inzicht_api.test_log_proofs import rename_stored
from tests.inzicht_api.test_token_exchange import CLIENT_ID, CLIENT_SECRET, LOGBOEK_A, LOGBOEK_B, UWV_WW

LOG_B = Signer.generate("logboek.uwv.example/lezen")
WITNESS = Signer.generate("toezicht.test/ap", COSIGNATURE_V1)
AP = "de Autoriteit Persoonsgegevens"
INZAGE = "/inzage/v1/mijn-verwerkingen"

pytestmark = pytest.mark.timeout(180)


@dataclass
class Federation:
    tokens: TokenSigner
    jwks: Path
    a_store: LogStore
    b_store: LogStore
    b_url: str
    token_url: str
    logged: list[LogRecord]  # Linda's records at B, through B's log

    def a(self, **inzage: object) -> TestClient:
        options: dict[str, object] = {
            "log_keys": (LOG_B.verifier.vkey,), "witnesses": {AP: WITNESS.verifier.vkey},
            "logboeken": (LOGBOEK_B,), "read_api_addresses": {LOGBOEK_B: self.b_url},
            "token_endpoint": self.token_url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        }  # fmt: skip
        options.update(inzage)
        # A generous timeout: B is a real server in this process, on a machine that may be busy.
        return TestClient(make_app(self.a_store, self.jwks, follow_chain=False, timeout=30.0, **options))


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("federated-receipts")
    store = LogStore(connect(f"chdb://{tmp / 'store'}"))
    store.migrate()
    RegisterStore(store).save(load_register_files([DEMO_REGISTER]))
    a_store = b_store = store  # one chDB store per process (see the module's docstring)
    now = time.time()
    logged = [
        record(LINDA, "uwv", UWV_WW, name="WW-aanvraag beoordelen", when=now - 3600, trace_id=b"\x01" * 16),
        record(LINDA, "uwv", UWV_WW, name="WW-uitkering berekenen", when=now - 1800, trace_id=b"\x03" * 16),
    ]
    log_records(b_store, logged, LOG_B, WITNESS)
    tokens = TokenSigner.generate("issuer-1")
    jwks = write_jwks(tmp / "jwks.json", tokens)
    issuer = DemoIssuer(
        ISSUER, tokens.private_pem, tokens.kid, json.loads(jwks.read_text()), frozenset({LOGBOEK_A, LOGBOEK_B})
    )
    issuer.register_client(CLIENT_ID, SecretStr(CLIENT_SECRET), LOGBOEK_A)
    b_port = free_port()
    b_app = create_app(
        b_store, ApiSettings(organisation_keys={"uwv": other_key("uwv")}), auth_settings=auth_settings(jwks, audience=LOGBOEK_B)
    )
    with Server(create_token_service_app(issuer)) as token_service, Server(b_app, b_port):
        yield Federation(
            tokens, jwks, a_store, b_store, f"http://127.0.0.1:{b_port}/lezenapi/v1", token_service + "/token", logged
        )
    store.close()


def _processings(body: dict) -> list[dict]:
    return [p for t in body["traces"] for g in t["organisations"] for p in g["processings"]]


def _remote_check(body: dict) -> dict:
    [check] = [c for c in body["checks"] if c["source"] != "local"]
    return check


def test_the_proof_route_gives_the_opening_that_gives_the_receipts_entry(federation: Federation) -> None:
    r = federation.logged[0]
    token = federation.tokens.token(bsn=LINDA, roles=["citizen"], aud=LOGBOEK_B)
    url = f"{federation.b_url}/processing-activities/{trace_id_as_uuid(r.trace_id.hex())}/{r.span_id.hex()}/proof"
    answer = httpx.get(url, params={"opening": "true"}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    _, receipt, _ = verify_receipt(body["receipt"], LOG_B.verifier, [WITNESS.verifier], 1)
    opening = RecordOpening.from_json(body["opening"])
    assert opening.entry() == receipt.entry
    assert opening.field("SpanName") == r.name and opening.field("SpanId") == r.span_id.hex()
    # Without the flag: the plain receipt, as before.
    plain = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert plain.headers["content-type"].startswith("text/plain") and plain.text == body["receipt"]


def test_records_of_another_logboek_are_checked_against_its_log(federation: Federation) -> None:
    answer = federation.a().get(INZAGE, headers=citizen(federation.tokens, LINDA))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    processings = _processings(body)
    assert {p["spanId"] for p in processings} == {r.span_id.hex() for r in federation.logged}, body["organisations"]
    assert all(p["verified"] is True for p in processings)
    for p in processings:
        verify_receipt(p["receipt"], LOG_B.verifier, [WITNESS.verifier], 1)
    check = _remote_check(body)
    assert check["ok"] and check["verified"] == 2 and check["origin"] == LOG_B.name and check["witnesses"] == [AP]
    assert check["label"].startswith("Gecontroleerd: elke verwerking hieronder van UWV, opgevraagd bij een ander Logboek, ")
    assert f"staat in het onveranderbare logboek {LOG_B.name}, bevestigd door {AP} op " in check["label"]


def test_without_the_other_logboeks_key_nothing_is_claimed(federation: Federation) -> None:
    body = federation.a(log_keys=()).get(INZAGE, headers=citizen(federation.tokens, LINDA)).json()
    check = _remote_check(body)
    assert not check["ok"] and check["unchecked"] == 2 and "geen sleutel" in check["label"]
    # Another key under the same name: the signature fails, and the page says so.
    impostor = Signer.generate(LOG_B.name)
    body = federation.a(log_keys=(impostor.verifier.vkey,)).get(INZAGE, headers=citizen(federation.tokens, LINDA)).json()
    check = _remote_check(body)
    assert check["failed"] == 2 and check["label"].startswith("Let op: bij 2 verwerkingen van UWV, opgevraagd bij een ander Logboek,")


def test_a_record_changed_at_the_other_logboek_fails_the_check(federation: Federation) -> None:
    # Last in this module with the logged records: it changes B's store, as B's administrator
    # could. B's receipt still verifies, but the opening B now gives is not the logged entry.
    target = federation.logged[0]
    rename_stored(federation.b_store, target.span_id)
    body = federation.a().get(INZAGE, headers=citizen(federation.tokens, LINDA)).json()
    verified = {p["spanId"]: p["verified"] for p in _processings(body)}
    assert verified == {target.span_id.hex(): False, federation.logged[1].span_id.hex(): True}
    check = _remote_check(body)
    assert not check["ok"] and check["failed"] == 1
    assert check["label"].startswith("Let op: bij 1 verwerking van UWV, opgevraagd bij een ander Logboek, klopt de controle")


def test_records_the_other_logboek_never_logged_stay_unchecked(federation: Federation) -> None:
    unlogged = record(LINDA, "uwv", UWV_WW, name="WW-aanvraag beoordelen", when=time.time() - 600, trace_id=b"\x05" * 16)
    federation.b_store.insert([unlogged])  # past B's collector: in no log
    body = federation.a().get(INZAGE, headers=citizen(federation.tokens, LINDA)).json()
    verified = {p["spanId"]: p["verified"] for p in _processings(body)}
    assert verified[unlogged.span_id.hex()] is None
    unchecked = [c for c in body["checks"] if c["source"] != "local" and not c["origin"]]
    assert [c["unchecked"] for c in unchecked] == [1]
    assert unchecked[0]["label"].startswith("Niet gecontroleerd: 1 verwerking van UWV, opgevraagd bij een ander Logboek, is niet")
