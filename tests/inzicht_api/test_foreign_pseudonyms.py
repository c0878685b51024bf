"""Issue #19 item 5: records of other LDV implementations, whose subject ids are their own
pseudonyms stored as sent, are found by the read API's subject search.

The record goes through the real collector (OTLP/HTTP, organisation keys configured) into a
real chDB store and is read back through the real read API. The collector and the read side
decide by one rule (`ldv_logboek.subject_clear_bsn`): only a real-looking BSN is a clear id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ldv_collector import CollectorSettings
from ldv_collector import create_app as create_collector_app
from ldv_logboek import attributes as attr
from ldv_logboek import pseudonymise, subject_clear_bsn
from ldv_logboek.storage import LogStore
from tests.collector.helpers import AsgiClient, make_request, make_span, to_otlp_json
from tests.inzicht_api.inzage_support import KEYS, Signer, make_app, organisation, supervisor, write_jwks

URL = "/lezenapi/v1/processing-activities"
ACTIVITY = "https://register.toeslagen.example/processing-activities/huurtoeslag"
ORGANISATION = "dienst-toeslagen"
BSN = "123456782"
# Other implementations' pseudonym forms: base64 of an encrypted id, bare hex of an HMAC, an
# OPRF-style prefixed value, a UUID. None is a BSN; none is this suite's `hmac-sha256:` form.
FOREIGN = [
    "q1w2E3r4T5y6U7i8O9p0aSdFgHjKlZxCvBnM+/==",
    "3f9a" * 16,
    "oprf:v1:7Jx0Yy2aA9",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
]


@pytest.fixture(scope="module")
def apps(store: LogStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AsgiClient, TestClient, Signer]]:
    collector = create_collector_app(store, CollectorSettings(organisation_keys=KEYS, max_batch_wait_ms=0))
    collector.state.writer.start()
    signer = Signer.generate("issuer-foreign")
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", signer)
    try:
        yield AsgiClient(collector), TestClient(make_app(store, jwks, follow_chain=False)), signer
    finally:
        collector.state.writer.stop()


def _send(collector: AsgiClient, subject: str) -> bytes:
    """Export one record about `subject` (type BSN) through the collector; its span id."""
    span = make_span({attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID: subject, attr.DATA_SUBJECT_ID_TYPE: "BSN"})
    span.trace_id = os.urandom(16)
    response = collector.post(
        "/v1/traces", content=to_otlp_json(make_request([span])), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200 and response.json() == {}, response.text
    return span.span_id


def _found(client: TestClient, headers: dict[str, str], subject: str) -> list[dict[str, Any]]:
    response = client.post(URL, json={attr.DATA_SUBJECT_ID: subject}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["processingActivities"]


@pytest.mark.parametrize("foreign", FOREIGN)
def test_a_foreign_pseudonym_is_stored_as_sent_and_found_by_it(apps, foreign: str) -> None:
    collector, client, signer = apps
    span_id = _send(collector, foreign)
    for headers in (supervisor(signer), organisation(signer, ORGANISATION)):
        found = _found(client, headers, foreign)
        assert [r["spanId"] for r in found] == [span_id.hex()]
        assert found[0]["attributes"][attr.DATA_SUBJECT_ID] == foreign  # stored as sent, not hashed again
    assert _found(client, organisation(signer, "uwv"), foreign) == []  # the scope still holds


def test_a_clear_bsn_is_pseudonymised_on_both_sides_however_it_is_written(apps) -> None:
    collector, client, signer = apps
    span_id = _send(collector, "1234.56.782")  # the passport notation: the collector stores the 9 digits' pseudonym
    for written in (BSN, " 123456782 ", "1234.56.782", "123 456 782"):
        found = _found(client, supervisor(signer), written)
        assert span_id.hex() in {r["spanId"] for r in found}, written
        assert {r["attributes"][attr.DATA_SUBJECT_ID] for r in found} == {pseudonymise(BSN, KEYS[ORGANISATION].encode())}


def test_one_rule_decides_what_is_a_clear_id() -> None:
    for foreign in FOREIGN:
        assert subject_clear_bsn(foreign, "BSN") is None and subject_clear_bsn(foreign, None) is None
    assert subject_clear_bsn(BSN, "BSN") == subject_clear_bsn(BSN, None) == ("9 digits, elfproef", BSN)
    assert subject_clear_bsn(BSN, "KvK") is None  # another type: never touched downstream
    assert subject_clear_bsn("hmac-sha256:" + "ab" * 32, None) is None
