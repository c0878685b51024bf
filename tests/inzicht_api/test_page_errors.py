"""Errors of the citizen page are HTML pages in Dutch; errors of the JSON APIs stay problem+json.

Two real ways for the page to fail: the store goes away after the app started (every read fails
in the driver: 503), and the register in the store holds a document the code cannot read (an
unexpected fault: 500). Both with the security headers, also on the 500 that Starlette answers
outside the app's middleware.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ldv_inzicht.settings import ApiSettings
from ldv_logboek.register import load_register_files
from ldv_logboek.storage import LogStore, RegisterStore, connect
from ldv_logboek.storage._schema import REGISTER_ORGANISATIONS_TABLE
from tests.inzicht_api.inzage_support import DEMO_REGISTER, LINDA, Signer, auth_settings, citizen, make_app, write_jwks
from tests.inzicht_api.test_security_headers import assert_security_headers

SIGNER = Signer.generate("issuer-1")
PROBLEM_JSON = "application/problem+json"


def _assert_dutch_page(response, status: int, heading: str) -> None:  # noqa: ANN001 - httpx.Response
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in response.text and f"<h1>{heading}</h1>" in response.text
    assert "problem" not in response.text.lower() and "Traceback" not in response.text
    assert_security_headers(response)


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app on a store that was closed after the app started: every read fails in the driver."""
    from ldv_inzicht._app import create_app

    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('down')}"))
    store.migrate()
    store.close()
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", SIGNER)
    app = create_app(store, ApiSettings(retry_after_seconds=17), auth_settings=auth_settings(jwks))
    return TestClient(app, headers=citizen(SIGNER, LINDA))


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory: pytest.TempPathFactory, down: TestClient) -> Iterator[FastAPI]:
    """The app on a store whose register holds an organisation document that is not JSON."""
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('corrupt')}"))
    store.migrate()
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", SIGNER)
    app = make_app(store, jwks, follow_chain=False)
    registers = RegisterStore(store)
    assert registers.load(fresh=True) == load_register_files([DEMO_REGISTER])
    store.client.insert(
        REGISTER_ORGANISATIONS_TABLE,
        [["https://kapot.example/organisations/x", "kapot", "Kapot", "", "{this is not json"]],
        column_names=["OrganisationId", "Code", "Name", "ReadApiUrl", "Document"],
    )
    yield app
    # chDB serves one data directory per process: close it so the next module can open its own.
    store.close()


def test_page_with_an_unreachable_store_is_a_dutch_503_page(down: TestClient) -> None:
    response = down.get("/inzage/")
    _assert_dutch_page(response, 503, "Tijdelijk niet beschikbaar")
    assert "Probeer het later opnieuw" in response.text
    assert response.headers["Retry-After"] == "17"
    assert response.headers["API-Version"]
    assert "closed" not in response.text  # the driver's message stays in the server log


def test_inzage_api_with_an_unreachable_store_stays_problem_json(down: TestClient) -> None:
    response = down.get("/inzage/v1/mijn-verwerkingen")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["Retry-After"] == "17"
    assert_security_headers(response)


def test_page_with_an_unexpected_fault_is_a_dutch_500_page_with_a_reference(
    corrupt: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(corrupt, raise_server_exceptions=False, headers=citizen(SIGNER, LINDA))
    with caplog.at_level(logging.WARNING, logger="ldv_inzicht._problems"):
        response = client.get("/inzage/?organisatie=dienst-toeslagen")
    _assert_dutch_page(response, 500, "Er is iets misgegaan")
    assert response.headers["API-Version"]
    # The reference on the page is the problem instance in the server log, nothing more.
    reference = re.search(r'<code class="kenmerk">(urn:uuid:[0-9a-f-]{36})</code>', response.text)
    assert reference is not None, response.text
    assert reference[1] in caplog.text
    assert "ValidationError" not in response.text and "kapot" not in response.text


@pytest.mark.parametrize(
    "path", ["/inzage/v1/mijn-verwerkingen", "/registerapi/v1/processing-activities", "/lezenapi/v1/openapi.json"]
)
def test_json_apis_keep_problem_json_on_an_unexpected_fault(corrupt: FastAPI, path: str) -> None:
    client = TestClient(corrupt, raise_server_exceptions=False, headers=citizen(SIGNER, LINDA))
    response = client.get(path)
    if path.endswith("openapi.json"):  # does not read the register: unaffected
        assert response.status_code == 200
    else:
        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["instance"].startswith("urn:uuid:")
    assert_security_headers(response)


def test_unknown_page_path_is_a_dutch_404_page_but_unknown_api_path_is_a_problem(down: TestClient) -> None:
    _assert_dutch_page(down.get("/inzage/bestaat-niet"), 404, "Pagina niet gevonden")
    wrong_method = down.post("/inzage/static/inzage.css")
    _assert_dutch_page(wrong_method, 405, "Dit verzoek klopt niet")
    assert wrong_method.headers["Allow"] == "GET"
    api = down.get("/inzage/v1/bestaat-niet")
    assert api.status_code == 404 and api.headers["content-type"] == PROBLEM_JSON
    assert_security_headers(api)
