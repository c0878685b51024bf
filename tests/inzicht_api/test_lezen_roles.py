"""Who may read what through the read API: anonymous, bad tokens, citizen, organisation, supervisor.

On the Fieldlab records of inzage_support: Linda has records at three organisations, one of a
confidential FIOD activity and one of an activity the register does not know; Ben has his own.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.inzage_support import (
    ACT,
    BEN,
    KEYS,
    LINDA,
    Seeded,
    Signer,
    citizen,
    make_app,
    organisation,
    record,
    seed,
    supervisor,
    write_jwks,
)

URL = "/lezenapi/v1/processing-activities"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Seeded, Signer, Signer, LogStore]]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('lezen-roles')}"))
    store.migrate()
    seeded = seed(store)
    # A record about Ben in Linda's move trace: one trace, two subjects.
    ben_in_move = record(BEN, "dienst-toeslagen", ACT["huurtoeslag"], name="huurtoeslag aanvragen",
                         when=1_700_000_000.0, trace_id=seeded.move_trace)
    store.insert([ben_in_move])
    seeded.ben.add(ben_in_move.span_id.hex())
    signer = Signer.generate("issuer-1")
    stranger = Signer.generate("issuer-1")  # same kid, another key: a forgery
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", signer)
    yield TestClient(make_app(store, jwks, follow_chain=False)), seeded, signer, stranger, store
    # chDB serves one data directory per process: close it so the next module can open its own.
    store.close()


def read(client: TestClient, headers: dict[str, str], body: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = client.post(URL, json=body, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def spans(body: dict[str, Any]) -> set[str]:
    return {p["spanId"] for p in body["processingActivities"]}


def read_all(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], limit: int
) -> tuple[list[str], list[str]]:
    """Every span id of a search, page by page, and the cursors handed out."""
    seen: list[str] = []
    cursors: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(50):
        page = read(client, headers, body, **params)
        seen += [p["spanId"] for p in page["processingActivities"]]
        if "nextCursor" not in page:
            return seen, cursors
        assert page["processingActivities"], "a page with a cursor must hold records"
        cursors.append(page["nextCursor"])
        params["cursor"] = page["nextCursor"]
    raise AssertionError("paging did not end")


def organisations_of(body: dict[str, Any]) -> set[str]:
    return {p["resource"]["attributes"][attr.ORGANISATION] for p in body["processingActivities"]}


def all_of_linda(seeded: Seeded) -> set[str]:
    return seeded.linda_visible | seeded.linda_confidential


# --- anonymous and bad tokens ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{"traceId": "0" * 32}, {}, {"startTime": "nonsense"}], ids=["search", "empty", "invalid"]
)
def test_anonymous_is_401_whatever_the_body(env, body: dict[str, Any]) -> None:
    client = env[0]
    response = client.post(URL, json=body)
    # 401 before any validation: an anonymous caller learns nothing, not even what is invalid.
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="ldv-inzicht"'
    assert response.headers["API-Version"] == "1.1.0"
    assert response.json()["status"] == 401


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda s, x: x.token(roles=["supervisor"]), id="forged"),
        pytest.param(lambda s, x: s.token(roles=["supervisor"], exp_in=-120), id="expired"),
        pytest.param(lambda s, x: s.token(roles=["supervisor"], aud="other-api"), id="wrong-audience"),
        pytest.param(lambda s, x: s.token(roles=["supervisor"])[:-4] + "AAAA", id="tampered"),
        pytest.param(lambda s, x: "not.a.jwt", id="garbage"),
    ],
)
def test_bad_tokens_are_401_with_challenge(env, make_token) -> None:
    client, _, signer, stranger, _ = env
    headers = {"Authorization": "Bearer " + make_token(signer, stranger)}
    response = client.post(URL, json={"traceId": "0" * 32}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="ldv-inzicht", error=')


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"roles": ["reader"]}, id="no-role-of-ours"),
        pytest.param({"bsn": LINDA}, id="bsn-without-role"),
        pytest.param({"bsn": LINDA, "roles": ["burger"]}, id="bsn-with-unknown-role"),
        pytest.param({"bsn": LINDA, "roles": "reader admin"}, id="bsn-with-other-roles-as-string"),
        pytest.param({"bsn": LINDA, "roles": {"citizen": True}}, id="bsn-with-role-claim-not-a-list"),
    ],
)
def test_valid_token_without_a_role_of_ours_is_403_never_a_citizen(env, claims: dict[str, Any]) -> None:
    """The role comes from the role claim only: a BSN claim does not make a citizen."""
    client, _, signer, _, _ = env
    headers = {"Authorization": "Bearer " + signer.token(**claims)}
    response = client.post(URL, json={attr.DATA_SUBJECT_ID: LINDA}, headers=headers)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "Your role does not give access to this resource."
    assert "processingActivities" not in response.text


def test_health_and_openapi_are_open(env) -> None:
    client = env[0]
    assert client.get("/lezenapi/v1/health").status_code == 200
    assert client.get("/lezenapi/v1/openapi.json").status_code == 200


# --- supervisor -------------------------------------------------------------------------------


def test_supervisor_reads_every_record(env) -> None:
    client, seeded, signer, _, _ = env
    boss = supervisor(signer)
    # A clear BSN is searched under every served organisation's key: all of Linda's records,
    # confidential ones included (a supervisor audits them).
    assert spans(read(client, boss, {attr.DATA_SUBJECT_ID: LINDA})) == all_of_linda(seeded)
    huur = spans(read(client, boss, {attr.PROCESSING_ACTIVITY_ID: ACT["huurtoeslag"]}))
    assert huur & seeded.ben and huur & seeded.linda_visible and huur <= seeded.ben | seeded.linda_visible
    assert spans(read(client, boss, {attr.DATA_SUBJECT_ID: BEN})) == seeded.ben
    # A time window alone is still no search.
    response = client.post(URL, json={"startTime": 0}, headers=boss)
    assert response.status_code == 400


# --- organisation -----------------------------------------------------------------------------


def test_organisation_reads_only_its_own_records(env) -> None:
    client, seeded, signer, _, store = env
    toeslagen = organisation(signer, "dienst-toeslagen")
    own = spans(read(client, toeslagen, {attr.DATA_SUBJECT_ID: LINDA}))
    assert own and own < seeded.linda_visible
    # The move trace holds records of Toeslagen and the Belastingdienst: only Toeslagen's show.
    trace = read(client, toeslagen, {"traceId": seeded.move_trace.hex()})
    assert organisations_of(trace) == {"dienst-toeslagen"}
    assert spans(trace) <= own | seeded.ben and spans(trace) & seeded.ben  # all its subjects, only its records
    # Another organisation's activity: simply no records, not a 403 (no existence leak).
    assert read(client, toeslagen, {attr.PROCESSING_ACTIVITY_ID: ACT["inkomen"]}) == {"processingActivities": []}
    # Its pseudonyms from the Belastingdienst's key find nothing either.
    belasting_pseudonym = pseudonymise(LINDA, KEYS["belastingdienst"].encode())
    assert read(client, toeslagen, {attr.DATA_SUBJECT_ID: belasting_pseudonym}) == {"processingActivities": []}
    belastingdienst = organisation(signer, "belastingdienst")
    theirs = spans(read(client, belastingdienst, {attr.DATA_SUBJECT_ID: belasting_pseudonym}))
    assert seeded.linda_confidential <= theirs  # the controller reads its own confidential records
    assert not theirs & own
    # The restriction is not a selector: a time window alone is still refused.
    assert client.post(URL, json={"endTime": 1}, headers=toeslagen).status_code == 400


# --- citizen ----------------------------------------------------------------------------------


def test_citizen_reads_only_own_non_confidential_records(env) -> None:
    client, seeded, signer, _, _ = env
    linda = citizen(signer, LINDA)
    # The standard's rule holds for citizens too: a search needs a selector; their own BSN is one.
    assert client.post(URL, json={}, headers=linda).status_code == 400
    assert client.post(URL, json={"startTime": 0}, headers=linda).status_code == 400
    assert spans(read(client, linda, {attr.DATA_SUBJECT_ID: LINDA, "startTime": 0})) == seeded.linda_visible
    assert spans(read(client, linda, {attr.DATA_SUBJECT_ID: LINDA})) == seeded.linda_visible
    # The unknown activity is shown (as in the inzage), the confidential FIOD records never.
    assert seeded.linda_unknown <= seeded.linda_visible
    assert spans(read(client, linda, {attr.PROCESSING_ACTIVITY_ID: ACT["fiod"]})) == set()
    assert spans(read(client, citizen(signer, BEN), {attr.DATA_SUBJECT_ID: BEN})) == seeded.ben


def test_citizen_trace_selector_never_shows_other_subjects(env) -> None:
    client, seeded, signer, _, _ = env
    linda = citizen(signer, LINDA)
    trace = read(client, linda, {"traceId": seeded.move_trace.hex()})
    # Linda's records of the trace at every organisation served, not Ben's record in it.
    assert organisations_of(trace) == {"dienst-toeslagen", "belastingdienst"}
    assert spans(trace) and spans(trace) <= seeded.linda_visible
    # The confidential trace: the same empty answer as a trace that does not exist.
    fraud = read(client, supervisor(signer), {attr.PROCESSING_ACTIVITY_ID: ACT["fiod"]})
    fraud_trace = fraud["processingActivities"][0]["traceId"]
    assert read(client, linda, {"traceId": fraud_trace}) == {"processingActivities": []}
    assert read(client, linda, {"traceId": "0" * 32}) == {"processingActivities": []}
    # Ben, with the same selector, gets his record of that trace and nothing of Linda's.
    assert spans(read(client, citizen(signer, BEN), {"traceId": seeded.move_trace.hex()})) <= seeded.ben
    assert spans(read(client, citizen(signer, BEN), {"traceId": seeded.move_trace.hex()}))


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(BEN, id="another-clear-bsn"),
        pytest.param(pseudonymise(BEN, KEYS["dienst-toeslagen"].encode()), id="another-pseudonym"),
        pytest.param("hmac-sha256:" + "0" * 64, id="unknown-pseudonym"),
        pytest.param("not-an-id", id="nonsense"),
    ],
)
def test_citizen_naming_someone_else_gets_the_empty_answer(env, subject: str) -> None:
    client, _, signer, _, _ = env
    response = client.post(URL, json={attr.DATA_SUBJECT_ID: subject}, headers=citizen(signer, LINDA))
    # The same 200 as for a citizen without records: nothing tells whether that subject exists.
    assert response.status_code == 200
    assert response.json() == {"processingActivities": []}
    assert "Link" not in response.headers


def test_citizen_may_name_one_of_their_pseudonyms(env) -> None:
    client, seeded, signer, _, _ = env
    toeslagen_pseudonym = pseudonymise(LINDA, KEYS["dienst-toeslagen"].encode())
    body = read(client, citizen(signer, LINDA), {attr.DATA_SUBJECT_ID: toeslagen_pseudonym})
    assert spans(body) and spans(body) < seeded.linda_visible
    assert {p["attributes"][attr.DATA_SUBJECT_ID] for p in body["processingActivities"]} == {toeslagen_pseudonym}


def test_citizen_paging_never_hints_at_confidential_records(env) -> None:
    client, seeded, signer, _, _ = env
    seen, cursors = read_all(client, citizen(signer, LINDA), {attr.DATA_SUBJECT_ID: LINDA}, limit=1)
    assert set(seen) == seeded.linda_visible and len(seen) == len(set(seen))
    # The last page has no cursor although the confidential record is the newest of all:
    # it is left out in the query, so nothing (count, cursor) points at it.
    assert len(cursors) == len(seen) - 1
    for cursor in cursors:
        # The position in a cursor (version, start time, trace id, span id; then the MAC) is
        # that of the last record the page showed: a visible one.
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        assert raw[25:33].hex() in seeded.linda_visible


def test_citizen_of_a_logboek_without_keys_reads_nothing(env, tmp_path_factory: pytest.TempPathFactory) -> None:
    _, _, signer, _, store = env
    jwks = write_jwks(tmp_path_factory.mktemp("nokeys") / "jwks.json", signer)
    unkeyed = TestClient(make_app(store, jwks, follow_chain=False, keys={}))
    # No organisation served: no pseudonym to match, and a clear BSN is never matched.
    assert read(unkeyed, citizen(signer, LINDA), {attr.DATA_SUBJECT_ID: LINDA}) == {"processingActivities": []}


def test_widest_role_of_a_token_applies(env) -> None:
    client, seeded, signer, _, _ = env
    both = {"Authorization": "Bearer " + signer.token(bsn=LINDA, roles=["citizen", "supervisor"])}
    assert spans(read(client, both, {attr.DATA_SUBJECT_ID: LINDA})) == all_of_linda(seeded)
    org_and_citizen = {"Authorization": "Bearer " + signer.token(
        bsn=LINDA, roles=["citizen", "organisation"], organisation="gemeente-amsterdam")}
    amsterdam = read(client, org_and_citizen, {attr.PROCESSING_ACTIVITY_ID: ACT["bijstand"]})
    assert organisations_of(amsterdam) == {"gemeente-amsterdam"}


def test_a_principal_without_a_read_role_or_claim_is_refused_not_widened() -> None:
    """Defence in depth below the auth layer: a gap in a principal never widens what is read."""
    from pydantic import SecretStr

    from ldv_inzicht._auth import Principal, Role
    from ldv_inzicht._problems import ProblemError
    from ldv_inzicht._read_access import read_restriction
    from ldv_inzicht._subject_keys import SubjectKeys
    from ldv_logboek.register import Register

    keys = SubjectKeys({org: SecretStr(key) for org, key in KEYS.items()})
    now = datetime.now(UTC)
    for principal in (
        Principal("o", frozenset({Role.ORGANISATION})),  # no organisation claim
        Principal("c", frozenset({Role.CITIZEN})),  # no BSN
        Principal("n", frozenset()),  # no role
    ):
        with pytest.raises(ProblemError) as info:
            read_restriction(principal, None, keys, Register, now)
        assert info.value.status == 403
    linda = read_restriction(Principal("c", frozenset({Role.CITIZEN}), bsn=SecretStr(LINDA)), None, keys, Register, now)
    assert linda.data_subject_ids == keys.citizen_pseudonyms(LINDA) and len(linda.data_subject_ids) == 3
