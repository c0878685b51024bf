"""The read API when its store refuses the statement (a bug or a schema the code does not expect):
a 500 problem whose `instance` is the incident id of one log line with the driver's message; not
a 503, which would tell clients to retry something that will never work."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, connect
from ldv_logboek.storage._schema import RECORDS_TABLE
from tests.inzicht_api.inzage_support import Signer, auth_settings, supervisor, write_jwks

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


SIGNER = Signer.generate("issuer-1")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('fault')}"))
    store.migrate()
    # The records table is not where the code expects it: every search fails in ClickHouse (UNKNOWN_TABLE).
    store.client.command(f"RENAME TABLE {RECORDS_TABLE} TO otel_traces_elsewhere")
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", SIGNER)
    app = create_app(store, ApiSettings(retry_after_seconds=17), auth_settings=auth_settings(jwks))
    yield TestClient(app, headers=supervisor(SIGNER))
    store.close()


def test_search_answers_500_with_an_incident_id_that_is_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ldv_inzicht")
    response = client.post("/lezenapi/v1/processing-activities", json={attr.DATA_SUBJECT_ID: "hmac-sha256:" + "0" * 64})
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 500 and problem["instance"].startswith("urn:uuid:")
    assert "UNKNOWN_TABLE" not in response.text and RECORDS_TABLE not in response.text  # the driver's words stay in the log
    lines = [r.getMessage() for r in caplog.records if problem["instance"] in r.getMessage()]
    assert len(lines) == 1 and "UNKNOWN_TABLE" in lines[0]
