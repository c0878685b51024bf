"""The read API when its store cannot be reached: 503 problem+json with Retry-After, no 500."""

from __future__ import annotations

import warnings

import pytest

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.inzage_support import LINDA, Signer, auth_settings, citizen, supervisor, write_jwks

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


SIGNER = Signer.generate("issuer-1")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('down')}"))
    store.migrate()
    # The store goes away after the app started: every read now fails in the driver.
    store.close()
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", SIGNER)
    app = create_app(store, ApiSettings(retry_after_seconds=17), auth_settings=auth_settings(jwks))
    return TestClient(app, headers=supervisor(SIGNER))


def test_search_answers_503_with_retry_after(client: TestClient) -> None:
    response = client.post("/lezenapi/v1/processing-activities", json={attr.DATA_SUBJECT_ID: "hmac-sha256:" + "0" * 64})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "17"
    assert response.headers["API-Version"] == "1.1.0"
    problem = response.json()
    assert (problem["status"], problem["title"]) == (503, "Service Unavailable")
    assert "closed" not in problem["detail"]  # the driver's message stays in the server log


def test_bad_input_is_still_400_while_the_store_is_down(client: TestClient) -> None:
    response = client.post("/lezenapi/v1/processing-activities", json={"startTime": 1})
    assert response.status_code == 400


def test_a_citizen_search_answers_503_too(client: TestClient) -> None:
    # A citizen's search needs the register (confidential activities): unreadable is a 503, never
    # an answer that might include confidential records.
    response = client.post("/lezenapi/v1/processing-activities", json={}, headers=citizen(SIGNER, LINDA))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "17"


def test_no_token_is_401_before_the_store_is_asked(client: TestClient) -> None:
    response = client.post("/lezenapi/v1/processing-activities", json={"startTime": 1}, headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_health_answers_503(client: TestClient) -> None:
    response = client.get("/lezenapi/v1/health")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "17"
