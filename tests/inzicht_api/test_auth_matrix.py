"""Every endpoint of the register, inzage and overzicht APIs and the page, for every kind of caller."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.inzage_support import (
    ACT,
    AUDIENCE,
    LINDA,
    Signer,
    citizen,
    make_app,
    organisation,
    seed,
    supervisor,
    write_jwks,
)

FIOD = quote(ACT["fiod"], safe="")
HUUR = quote(ACT["huurtoeslag"], safe="")
ENDPOINTS = {
    "register-list": "/registerapi/v1/processing-activities",
    "register-activity": f"/registerapi/v1/processing-activities/{HUUR}",
    "register-version": f"/registerapi/v1/processing-activities/{HUUR}/versions/1",
    "register-confidential": f"/registerapi/v1/processing-activities/{FIOD}",
    "inzage": "/inzage/v1/mijn-verwerkingen",
    "page": "/inzage/",
    "counts": "/overzicht/v1/counts",
    "unregistered": "/overzicht/v1/unregistered-activities",
    "errors": "/overzicht/v1/errors",
    "flows": "/overzicht/v1/flows",
}
# Expected status per endpoint for: anonymous, citizen, organisation (toeslagen),
# organisation (belastingdienst, the FIOD controller), supervisor.
EXPECTED = {
    "register-list": (200, 200, 200, 200, 200),
    "register-activity": (200, 200, 200, 200, 200),
    "register-version": (200, 200, 200, 200, 200),
    "register-confidential": (404, 404, 404, 200, 200),
    "inzage": (401, 200, 403, 403, 403),
    "page": (401, 200, 403, 403, 403),
    "counts": (401, 403, 200, 200, 200),
    "unregistered": (401, 403, 200, 200, 200),
    "errors": (401, 403, 200, 200, 200),
    "flows": (401, 403, 200, 200, 200),
}
CALLERS = ("anonymous", "citizen", "org-toeslagen", "org-belastingdienst", "supervisor")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Signer, Signer]]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('auth')}"))
    store.migrate()
    seed(store)
    signer = Signer.generate("issuer-1")
    stranger = Signer.generate("issuer-1")  # same kid, other key: a forgery
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", signer)
    # chDB serves one data directory per process: close it so the next module can open its own.
    yield TestClient(make_app(store, jwks, follow_chain=False)), signer, stranger
    store.close()


def _headers(signer: Signer, caller: str) -> dict[str, str]:
    return {
        "anonymous": {},
        "citizen": citizen(signer, LINDA),
        "org-toeslagen": organisation(signer, "dienst-toeslagen"),
        "org-belastingdienst": organisation(signer, "belastingdienst"),
        "supervisor": supervisor(signer),
    }[caller]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_endpoint_by_role(env, endpoint: str) -> None:
    client, signer, _ = env
    for caller, expected in zip(CALLERS, EXPECTED[endpoint]):
        response = client.get(ENDPOINTS[endpoint], headers=_headers(signer, caller))
        assert response.status_code == expected, (endpoint, caller, response.text[:300])
        if expected == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
        if expected in (401, 403, 404) and endpoint != "page":
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == expected
        if expected == 403 and endpoint != "page":
            # Same text for every resource: a 403 says nothing about what exists.
            assert response.json()["detail"] == "Your role does not give access to this resource."
        if endpoint != "page":
            assert "API-Version" in response.headers


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda s, x: s.token(bsn=LINDA, roles=["citizen"], exp_in=-120), id="expired"),
        pytest.param(lambda s, x: x.token(bsn=LINDA, roles=["citizen"]), id="forged"),
        pytest.param(lambda s, x: s.token(bsn=LINDA, roles=["citizen"], aud="other-api"), id="wrong-audience"),
        pytest.param(lambda s, x: s.token(bsn=LINDA, roles=["citizen"], iss="https://evil.example"), id="wrong-issuer"),
        pytest.param(lambda s, x: s.token(bsn="123456789", roles=["citizen"]), id="bsn-fails-elfproef"),
        pytest.param(lambda s, x: s.token(roles=["organisation"]), id="organisation-without-claim"),
        pytest.param(lambda s, x: "not.a.jwt", id="garbage"),
        pytest.param(lambda s, x: s.token(bsn=LINDA, roles=["citizen"])[:-4] + "AAAA", id="tampered-signature"),
    ],
)
@pytest.mark.parametrize("path", [ENDPOINTS["inzage"], ENDPOINTS["counts"], ENDPOINTS["page"]])
def test_bad_tokens_are_401_with_challenge(env, make_token, path: str) -> None:
    client, signer, stranger = env
    response = client.get(path, headers={"Authorization": "Bearer " + make_token(signer, stranger)})
    assert response.status_code == 401, response.text[:300]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="ldv-inzicht"')
    if path != ENDPOINTS["page"]:
        assert 'error="invalid_token"' in challenge
        assert response.headers["content-type"] == "application/problem+json"
        assert LINDA not in response.text


def test_organisation_cannot_read_another_organisations_aggregates(env) -> None:
    client, signer, _ = env
    denied = client.get("/overzicht/v1/counts", params={"organisatie": "belastingdienst"},
                        headers=organisation(signer, "dienst-toeslagen"))
    assert denied.status_code == 403
    own = client.get("/overzicht/v1/counts", headers=organisation(signer, "dienst-toeslagen")).json()
    assert own["organisation"] == "dienst-toeslagen"
    assert {r["organisation"] for r in own["rows"]} == {"dienst-toeslagen"}
    everything = client.get("/overzicht/v1/counts", headers=supervisor(signer)).json()
    assert {r["organisation"] for r in everything["rows"]} == {"dienst-toeslagen", "belastingdienst", "gemeente-amsterdam"}


def test_overzicht_aggregates(env) -> None:
    client, signer, _ = env
    counts = client.get("/overzicht/v1/counts", params={"interval": "month"}, headers=supervisor(signer)).json()["rows"]
    huur = [r for r in counts if r["activityId"] == ACT["huurtoeslag"]]
    # Linda's and Ben's huurtoeslag records, the duplicate delivery counted once.
    assert sum(r["count"] for r in huur) == 2
    assert huur[0]["activityName"] == "Huurtoeslag berekenen en toekennen"
    unregistered = client.get("/overzicht/v1/unregistered-activities", headers=supervisor(signer)).json()["rows"]
    assert [(r["organisation"], r["activityId"], r["count"]) for r in unregistered] == [
        ("gemeente-amsterdam", ACT["unknown"], 1)
    ]
    errors = client.get("/overzicht/v1/errors", headers=supervisor(signer)).json()["rows"]
    assert [(r["activityId"], r["count"]) for r in errors] == [(ACT["bijstand"], 1)]
    bad = client.get("/overzicht/v1/counts", params={"interval": "year"}, headers=supervisor(signer))
    assert bad.status_code == 400 and bad.json()["invalidParams"][0]["name"] == "interval"


def test_sql_injection_in_parameters_is_just_a_value(env) -> None:
    client, signer, _ = env
    response = client.get(
        "/overzicht/v1/counts", params={"organisatie": "x' OR 1=1 --"}, headers=supervisor(signer)
    )
    assert response.status_code == 200 and response.json()["rows"] == []


def test_a_token_for_another_logboek_is_refused(env) -> None:
    """Each Logboek accepts only tokens naming its own identifier: one issued for another is a 401."""
    client, signer, _ = env
    other = "https://lezen.uwv.example/lezenapi/v1"
    token = signer.token(bsn=LINDA, roles=["citizen"], aud=other)
    response = client.get("/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "audience" in response.headers["www-authenticate"].lower()
    own = signer.token(bsn=LINDA, roles=["citizen"], aud=AUDIENCE)
    assert client.get("/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {own}"}).status_code == 200
