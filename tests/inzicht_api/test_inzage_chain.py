"""The inzage follows the chain to another Logboek's real read API on loopback, sending only the
trace id (and period) with a token the issuer made for that Logboek alone (RFC 8693 token
exchange at a real token service on loopback): never the citizen's own token, never the BSN.
The other Logboek finds the citizen's records from the token alone and gives nothing of other
citizens."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage import MAX_TIME_MS, LogStore, connect
from ldv_suite.demo.token_service import DemoIssuer, create_token_service_app
from tests.inzicht_api.inzage_support import (
    AUDIENCE,
    BEN,
    DEMO_REGISTER,
    ISSUER,
    LINDA,
    Server,
    Signer,
    auth_settings,
    citizen,
    free_port,
    make_app,
    other_key,
    record,
    seed,
    spans_of,
    write_jwks,
)

UWV_POLIS = "https://register.uwv.example/processing-activities/polisadministratie-inkomen-verstrekken"
CLIENT_ID = "logboek-test"
CLIENT_SECRET = "test-client-secret-0123456789"


@dataclass
class Recorder:
    """Pure ASGI wrapper around the real read API app: keeps each request's body and token
    (`calls`: the searches, POST) and the token of every other request (`other_calls`: the
    proof route, asked for each record found, `GET .../proof?opening=true`)."""

    app: Any
    calls: list[tuple[bytes, str]] = field(default_factory=list)
    other_calls: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode()
        if scope["method"] == "POST":
            self.calls.append((body, authorization))
        else:
            self.other_calls.append((scope["path"], authorization))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass
class Chain:
    client: TestClient
    signer: Signer
    recorder: Recorder
    linda_uwv: str
    ben_uwv: str
    uwv_api: str


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    tmp = tmp_path_factory.mktemp("chain")
    store = LogStore(connect(f"chdb://{tmp / 'store'}"))
    store.migrate()
    uwv_port = free_port()
    uwv_api = f"http://127.0.0.1:{uwv_port}/lezenapi/v1"
    register = tmp / "register"
    shutil.copytree(DEMO_REGISTER, register)
    uwv_yaml = register / "uwv.yaml"
    uwv_yaml.write_text(uwv_yaml.read_text().replace("https://lezen.uwv.example/lezenapi/v1", uwv_api))
    seeded = seed(store, read_api_of={"huurtoeslag": uwv_api})
    when = time.time() - 30 * 86_400 + 2
    # UWV's records in Linda's move trace, pseudonymised with UWV's key (not served here).
    linda_uwv = record(LINDA, "uwv", UWV_POLIS, name="inkomen verstrekken", when=when, trace_id=seeded.move_trace)
    ben_uwv = record(BEN, "uwv", UWV_POLIS, name="inkomen verstrekken", when=when, trace_id=seeded.move_trace)
    store.insert([linda_uwv, ben_uwv])
    signer = Signer.generate("issuer-1")
    jwks = write_jwks(tmp / "jwks.json", signer)
    issuer = DemoIssuer(
        ISSUER, signer.private_pem, signer.kid, json.loads(jwks.read_text()), frozenset({AUDIENCE, uwv_api})
    )
    issuer.register_client(CLIENT_ID, SecretStr(CLIENT_SECRET), AUDIENCE)
    with Server(create_token_service_app(issuer)) as token_service:
        app = make_app(
            store, jwks, register_paths=[register], timeout=2.0,
            token_endpoint=token_service + "/token", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        )  # fmt: skip
        # UWV's Logboek: the real app, serving UWV (its key), trusting the same issuer, with its own audience.
        uwv_settings = ApiSettings(organisation_keys={"uwv": other_key("uwv")})
        recorder = Recorder(create_app(store, uwv_settings, auth_settings=auth_settings(jwks, audience=uwv_api)))
        with Server(recorder, uwv_port):
            yield Chain(TestClient(app), signer, recorder, linda_uwv.span_id.hex(), ben_uwv.span_id.hex(), uwv_api)
    store.close()


def test_chain_finds_the_other_partys_records_from_the_token_alone(chain: Chain) -> None:
    chain.recorder.calls.clear()
    chain.recorder.other_calls.clear()
    headers = citizen(chain.signer, LINDA)
    response = chain.client.get("/inzage/v1/mijn-verwerkingen", headers=headers)
    assert response.status_code == 200, response.text
    found = spans_of(response.json())
    assert chain.linda_uwv in found
    assert chain.ben_uwv not in found  # the other party restricts to the token's citizen
    assert chain.recorder.calls, "the inzage did not ask UWV's read API"
    own_token = headers["Authorization"].removeprefix("Bearer ")
    # The record found there was checked against UWV's log: its proof route was asked, with the same kind of token.
    [(path, _)] = chain.recorder.other_calls
    assert path.startswith("/lezenapi/v1/processing-activities/") and path.endswith(f"/{chain.linda_uwv}/proof")
    for path, authorization in chain.recorder.other_calls:
        assert own_token not in authorization
        assert jwt.decode(authorization.removeprefix("Bearer "), options={"verify_signature": False})["aud"] == chain.uwv_api
    for body, authorization in chain.recorder.calls:
        # UWV never sees the citizen's own token: one the issuer made for UWV alone, short-lived.
        assert own_token not in authorization
        received = authorization.removeprefix("Bearer ")
        claims = jwt.decode(received, options={"verify_signature": False})
        assert claims["aud"] == chain.uwv_api
        assert claims["bsn"] == LINDA and claims["act"] == {"sub": CLIENT_ID}
        assert claims["exp"] - claims["iat"] <= 300
        sent = json.loads(body)
        assert set(sent) == {"traceId"}
        # Neither the BSN nor any pseudonym of it leaves this Logboek in a body.
        assert LINDA.encode() not in body
        assert pseudonymise(LINDA, other_key("uwv").encode()).encode() not in body


def test_chain_sends_the_period(chain: Chain) -> None:
    chain.recorder.calls.clear()
    # Up to the year 2999: past what a record can hold, so the read API is sent the largest time.
    period = {"vanaf": "2000-01-01", "tot": "2999-12-31"}
    response = chain.client.get("/inzage/v1/mijn-verwerkingen", params=period, headers=citizen(chain.signer, LINDA))
    assert response.status_code == 200
    assert chain.linda_uwv in spans_of(response.json())
    bodies = [json.loads(body) for body, _ in chain.recorder.calls]
    assert bodies and all(set(b) == {"traceId", "startTime", "endTime"} for b in bodies)
    assert {b["endTime"] for b in bodies} == {MAX_TIME_MS}


def test_another_citizen_gets_nothing_of_linda_through_the_chain(chain: Chain) -> None:
    response = chain.client.get("/inzage/v1/mijn-verwerkingen", headers=citizen(chain.signer, BEN))
    assert response.status_code == 200
    assert chain.linda_uwv not in spans_of(response.json())
