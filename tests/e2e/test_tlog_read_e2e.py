"""Proofs to the citizen end to end: a real `ldv serve` with its transparency log cosigned by a
real witness over HTTP, records sent over OTLP by the official SDK, the citizen page in
Debian's Chromium saying in Dutch against what the overview was checked, the PDF downloaded
there and checked offline by `ldv verify pdf` (exit 0), and a PDF whose receipt was changed
refused (exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from pypdf import PdfReader, PdfWriter

from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.tlog import COSIGNATURE_V1, Checkpoint, Signer, parse_note
from ldv_suite._witness_server import create_witness_app
from tests.conftest import REPO_ROOT
from tests.e2e.serve_process import ServeProcess
from tests.inzicht_api.browser_support import browser
from tests.inzicht_api.inzage_support import ACT, KEYS, LINDA, citizen
from tests.servers import serving

__all__ = ["browser"]  # the shared Chromium fixture
pytestmark = pytest.mark.e2e
RECEIPTS = "ldv-ontvangstbewijzen.json"
AP = "de Autoriteit Persoonsgegevens"


def ldv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ldv_suite.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[ServeProcess, Signer, Signer]]:
    witness = Signer.generate("toezicht.example/ap-witness", COSIGNATURE_V1)
    key = Signer.generate("logboek.example/toeslagen")
    with serving(create_witness_app(witness, [key.verifier], tmp_path / "witness.json")) as witness_port:
        serve = ServeProcess(
            tmp_path / "data",
            env={
                "LDV_API_ORGANISATION_KEYS": json.dumps(KEYS),
                "LDV_INZAGE_FOLLOW_CHAIN": "false",
                "LDV_COLLECTOR_LOG_KEY": key.text,
                "LDV_COLLECTOR_LOG_WITNESSES": json.dumps([{"url": f"http://127.0.0.1:{witness_port}", "vkey": witness.verifier.vkey}]),
                "LDV_COLLECTOR_LOG_CHECKPOINT_INTERVAL_MS": "200",
                # The page names the witness; the log key is the collector's (ldv serve's default).
                "LDV_INZAGE_WITNESSES": json.dumps({AP: witness.verifier.vkey}),
            },
            extra_args=["--register", str(REPO_ROOT / "demo" / "register")],
        ).start()
        try:
            yield serve, key, witness
        finally:
            serve.kill()


def _send(serve: ServeProcess) -> None:
    provider = TracerProvider(
        resource=Resource.create({attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: "dienst-toeslagen"})
    )
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.traces_url, timeout=30)))
    subject = pseudonymise(LINDA, KEYS["dienst-toeslagen"].encode())
    ldv_attributes = {attr.PROCESSING_ACTIVITY_ID: ACT["huurtoeslag"], attr.DATA_SUBJECT_ID: subject, attr.DATA_SUBJECT_ID_TYPE: "BSN"}
    tracer = provider.get_tracer("e2e")
    for name in ("huurtoeslag berekenen", "inkomen opvragen"):
        with tracer.start_as_current_span(name, attributes=ldv_attributes):
            pass
    provider.shutdown()


def _wait_cosigned(serve: ServeProcess, key: Signer, witness: Signer, size: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = httpx.get(f"{serve.api_url}/log/", timeout=30).json()["logs"]
        for entry in logs:
            answer = httpx.get(f"{serve.api_url}{entry['prefix']}checkpoint", timeout=30)
            if answer.status_code == 200:
                note = parse_note(answer.text)
                if Checkpoint.from_text(note.text).size >= size and note.signed_by(witness.verifier) is not None:
                    return
        time.sleep(0.2)
    raise AssertionError("no cosigned checkpoint")


def test_the_citizen_page_says_what_was_checked_and_its_pdf_verifies_offline(
    logged: tuple[ServeProcess, Signer, Signer], browser: Any, tmp_path: Path
) -> None:
    serve, key, witness = logged
    _send(serve)
    _wait_cosigned(serve, key, witness, 2)
    # The citizen's token in the page's cookie, as a deployment's own login sets it.
    context = browser.new_context(accept_downloads=True)
    token = citizen(serve.signer, LINDA)["Authorization"].removeprefix("Bearer ")
    context.add_cookies([{"name": "ldv_token", "value": token, "url": serve.api_url}])
    page = context.new_page()
    page.goto(f"{serve.api_url}/inzage/")
    check = page.locator("section.controle")
    text = " ".join(check.inner_text().split())
    assert "Is dit overzicht volledig en ongewijzigd?" in text
    assert f"Gecontroleerd: elke verwerking hieronder van Dienst Toeslagen staat in het onveranderbare logboek {key.name}, " \
           f"bevestigd door {AP} op " in text  # fmt: skip
    with page.expect_download() as download_info:
        page.click("text=Download dit overzicht als PDF")
    pdf = tmp_path / "overzicht.pdf"
    download_info.value.save_as(pdf)
    context.close()

    keys = ["--log-key", key.verifier.vkey, "--witness-key", witness.verifier.vkey]
    checked = ldv("verify", "pdf", str(pdf), *keys)
    assert checked.returncode == 0, checked.stderr
    assert "OK: 2 receipts" in checked.stdout

    # One receipt changed (its checkpoint's size): `ldv verify pdf` refuses the PDF.
    reader = PdfReader(BytesIO(pdf.read_bytes()))
    receipts = json.loads(reader.attachments[RECEIPTS][0])["receipts"]
    size_line = f"\n{key.name}\n"
    assert size_line in receipts[1]["receipt"]
    head, _, rest = receipts[1]["receipt"].partition(size_line)
    size, _, tail = rest.partition("\n")
    receipts[1]["receipt"] = f"{head}{size_line}{int(size) + 1}\n{tail}"
    writer = PdfWriter()
    for p in reader.pages:
        writer.add_page(p)
    writer.add_attachment(RECEIPTS, json.dumps({"receipts": receipts}).encode())
    tampered = tmp_path / "tampered.pdf"
    with tampered.open("wb") as out:
        writer.write(out)
    refused = ldv("verify", "pdf", str(tampered), *keys)
    assert refused.returncode == 1, refused.stdout
    assert "FAILED" in refused.stderr
