"""Read API cursors: only a cursor the API handed out, for this search and this caller, is accepted.

A forged (also a well-formed one), altered, truncated or extended cursor, one of another
search, of another caller or of another Logboek is a 400 problem naming `cursor`; real paging
still walks every record once, also with a fresh token of the same caller or another `limit`,
and across replicas that share `LDV_API_CURSOR_KEY`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.inzage_support import (
    BEN,
    KEYS,
    LINDA,
    Seeded,
    Signer,
    auth_settings,
    citizen,
    make_app,
    organisation,
    seed,
    write_jwks,
)

URL = "/lezenapi/v1/processing-activities"
CURSOR_KEY = "a-cursor-key-of-at-least-32-characters-long"
LINDAS = {attr.DATA_SUBJECT_ID: LINDA}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Seeded, Signer, LogStore, Any]]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('cursors')}"))
    store.migrate()
    seeded = seed(store)
    signer = Signer.generate("issuer-1")
    jwks = write_jwks(tmp_path_factory.mktemp("keys") / "jwks.json", signer)
    yield TestClient(make_app(store, jwks, follow_chain=False)), seeded, signer, store, jwks
    # chDB serves one data directory per process: close it so the next module can open its own.
    store.close()


def supervisor(signer: Signer, sub: str = "toezicht-1") -> dict[str, str]:
    return {"Authorization": "Bearer " + signer.token(sub=sub, roles=["supervisor"])}


def page(client: TestClient, headers: dict[str, str], body: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = client.post(URL, json=body, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def first_cursor(client: TestClient, headers: dict[str, str], body: dict[str, Any] = LINDAS) -> str:
    cursor = page(client, headers, body, limit=1).get("nextCursor")
    assert cursor, "the search must need more than one page"
    return cursor


def assert_refused(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [p["name"] for p in response.json()["invalidParams"]] == ["cursor"]
    assert "processingActivities" not in response.text


def test_paging_walks_every_record_once(env) -> None:
    client, seeded, signer, _, _ = env
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(10):
        body = page(client, supervisor(signer), LINDAS, **params)
        seen += [p["spanId"] for p in body["processingActivities"]]
        if "nextCursor" not in body:
            break
        params["cursor"] = body["nextCursor"]
    assert len(seen) == len(set(seen)) and set(seen) == seeded.linda_visible | seeded.linda_confidential


def test_a_cursor_survives_a_fresh_token_and_another_limit(env) -> None:
    """The cursor is bound to who the caller is, not to one token: tokens expire while paging."""
    client, _, signer, _, _ = env
    cursor = first_cursor(client, supervisor(signer))
    fresh = supervisor(signer)  # another token (its own iat/exp) of the same caller
    assert page(client, fresh, LINDAS, cursor=cursor, limit=5)["processingActivities"]


def _old_style(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def test_a_well_formed_forged_cursor_is_refused(env) -> None:
    """Before: any base64 of "time:trace:span" was taken as a position."""
    client, _, signer, _, _ = env
    forged = _old_style(f"0:{'0' * 32}:{'0' * 16}")
    assert_refused(client.post(URL, json=LINDAS, headers=supervisor(signer), params={"cursor": forged}))
    # The position of a real record in the new layout, with a made-up MAC.
    cursor = first_cursor(client, supervisor(signer))
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[33:] = bytes(len(raw) - 33)
    made_up = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert_refused(client.post(URL, json=LINDAS, headers=supervisor(signer), params={"cursor": made_up}))


def _altered(cursor: str, index: int) -> str:
    replacement = "A" if cursor[index] != "A" else "B"
    return cursor[:index] + replacement + cursor[index + 1 :]


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda c: _altered(c, 3), id="time-altered"),
        pytest.param(lambda c: _altered(c, 30), id="span-altered"),
        pytest.param(lambda c: _altered(c, len(c) - 10), id="mac-altered"),
        pytest.param(lambda c: _altered(c, len(c) - 1), id="last-character-altered"),
        pytest.param(lambda c: c[:-1], id="truncated-by-one"),
        pytest.param(lambda c: c[:44], id="truncated-to-the-position"),
        pytest.param(lambda c: c + "A", id="extended"),
        pytest.param(lambda c: c + "==", id="padded"),
        pytest.param(lambda c: c[:20] + "." + c[21:], id="foreign-character"),
        pytest.param(lambda c: c.upper(), id="upper-cased"),
        pytest.param(lambda c: "not-a-cursor", id="garbage"),
    ],
)
def test_an_altered_cursor_is_refused(env, alter) -> None:
    client, _, signer, _, _ = env
    cursor = first_cursor(client, supervisor(signer))
    altered = alter(cursor)
    assert altered != cursor
    assert_refused(client.post(URL, json=LINDAS, headers=supervisor(signer), params={"cursor": altered}))


@pytest.mark.parametrize(
    "other_search",
    [
        pytest.param({attr.DATA_SUBJECT_ID: BEN}, id="other-subject"),
        pytest.param({**LINDAS, "startTime": 1}, id="added-start-time"),
        pytest.param({**LINDAS, "endTime": 4_000_000_000_000}, id="added-end-time"),
        pytest.param({attr.DATA_SUBJECT_ID: " " + LINDA}, id="subject-spelled-otherwise"),
    ],
)
def test_a_cursor_of_another_search_is_refused(env, other_search: dict[str, Any]) -> None:
    client, _, signer, _, _ = env
    cursor = first_cursor(client, supervisor(signer))
    assert_refused(client.post(URL, json=other_search, headers=supervisor(signer), params={"cursor": cursor}))


def test_a_cursor_of_another_caller_is_refused(env) -> None:
    client, _, signer, _, _ = env
    mine = first_cursor(client, supervisor(signer, "toezicht-1"))
    assert_refused(client.post(URL, json=LINDAS, headers=supervisor(signer, "toezicht-2"), params={"cursor": mine}))
    # One citizen's cursor is no good to another, even for the same body.
    lindas = first_cursor(client, citizen(signer, LINDA))
    assert page(client, citizen(signer, LINDA), LINDAS, cursor=lindas, limit=1)["processingActivities"]
    assert_refused(client.post(URL, json=LINDAS, headers=citizen(signer, BEN), params={"cursor": lindas}))
    # Nor one organisation's to another, nor a citizen's to a supervisor of the same `sub`.
    trace = {"traceId": env[1].move_trace.hex()}
    toeslagen = first_cursor(client, organisation(signer, "dienst-toeslagen"), trace)
    assert_refused(client.post(URL, json=trace, headers=organisation(signer, "belastingdienst"), params={"cursor": toeslagen}))
    as_supervisor = {"Authorization": "Bearer " + signer.token(roles=["supervisor"])}  # sub "test-user", as citizen()
    assert_refused(client.post(URL, json=LINDAS, headers=as_supervisor, params={"cursor": lindas}))


def app_with_cursor_key(env, key: str | None) -> TestClient:
    """Another app (a replica, or another Logboek) on the same store and issuer."""
    _, _, _, store, jwks = env
    settings = ApiSettings(organisation_keys=KEYS, cursor_key=SecretStr(key) if key else None)
    return TestClient(create_app(store, settings, auth_settings=auth_settings(jwks)))


def test_cursors_of_another_logboek_are_refused_and_replicas_share_a_key(env) -> None:
    client, _, signer, _, _ = env
    cursor = first_cursor(client, supervisor(signer))

    def replica(key: str | None) -> TestClient:
        return app_with_cursor_key(env, key)

    # Without a configured key each app has its own random one.
    assert_refused(replica(None).post(URL, json=LINDAS, headers=supervisor(signer), params={"cursor": cursor}))
    one, two = replica(CURSOR_KEY), replica(CURSOR_KEY)
    shared = first_cursor(one, supervisor(signer))
    assert page(two, supervisor(signer), LINDAS, cursor=shared, limit=1)["processingActivities"]
    assert_refused(replica(CURSOR_KEY[::-1]).post(URL, json=LINDAS, headers=supervisor(signer), params={"cursor": shared}))


def test_cursor_key_is_secret_and_long_enough(caplog: pytest.LogCaptureFixture) -> None:
    settings = ApiSettings(cursor_key=SecretStr(CURSOR_KEY))
    assert CURSOR_KEY not in repr(settings) and CURSOR_KEY not in str(settings.model_dump())
    with pytest.raises(ValidationError, match="cursor_key"):
        ApiSettings(cursor_key=SecretStr("too-short"))


def test_refusals_log_neither_cursor_nor_key(env, caplog: pytest.LogCaptureFixture) -> None:
    signer = env[2]
    client = app_with_cursor_key(env, CURSOR_KEY)
    caplog.set_level(logging.DEBUG)
    cursor = first_cursor(client, supervisor(signer))
    caplog.clear()
    assert_refused(client.post(URL, json=LINDAS, headers=supervisor(signer, "someone-else"), params={"cursor": cursor}))
    ours = [r for r in caplog.records if r.name.startswith("ldv_")]
    assert len(ours) == 1 and not ours[0].exc_info
    # The server's log (the test client's own httpx log line shows the URL it sent).
    server_log = " ".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert cursor not in server_log and CURSOR_KEY not in server_log
