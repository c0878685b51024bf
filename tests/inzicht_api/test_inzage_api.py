"""Citizen inzage against real chDB, the demo register, real JWTs and the real app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.inzage_support import (
    ACT,
    BEN,
    LINDA,
    Seeded,
    Signer,
    citizen,
    make_app,
    seed,
    spans_of,
    write_jwks,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Seeded, Signer]]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('inzage')}"))
    store.migrate()
    seeded = seed(store)
    signer = Signer.generate("issuer-1")
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", signer)
    # chDB serves one data directory per process: close it so the next module can open its own.
    yield TestClient(make_app(store, jwks, follow_chain=False)), seeded, signer
    store.close()


def test_citizen_sees_exactly_their_non_confidential_records_with_law(env) -> None:
    client, seeded, signer = env
    response = client.get("/inzage/v1/mijn-verwerkingen", headers=citizen(signer, LINDA))
    assert response.status_code == 200, response.text
    assert response.headers["API-Version"] == "1.0.0"
    body = response.json()
    assert spans_of(body) == seeded.linda_visible
    assert not spans_of(body) & seeded.linda_confidential
    assert body["total"] == len(seeded.linda_visible)
    # Nothing in the answer hints at the confidential activity.
    assert "fiod" not in response.text.lower() and "fraude" not in response.text.lower()
    processings = [p for t in body["traces"] for g in t["organisations"] for p in g["processings"]]
    for p in processings:
        if p["spanId"] in seeded.linda_unknown:
            assert p["register"] is None and p["unknownActivity"] is True
        else:
            assert p["unknownActivity"] is False
            assert p["register"]["legalBasis"], p
            assert all(b["law"] and b["url"].startswith("https://wetten.overheid.nl/") for b in p["register"]["legalBasis"])
    huur = next(p for p in processings if p["activityId"] == ACT["huurtoeslag"])
    assert huur["register"]["purpose"].startswith("Vaststellen of u recht hebt op huurtoeslag")
    assert {b["law"] for b in huur["register"]["legalBasis"]} >= {"Wet op de huurtoeslag"}
    assert huur["organisation"]["name"] == "Dienst Toeslagen"
    assert huur["statusLabel"] == "afgerond"


def test_records_are_grouped_per_trace_and_organisation(env) -> None:
    client, seeded, signer = env
    body = client.get("/inzage/v1/mijn-verwerkingen", headers=citizen(signer, LINDA)).json()
    move = next(t for t in body["traces"] if t["traceId"].replace("-", "") == seeded.move_trace.hex())
    assert [g["organisation"]["name"] for g in move["organisations"]] == ["Dienst Toeslagen", "Belastingdienst"]
    # The life event is titled after its first action; the register name stays on each processing.
    assert move["title"] == "Huurtoeslag aanvragen"
    assert move["organisations"][0]["processings"][0]["register"]["name"] == "Huurtoeslag berekenen en toekennen"
    # Newest life event first.
    starts = [t["start"] for t in body["traces"]]
    assert starts == sorted(starts, reverse=True)
    assert all(p["available"] for p in body["organisations"])


def test_another_citizen_sees_none_of_lindas_records(env) -> None:
    client, seeded, signer = env
    body = client.get("/inzage/v1/mijn-verwerkingen", headers=citizen(signer, BEN)).json()
    assert spans_of(body) == seeded.ben
    assert not spans_of(body) & (seeded.linda_visible | seeded.linda_confidential)


def test_a_citizen_without_records_gets_an_empty_answer(env) -> None:
    client, _, signer = env
    body = client.get("/inzage/v1/mijn-verwerkingen", headers=citizen(signer, "999999990")).json()
    assert body["total"] == 0 and body["traces"] == []


def test_filters_by_organisation_and_period(env) -> None:
    client, seeded, signer = env
    only_gemeente = client.get(
        "/inzage/v1/mijn-verwerkingen", params={"organisatie": "gemeente-amsterdam"}, headers=citizen(signer, LINDA)
    ).json()
    assert {g["organisation"]["name"] for t in only_gemeente["traces"] for g in t["organisations"]} == {"Gemeente Amsterdam"}
    old = client.get(
        "/inzage/v1/mijn-verwerkingen", params={"tot": "2000-01-01"}, headers=citizen(signer, LINDA)
    ).json()
    assert old["total"] == 0


def test_reversed_period_is_a_problem(env) -> None:
    client, _, signer = env
    response = client.get(
        "/inzage/v1/mijn-verwerkingen", params={"vanaf": "2025-02-01", "tot": "2025-01-01"}, headers=citizen(signer, LINDA)
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalidParams"][0]["name"] == "vanaf"
    bad = client.get("/inzage/v1/mijn-verwerkingen", params={"vanaf": "gisteren"}, headers=citizen(signer, LINDA))
    assert bad.status_code == 400 and bad.json()["invalidParams"][0]["name"] == "vanaf"
