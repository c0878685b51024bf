"""Proofs to the people who read (issue #15 item 4), on a real chDB store whose records went
through the collector's writer with the transparency log on, checkpoints signed by the log key
and cosigned by a witness key:

- the read API's proof route gives a receipt only for a record the caller may read, and the
  same 404 for someone else's record, a confidential one and one that does not exist;
- the inzage API carries each record's receipt, checked here against the configured keys and
  the stored record, and says in Dutch what was checked, honestly when it was not or failed;
- the PDF carries the receipts (appendix and attachment) and `ldv verify pdf` checks them,
  refusing a tampered one.

With the log switched off the records have no receipts: every positive assertion fails.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from typer.testing import CliRunner

from ldv_collector import GroupCommitWriter
from ldv_inzicht.inzage._pdf import RECEIPTS_NAME
from ldv_logboek import LogRecord
from ldv_logboek.storage import RECORDS_TABLE, LogStore, LogTables, TransparencyLog, connect
from ldv_logboek.tlog import COSIGNATURE_V1, Signer, cosign, sign_note, verify_receipt
from ldv_suite.cli import app as ldv_app
from tests.inzicht_api.inzage_support import (
    ACT,
    BEN,
    LINDA,
    citizen,
    make_app,
    organisation,
    record,
    supervisor,
    write_jwks,
)
from tests.inzicht_api.inzage_support import Signer as TokenSigner

LOG = Signer.generate("logboek.test/proofs")
WITNESS = Signer.generate("toezicht.test/ap", COSIGNATURE_V1)
AP = "de Autoriteit Persoonsgegevens"
PROOF = "/lezenapi/v1/processing-activities/{}/{}/proof"
INZAGE = "/inzage/v1/mijn-verwerkingen"


class Env:
    def __init__(self, store: LogStore, issuer: TokenSigner, jwks: Path):
        self.store = store
        self.issuer = issuer
        self.jwks = jwks
        self.linda: list[LogRecord] = []
        self.ben: list[LogRecord] = []
        self.confidential: LogRecord | None = None
        self.unlogged: LogRecord | None = None

    def client(self, **inzage: object) -> TestClient:
        options: dict[str, object] = {"log_keys": (LOG.verifier.vkey,), "witnesses": {AP: WITNESS.verifier.vkey}}
        options.update(inzage)
        return TestClient(make_app(self.store, self.jwks, follow_chain=False, **options))


def rename_stored(store: LogStore, span_id: bytes) -> None:
    """Change the stored record `span_id`'s name directly in `store`, as its administrator could
    (behind the collector's back: its leaf stays as logged)."""
    with store.writer_lock:
        store.client.command(
            f"ALTER TABLE {RECORDS_TABLE} UPDATE SpanName = 'iets anders' WHERE SpanId = '{span_id.hex()}' "
            "SETTINGS mutations_sync = 1"
        )


def logged(store: LogStore, records: list[LogRecord], key: Signer = LOG, witness: Signer = WITNESS) -> None:
    """`records` through the collector's writer with the log of `key` on, then a checkpoint
    signed by `key` and cosigned by `witness`."""
    log = TransparencyLog.open(store, key)
    writer = GroupCommitWriter(store, max_batch_wait_ms=0, log=log)
    writer.start()
    try:
        writer.submit(records).result(timeout=60)
    finally:
        writer.stop()
    head = log.head()
    note = sign_note(head.text, key)
    LogTables(store, key.name).save_checkpoint(head, note.with_signatures((cosign(head.text, witness, int(time.time())),)))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('proofs')}"))
    store.migrate()
    issuer = TokenSigner.generate("issuer-1")
    e = Env(store, issuer, write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", issuer))
    now, day = time.time(), 86_400
    e.linda = [
        record(LINDA, "dienst-toeslagen", ACT["huurtoeslag"], name="huurtoeslag aanvragen", when=now - 3 * day, trace_id=os.urandom(16)),
        record(LINDA, "belastingdienst", ACT["inkomen"], name="inkomen verstrekken", when=now - 2 * day, trace_id=os.urandom(16)),
    ]
    e.ben = [record(BEN, "belastingdienst", ACT["inkomen"], name="inkomen verstrekken", when=now - day, trace_id=os.urandom(16))]
    e.confidential = record(LINDA, "belastingdienst", ACT["fiod"], name="transacties analyseren", when=now - day, trace_id=os.urandom(16))
    logged(store, [*e.linda, *e.ben, e.confidential])
    yield e
    store.close()


def _ids(r: LogRecord) -> tuple[str, str]:
    return r.trace_id.hex(), r.span_id.hex()


def test_a_reader_gets_the_receipt_of_a_record_they_may_read(env: Env) -> None:
    client = env.client()
    for r in env.linda:
        answer = client.get(PROOF.format(*_ids(r)), headers=citizen(env.issuer, LINDA))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        checkpoint, receipt, cosigned = verify_receipt(answer.text, LOG.verifier, [WITNESS.verifier], 1)
        assert cosigned == [WITNESS.name] and checkpoint.size == 4
        # The receipt's entry is the one the stored record gives: the record read is the record logged.
        assert LogTables(env.store, LOG.name).record_entries(receipt.index, receipt.index + 1)[receipt.index] == receipt.entry
    own = client.get(PROOF.format(*_ids(env.ben[0])), headers=organisation(env.issuer, "belastingdienst"))
    assert own.status_code == 200
    assert client.get(PROOF.format(*_ids(env.ben[0])), headers=supervisor(env.issuer)).status_code == 200


def test_a_proof_is_no_oracle_for_records_the_reader_may_not_read(env: Env) -> None:
    client = env.client()
    assert env.confidential is not None
    missing = client.get(PROOF.format(os.urandom(16).hex(), os.urandom(8).hex()), headers=citizen(env.issuer, LINDA))
    assert missing.status_code == 404
    for r, headers in [
        (env.ben[0], citizen(env.issuer, LINDA)),  # someone else's record
        (env.confidential, citizen(env.issuer, LINDA)),  # her own, of a confidential activity
        (env.linda[0], organisation(env.issuer, "belastingdienst")),  # another organisation's record
    ]:
        answer = client.get(PROOF.format(*_ids(r)), headers=headers)
        assert answer.status_code == 404
        # The very same answer as for no record at all (but for the problem's own instance id).
        assert {**answer.json(), "instance": ""} == {**missing.json(), "instance": ""}
    assert client.get(PROOF.format(*_ids(env.linda[0]))).status_code == 401
    assert client.get(PROOF.format("x" * 32, "0" * 16), headers=citizen(env.issuer, LINDA)).status_code == 400


def _processings(body: dict) -> list[dict]:
    return [p for t in body["traces"] for g in t["organisations"] for p in g["processings"]]


def test_the_inzage_carries_checked_receipts_and_says_against_what(env: Env) -> None:
    answer = env.client().get(INZAGE, headers=citizen(env.issuer, LINDA))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    processings = _processings(body)
    assert {p["spanId"] for p in processings} == {r.span_id.hex() for r in env.linda}
    for p in processings:
        assert p["verified"] is True
        verify_receipt(p["receipt"], LOG.verifier, [WITNESS.verifier], 1)
    [check] = body["checks"]
    assert check["ok"] and check["verified"] == 2 and check["witnesses"] == [AP] and check["checkpointSize"] == 4
    assert check["label"].startswith("Gecontroleerd: elke verwerking hieronder van ")
    assert f"staat in het onveranderbare logboek {LOG.name}, bevestigd door {AP} op " in check["label"]


def test_the_inzage_claims_nothing_it_could_not_check(env: Env) -> None:
    # Another log key configured than the one that signed: no check, and it says so.
    other = Signer.generate(LOG.name)
    body = env.client(log_keys=(other.verifier.vkey,)).get(INZAGE, headers=citizen(env.issuer, LINDA)).json()
    assert all(p["verified"] is False for p in _processings(body))
    [check] = body["checks"]
    assert not check["ok"] and check["failed"] == 2 and check["label"].startswith("Let op: bij 2 verwerkingen")
    # No key at all: not checked, said so, never "Gecontroleerd".
    body = env.client(log_keys=()).get(INZAGE, headers=citizen(env.issuer, LINDA)).json()
    [check] = body["checks"]
    assert not check["ok"] and check["unchecked"] == 2 and "geen sleutel" in check["label"]
    # A witness that did not cosign is required: failed.
    stranger = Signer.generate("toezicht.test/other", COSIGNATURE_V1)
    body = env.client(witnesses={"een ander": stranger.verifier.vkey}).get(INZAGE, headers=citizen(env.issuer, LINDA)).json()
    assert body["checks"][0]["failed"] == 2


def test_the_pdf_carries_the_receipts_and_ldv_verify_pdf_checks_them(env: Env, tmp_path: Path) -> None:
    client = env.client()
    pdf = client.get("/inzage/overzicht.pdf", headers=citizen(env.issuer, LINDA))
    assert pdf.status_code == 200, pdf.text
    reader = PdfReader(BytesIO(pdf.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Gecontroleerd: elke verwerking" in " ".join(text.split())
    assert "Bijlage: bewijzen uit het onveranderbare logboek" in text
    receipts = json.loads(reader.attachments[RECEIPTS_NAME][0])["receipts"]
    assert {r["record"].split("/")[1] for r in receipts} == {r.span_id.hex() for r in env.linda}
    path = tmp_path / "overzicht.pdf"
    path.write_bytes(pdf.content)
    runner = CliRunner()
    keys = ["--log-key", LOG.verifier.vkey, "--witness-key", WITNESS.verifier.vkey]
    ok = runner.invoke(ldv_app, ["verify", "pdf", str(path), *keys])
    assert ok.exit_code == 0, ok.output
    assert "OK: 2 receipts" in ok.output
    # A receipt changed in the PDF (another index) does not verify.
    receipts[0]["receipt"] = receipts[0]["receipt"].replace("\nindex ", "\nindex 1", 1)
    tampered = _pdf_with(reader, receipts, tmp_path / "tampered.pdf")
    bad = runner.invoke(ldv_app, ["verify", "pdf", str(tampered), *keys])
    assert bad.exit_code == 1 and "FAILED" in bad.output
    # Without a witness's cosignature required by the key given: refused too.
    stranger = Signer.generate("toezicht.test/other", COSIGNATURE_V1)
    assert runner.invoke(ldv_app, ["verify", "pdf", str(path), "--log-key", LOG.verifier.vkey,
                                   "--witness-key", stranger.verifier.vkey]).exit_code == 1  # fmt: skip


def _pdf_with(reader: PdfReader, receipts: list[dict], path: Path) -> Path:
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.add_attachment(RECEIPTS_NAME, json.dumps({"receipts": receipts}).encode())
    with path.open("wb") as out:
        writer.write(out)
    return path


def test_ldv_verify_pdf_since_an_earlier_overview_finds_a_removed_record(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = env.client().get("/inzage/overzicht.pdf", headers=citizen(env.issuer, LINDA))
    old = tmp_path / "eerder.pdf"
    old.write_bytes(pdf.content)
    reader = PdfReader(BytesIO(pdf.content))
    receipts = json.loads(reader.attachments[RECEIPTS_NAME][0])["receipts"]
    runner = CliRunner()
    keys = ["--log-key", LOG.verifier.vkey, "--witness-key", WITNESS.verifier.vkey]
    again = runner.invoke(ldv_app, ["verify", "pdf", str(old), "--since", str(old), *keys])
    assert again.exit_code == 0, again.output
    assert "still in" in again.output and "(2)" in again.output
    # A later overview without one of the records (removed from the Logboek, or withheld).
    later = _pdf_with(reader, receipts[1:], tmp_path / "later.pdf")
    removed = runner.invoke(ldv_app, ["verify", "pdf", str(later), "--since", str(old), *keys])
    assert removed.exit_code == 1
    assert f"MISSING: record {receipts[0]['record']}" in removed.output
    # The later overview alone still verifies: only the comparison finds it.
    assert runner.invoke(ldv_app, ["verify", "pdf", str(later), *keys]).exit_code == 0
    # Once the record is past the retention its entry commits to, its absence is no alarm.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 200 * 365 * 86_400)
    expired = runner.invoke(ldv_app, ["verify", "pdf", str(later), "--since", str(old), *keys])
    assert expired.exit_code == 0, expired.output
    assert "past its retention (1)" in expired.output


def test_a_changed_record_fails_the_check_and_an_unlogged_one_is_unchecked(env: Env) -> None:
    # Last in this module: it changes the store. A field changed directly in the store (an
    # administrator with chDB): the receipt still verifies, but the stored record no longer gives it.
    target = env.linda[0]
    rename_stored(env.store, target.span_id)
    env.unlogged = record(LINDA, "dienst-toeslagen", ACT["zorgtoeslag"], name="zorgtoeslag", when=time.time() - 100,
                          trace_id=os.urandom(16))  # fmt: skip
    env.store.insert([env.unlogged])  # behind the collector's back: in no log
    body = env.client().get(INZAGE, headers=citizen(env.issuer, LINDA)).json()
    verified = {p["spanId"]: p["verified"] for p in _processings(body)}
    assert verified == {target.span_id.hex(): False, env.linda[1].span_id.hex(): True, env.unlogged.span_id.hex(): None}
    labels = sorted(c["label"] for c in body["checks"])
    assert labels[0].startswith("Let op: bij 1 verwerking van ")
    assert labels[1].startswith("Niet gecontroleerd: 1 verwerking van Dienst Toeslagen staat (nog) niet in een")
    assert not any(c["ok"] for c in body["checks"])


@pytest.mark.parametrize(("unchecked", "verb"), [(1, "is"), (4, "zijn")])
def test_records_of_another_logboek_are_named_unchecked_in_plain_dutch(unchecked: int, verb: str) -> None:
    """The page's line for another Logboek's records: its number and verb agree, no code shows."""
    from ldv_inzicht.inzage._service import LogCheck
    from ldv_inzicht.inzage._view import check_label

    label = check_label(LogCheck(origin="", source="https://lezen.uwv.example/lezenapi/v1", organisations=["UWV"], unchecked=unchecked))
    count = "1 verwerking" if unchecked == 1 else f"{unchecked} verwerkingen"
    assert label == (
        f"Niet gecontroleerd: {count} van UWV, opgevraagd bij een ander Logboek, "
        f"{verb} niet tegen een onveranderbaar logboek gecontroleerd."
    )
