"""Every API document the app publishes states the security of each operation, truthfully.

The documents are found among the app's own routes, and each operation in them is called with
no token and with a bad one: an operation that refuses an anonymous call must require the
bearer scheme; one that refuses a bad token but serves anonymous calls must declare the token
optional (`[{}, {bearerAuth: []}]`); one that never looks at a token declares nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.inzage_support import ACT, Signer, make_app, seed, write_jwks
from tests.inzicht_api.test_security_headers import app_routes

PATH_VALUES = {
    "activity_id": quote(ACT["huurtoeslag"], safe=""),
    "number": "1",
    "traceId": "0" * 32,
    "spanId": "0" * 16,
    "organisation_id": quote("https://register.toeslagen.example/organisations/dienst-toeslagen", safe=""),
}
BAD_TOKEN = {"Authorization": "Bearer not-a-token"}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, dict[str, Any]]]]:
    tmp = tmp_path_factory.mktemp("openapi")
    store = LogStore(connect(f"chdb://{tmp / 'store'}"))
    store.migrate()
    seed(store)
    app = make_app(store, write_jwks(tmp / "jwks.json", Signer.generate("issuer-1")), follow_chain=False)
    client = TestClient(app)
    documents = {}
    for route in app_routes(app):
        if route.path.endswith("/openapi.json"):
            response = client.get(route.path)
            assert response.status_code == 200
            documents[route.path.removesuffix("/openapi.json")] = response.json()
    # chDB serves one data directory per process: close it so the next module can open its own.
    yield client, documents
    store.close()


def _is_bearer(doc: dict[str, Any], requirement: dict[str, list[str]]) -> bool:
    schemes = doc.get("components", {}).get("securitySchemes", {})
    return bool(requirement) and all(
        schemes.get(name, {}).get("type") == "http" and schemes[name].get("scheme") == "bearer" for name in requirement
    )


def test_the_app_publishes_a_document_for_each_api(published) -> None:
    _, documents = published
    assert set(documents) == {"/lezenapi/v1", "/registerapi/v1", "/inzage/v1", "/overzicht/v1"}


def test_every_operation_of_every_document_states_its_security_truthfully(published) -> None:
    client, documents = published
    checked = 0
    for base, doc in documents.items():
        for template, item in doc["paths"].items():
            path = base + re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m[1]], template)
            for method, operation in item.items():
                where = f"{method.upper()} {base}{template}"
                security = operation.get("security", doc.get("security"))
                anonymous = client.request(method, path).status_code
                bad_token = client.request(method, path, headers=BAD_TOKEN).status_code
                if anonymous == 401:
                    assert security and all(_is_bearer(doc, r) for r in security), where
                elif bad_token == 401:
                    assert security and {} in security, where
                    assert any(_is_bearer(doc, r) for r in security if r), where
                else:
                    assert not security, where
                if 401 in (anonymous, bad_token):
                    assert "401" in operation["responses"], where
                checked += 1
    assert checked == 12  # 3 lezen (the proof route too), 4 register, 1 inzage, 4 overzicht (the documents are not in themselves)


@pytest.mark.parametrize("base", ["/inzage/v1", "/overzicht/v1"])
def test_inzage_and_overzicht_documents_require_the_bearer_token(published, base: str) -> None:
    _, documents = published
    doc = documents[base]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    for item in doc["paths"].values():
        for operation in item.values():
            assert operation["security"] == [{"bearerAuth": []}]
