"""The register: demo files, version resolution, storage in chDB (migration 2) and the register API."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from ldv_logboek.register import (
    RegisterConflict,
    RegisterFileError,
    load_register_files,
    parse_register_text,
)
from ldv_logboek.storage import LogStore, RegisterStore
from tests.inzicht_api.inzage_support import ACT, DEMO_REGISTER, Signer, make_app, organisation, write_jwks

HUUR = ACT["huurtoeslag"]



def test_demo_register_resolves_one_version_per_moment() -> None:
    register = load_register_files([DEMO_REGISTER])
    assert {o.code for o in register.organisations.values()} == {
        "burger-nl", "gemeente-amsterdam", "dienst-toeslagen", "belastingdienst", "rvig", "uwv"
    }
    assert register.resolve(HUUR, datetime(2024, 6, 1, tzinfo=UTC)).version == 1
    assert register.resolve(HUUR, datetime(2025, 1, 1, tzinfo=UTC)).version == 2  # valid_from is inclusive
    assert register.resolve(HUUR, datetime(2024, 12, 31, 23, 59, tzinfo=UTC)).version == 1
    assert register.resolve(HUUR, datetime(2022, 1, 1, tzinfo=UTC)) is None
    v1, v2 = register.activity(HUUR).versions
    assert v1.legal_basis[1].article == "artikel 16" and v2.legal_basis[1].article == "artikel 8"
    confidential = [a.id for a in register.activities.values() if a.hidden_from_subject(datetime.now(UTC), datetime.now(UTC))]
    assert confidential == [ACT["fiod"]]
    fiod = register.activity(ACT["fiod"])
    assert not fiod.hidden_from_subject(datetime(2024, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("processing_activities: [{id: not-a-uri, versions: []}]", "absolute URI"),
        ("organisations: [{id: 'https://x.example/o', name: X}, {id: 'https://x.example/o', name: X}]", "appears twice"),
        ("processing_activities:\n - id: https://x.example/a\n   versions:\n    - {version: 2, validFrom: '2024-01-01T00:00:00Z', "
         "name: A, purpose: P, controller: 'https://x.example/o', legalBasis: [{dpv: LegalObligation, law: W}]}", "numbered 1"),
        ("processing_activities:\n - id: https://x.example/a\n   versions:\n    - {version: 1, validFrom: '2024-01-01T00:00:00Z', "
         "name: A, purpose: P, controller: 'https://x.example/o', legalBasis: [{dpv: Guess, law: W}]}", "legalBasis"),
        ("- just a list", "top level"),
    ],
)
def test_bad_register_files_are_refused_precisely(text: str, problem: str) -> None:
    with pytest.raises(RegisterFileError) as caught:
        parse_register_text(text, "bad.yaml")
    assert problem in str(caught.value) and "bad.yaml" in str(caught.value)


def test_unknown_controller_is_refused(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text(
        "processing_activities:\n - id: https://x.example/a\n   versions:\n    - {version: 1, validFrom: '2024-01-01T00:00:00Z', "
        "name: A, purpose: P, controller: 'https://x.example/nobody', legalBasis: [{dpv: LegalObligation, law: W}]}"
    )
    with pytest.raises(RegisterFileError, match="not a known organisation"):
        load_register_files([tmp_path])


def test_save_load_round_trip_is_idempotent_and_versions_are_immutable(store: LogStore, tmp_path) -> None:
    registers = RegisterStore(store)
    demo = load_register_files([DEMO_REGISTER])
    first = registers.save(demo)
    assert len(first.versions_added) == 13 and first.organisations_saved == 6
    again = registers.save(demo)
    assert again.versions_added == [] and again.versions_unchanged == 13 and again.organisations_saved == 0
    assert registers.load(fresh=True) == demo
    changed_text = (DEMO_REGISTER / "dienst-toeslagen.yaml").read_text().replace("artikel 16", "artikel 17", 1)
    (tmp_path / "dienst-toeslagen.yaml").write_text(changed_text)
    with pytest.raises(RegisterConflict, match="new version"):
        registers.save(load_register_files([tmp_path], check_references=False))
    assert registers.load(fresh=True) == demo


def test_register_api(store: LogStore, tmp_path) -> None:
    signer = Signer.generate("k")
    client = TestClient(make_app(store, write_jwks(tmp_path / "jwks.json", signer), follow_chain=False))
    activity = client.get(f"/registerapi/v1/processing-activities/{quote(HUUR, safe='')}")
    assert activity.status_code == 200 and activity.headers["API-Version"] == "1.0.0"
    body = activity.json()
    assert body["id"] == HUUR and body["active"] is True and body["latestVersion"] == 2
    assert body["versions"][1]["href"].endswith("/versions/2")
    v1 = client.get(body["versions"][0]["href"]).json()
    assert v1["version"] == 1 and v1["legalBasis"][0]["law"] == "Wet op de huurtoeslag"
    assert v1["validFrom"].startswith("2023-01-01")
    missing = client.get(f"/registerapi/v1/processing-activities/{quote(HUUR, safe='')}/versions/3")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    unknown = client.get("/registerapi/v1/processing-activities/" + quote("https://nowhere.example/x", safe=""))
    assert unknown.status_code == 404 and unknown.json()["status"] == 404
    org = client.get("/registerapi/v1/organisations/" + quote("https://register.uwv.example/organisations/uwv", safe=""))
    assert org.json()["name"] == "UWV" and org.json()["code"] == "uwv"
    public = {a["id"] for a in client.get("/registerapi/v1/processing-activities").json()["processingActivities"]}
    assert ACT["fiod"] not in public and HUUR in public
    own = client.get("/registerapi/v1/processing-activities", headers=organisation(signer, "belastingdienst")).json()
    assert ACT["fiod"] in {a["id"] for a in own["processingActivities"]}
    doc = client.get("/registerapi/v1/openapi.json")
    assert doc.status_code == 200 and any("versions" in p for p in doc.json()["paths"])
