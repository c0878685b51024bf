"""Tokens no party can replay: the demo issuer's token exchange (RFC 8693) over real HTTP on
loopback, and two real Logboek apps, each accepting only tokens whose audience is itself.

The issuer is the demo's (`ldv_suite.demo.token_service`), the client side is the inzage's
`TokenExchanger` (Authlib's OAuth 2.0 client): the same code `ldv demo` runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from ldv_inzicht._app import create_app
from ldv_inzicht._auth import AuthError, TokenVerifier
from ldv_inzicht.inzage._token_exchange import TokenExchangeFailed, TokenExchanger
from ldv_inzicht.settings import ApiSettings, AuthSettings, InzageSettings
from ldv_logboek.storage import LogStore, connect
from ldv_suite.demo.token_service import (
    ACCESS_TOKEN_TYPE,
    MAX_EXCHANGED_LIFETIME_SECONDS,
    TOKEN_EXCHANGE_GRANT,
    DemoIssuer,
    create_token_service_app,
)
from tests.inzicht_api.inzage_support import (
    AUDIENCE,
    BEN,
    ISSUER,
    LINDA,
    Server,
    Signer,
    auth_settings,
    free_port,
    make_app,
    other_key,
    record,
    seed,
    spans_of,
    write_jwks,
)

LOGBOEK_A = AUDIENCE  # the Logboek with the citizen page
LOGBOEK_B = "https://lezen.uwv.example/lezenapi/v1"
CLIENT_ID = "logboek-a"
CLIENT_SECRET = "a-secret-of-logboek-a-0123456789"
UWV_WW = "https://register.uwv.example/processing-activities/ww"

pytestmark = pytest.mark.timeout(120)


@dataclass
class Federation:
    signer: Signer
    token_url: str
    a: TestClient  # Logboek A: serves the test organisations, asks B through the token exchange
    b: TestClient  # Logboek B: serves UWV only
    b_url: str
    b_calls: list[str]  # the Authorization header of every request B received
    linda_b: str  # span id of Linda's UWV record, in no chain: only asking B for everything finds it
    ben_b: str


class Recording:
    """Pure ASGI wrapper: keeps the Authorization header of every HTTP request."""

    def __init__(self, app: object, calls: list[str]) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] == "http":
            self.calls.append(dict(scope["headers"]).get(b"authorization", b"").decode())
        await self.app(scope, receive, send)  # type: ignore[operator]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("federation")
    store = LogStore(connect(f"chdb://{tmp / 'store'}"))
    store.migrate()
    seed(store)
    # Records of UWV in a trace of its own: no record at A points there.
    linda_b = record(
        LINDA, "uwv", UWV_WW, name="WW-aanvraag beoordelen", when=time.time() - 3600, trace_id=b"\x01" * 16
    )
    ben_b = record(BEN, "uwv", UWV_WW, name="WW-aanvraag beoordelen", when=time.time() - 3600, trace_id=b"\x02" * 16)
    store.insert([linda_b, ben_b])
    signer = Signer.generate("issuer-1")
    jwks = write_jwks(tmp / "jwks.json", signer)
    issuer = DemoIssuer(
        ISSUER, signer.private_pem, signer.kid, json.loads(jwks.read_text()), frozenset({LOGBOEK_A, LOGBOEK_B})
    )
    issuer.register_client(CLIENT_ID, SecretStr(CLIENT_SECRET), LOGBOEK_A)
    b_port = free_port()
    b_url = f"http://127.0.0.1:{b_port}/lezenapi/v1"
    calls: list[str] = []
    b_app = create_app(
        store, ApiSettings(organisation_keys={"uwv": other_key("uwv")}), auth_settings=auth_settings(jwks, audience=LOGBOEK_B)
    )
    with Server(create_token_service_app(issuer)) as token_service, Server(Recording(b_app, calls), b_port):
        a_app = make_app(
            store, jwks, timeout=2.0, logboeken=(LOGBOEK_B,), read_api_addresses={LOGBOEK_B: b_url},
            token_endpoint=token_service + "/token", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        )  # fmt: skip
        yield Federation(
            signer, token_service + "/token", TestClient(a_app), TestClient(b_app), b_url, calls,
            linda_b.span_id.hex(), ben_b.span_id.hex(),
        )  # fmt: skip
    store.close()


def _citizen_token(f: Federation, bsn: str = LINDA, *, aud: str = LOGBOEK_A, **claims: object) -> str:
    return f.signer.token(bsn=bsn, roles=["citizen"], aud=aud, **claims)


def _exchange(f: Federation, subject_token: str, target: str, *, client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
              **extra: str) -> httpx.Response:  # fmt: skip
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": target,
        **extra,
    }
    return httpx.post(f.token_url, data=form, auth=client, timeout=10)


def _search(client: TestClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"dpl.core.data_subject_id": LINDA}
    return client.post("/lezenapi/v1/processing-activities", json=body, headers=headers).status_code


def test_a_token_for_logboek_a_is_refused_by_logboek_b(federation: Federation) -> None:
    own = _citizen_token(federation)
    assert _search(federation.a, own) == 200
    assert _search(federation.b, own) == 401


def test_an_exchanged_token_works_only_at_its_target(federation: Federation) -> None:
    answer = _exchange(federation, _citizen_token(federation), LOGBOEK_B)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
    token = body["access_token"]
    assert _search(federation.b, token) == 200
    assert _search(federation.a, token) == 401
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == LOGBOEK_B and claims["bsn"] == LINDA and claims["act"] == {"sub": CLIENT_ID}
    assert 0 < claims["exp"] - claims["iat"] <= MAX_EXCHANGED_LIFETIME_SECONDS == body["expires_in"] == 300


def test_an_expired_exchanged_token_is_refused(federation: Federation, tmp_path: Path) -> None:
    """Short-lived and enforced: a token exchanged with a 1 s lifetime is refused once it is past."""
    jwks = write_jwks(tmp_path / "jwks.json", federation.signer)
    issuer = DemoIssuer(
        ISSUER, federation.signer.private_pem, federation.signer.kid, json.loads(jwks.read_text()),
        frozenset({LOGBOEK_A, LOGBOEK_B}), exchanged_lifetime_seconds=1,
    )  # fmt: skip
    issuer.register_client(CLIENT_ID, SecretStr(CLIENT_SECRET), LOGBOEK_A)
    client = issuer.clients[CLIENT_ID]
    token = issuer.exchanged_token(issuer.subject_claims(_citizen_token(federation), client), LOGBOEK_B, client)
    verifier = TokenVerifier(AuthSettings(jwks_file=jwks, issuer=ISSUER, audience=LOGBOEK_B, leeway_seconds=0))
    assert verifier.verify(token).bsn is not None
    time.sleep(2.1)
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(token)
    with pytest.raises(ValueError, match="at most 300"):
        DemoIssuer(ISSUER, issuer.private_key_pem, "k", {}, frozenset(), exchanged_lifetime_seconds=3600)


@pytest.mark.parametrize(
    ("client", "status", "error"),
    [
        pytest.param(("unknown-client", CLIENT_SECRET), 401, "invalid_client", id="unknown-client"),
        pytest.param((CLIENT_ID, "wrong-secret"), 401, "invalid_client", id="wrong-secret"),
    ],
)
def test_the_exchange_refuses_clients_it_does_not_know(
    federation: Federation, client: tuple[str, str], status: int, error: str
) -> None:
    answer = _exchange(federation, _citizen_token(federation), LOGBOEK_B, client=client)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert "access_token" not in answer.json()


def test_the_exchange_refuses_a_client_without_authentication(federation: Federation) -> None:
    form = {"grant_type": TOKEN_EXCHANGE_GRANT, "subject_token": _citizen_token(federation),
            "subject_token_type": ACCESS_TOKEN_TYPE, "audience": LOGBOEK_B}  # fmt: skip
    answer = httpx.post(federation.token_url, data=form, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(lambda f: _citizen_token(f, exp_in=-120), id="expired"),
        pytest.param(lambda f: Signer.generate(f.signer.kid).token(bsn=LINDA, roles=["citizen"]), id="forged"),
        # Issued for another Logboek (B): the client may only exchange tokens issued for itself.
        pytest.param(lambda f: _citizen_token(f, aud=LOGBOEK_B), id="other-audience"),
        pytest.param(lambda f: _citizen_token(f, iss="https://other-issuer.example"), id="other-issuer"),
        pytest.param(lambda f: f.signer.token(aud=LOGBOEK_A, roles=["supervisor"]), id="not-a-citizen"),
        pytest.param(lambda f: "not-a-token", id="malformed"),
    ],
)
def test_the_exchange_refuses_subject_tokens_it_cannot_accept(federation: Federation, subject: object) -> None:
    answer = _exchange(federation, subject(federation), LOGBOEK_B)  # type: ignore[operator]
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("target", "extra"),
    [
        pytest.param("https://lezen.onbekend.example/lezenapi/v1", {}, id="unknown-logboek"),
        pytest.param(LOGBOEK_B, {"resource": "https://lezen.onbekend.example/lezenapi/v1"}, id="two-targets"),
        pytest.param("", {}, id="no-target"),
    ],
)
def test_the_exchange_refuses_targets_it_does_not_know(
    federation: Federation, target: str, extra: dict[str, str]
) -> None:
    answer = _exchange(federation, _citizen_token(federation), target, **extra)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_target"


def test_the_exchange_refuses_other_grants(federation: Federation) -> None:
    answer = httpx.post(
        federation.token_url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"


def test_the_client_side_reports_a_refusal_without_secrets(
    federation: Federation, caplog: pytest.LogCaptureFixture
) -> None:
    secret, subject = "a-wrong-secret-7f3a9c", _citizen_token(federation)

    async def attempt() -> None:
        async with TokenExchanger(federation.token_url, CLIENT_ID, SecretStr(secret), subject, timeout=5) as exchanger:
            await exchanger.token_for(LOGBOEK_B)

    caplog.set_level("DEBUG")
    with pytest.raises(TokenExchangeFailed, match="invalid_client") as refused:
        asyncio.run(attempt())
    for text in (str(refused.value), caplog.text):
        assert secret not in text and subject not in text


def test_the_inzage_over_two_logboeken_never_hands_out_the_citizens_token(federation: Federation) -> None:
    federation.b_calls.clear()
    own = _citizen_token(federation)
    response = federation.a.get("/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {own}"})
    assert response.status_code == 200, response.text
    body = response.json()
    found = spans_of(body)
    assert federation.linda_b in found  # from Logboek B, in a trace Logboek A knows nothing of
    assert federation.ben_b not in found
    uwv = [p for p in body["organisations"] if p["organisation"]["code"] == "uwv"]
    assert uwv and uwv[0]["available"] and uwv[0]["source"] == LOGBOEK_B
    assert federation.b_calls, "Logboek B was not asked"
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    for authorization in federation.b_calls:
        assert own not in authorization and basic not in authorization
        claims = jwt.decode(authorization.removeprefix("Bearer "), options={"verify_signature": False})
        assert claims["aud"] == LOGBOEK_B


@pytest.mark.parametrize("given", ["root", "root/", "base", "base/"])
def test_a_read_api_address_may_be_the_host_root_or_the_read_api_base(federation: Federation, given: str) -> None:
    """Issue #19 item 7: LDV_INZAGE_READ_API_ADDRESSES said "base URL"; the host root (what people
    give) used to leave the party "niet beschikbaar" silently. Both forms now reach the read API."""
    root = federation.b_url.removesuffix("/lezenapi/v1")
    address = {"root": root, "root/": root + "/", "base": federation.b_url, "base/": federation.b_url + "/"}[given]
    service = federation.a.app.state.context.inzage  # type: ignore[attr-defined]
    settings = service.settings
    service.settings = InzageSettings.model_validate({**settings.model_dump(), "read_api_addresses": {LOGBOEK_B: address}})
    federation.b_calls.clear()
    try:
        own = _citizen_token(federation)
        body = federation.a.get("/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {own}"}).json()
    finally:
        service.settings = settings
    assert federation.linda_b in spans_of(body)
    uwv = [p for p in body["organisations"] if p["organisation"]["code"] == "uwv"]
    assert uwv and uwv[0]["available"] and uwv[0]["sourceLabel"] == "opgevraagd bij het Logboek van UWV"
    # The exchanged token B accepted: the claims the README lists, the role claim included
    # (without `roles` B answers 403 and the party shows as unavailable).
    claims = jwt.decode(federation.b_calls[0].removeprefix("Bearer "), options={"verify_signature": False})
    assert claims["aud"] == LOGBOEK_B and claims["roles"] == ["citizen"] and claims["bsn"] == LINDA
    assert claims["act"] == {"sub": CLIENT_ID} and claims["sub"] and claims["exp"] - claims["iat"] <= 300


@pytest.mark.parametrize(
    "address", ["logboek.elders.example", "ftp://logboek.elders.example", "https:///pad", "https://logboek.elders.example/?x=1"]
)
def test_a_read_api_address_that_is_no_http_url_is_refused_at_start(address: str) -> None:
    with pytest.raises(ValidationError, match="not an http\\(s\\) URL of a read API") as refused:
        InzageSettings(read_api_addresses={LOGBOEK_B: address})
    message = refused.value.errors()[0]["msg"]  # what `ldv serve` prints
    assert LOGBOEK_B in message and address not in message  # the identifier, not the address


def test_read_api_addresses_are_kept_as_the_read_api_base() -> None:
    settings = InzageSettings(read_api_addresses={
        "https://lezen.uwv.example/lezenapi/v1": "http://127.0.0.1:8081",
        "https://lezen.rvig.example/lezenapi/v1": "https://proxy.example/ldv/lezenapi/v1/",
        "https://lezen.bd.example/lezenapi/v1": "https://proxy.example/bd/",
    })  # fmt: skip
    assert settings.address_of("https://lezen.uwv.example/lezenapi/v1") == "http://127.0.0.1:8081/lezenapi/v1"
    assert settings.address_of("https://lezen.rvig.example/lezenapi/v1/") == "https://proxy.example/ldv/lezenapi/v1"
    assert settings.address_of("https://lezen.bd.example/lezenapi/v1") == "https://proxy.example/bd/lezenapi/v1"
    assert settings.address_of("https://elders.example/lezenapi/v1") == "https://elders.example/lezenapi/v1"


def test_without_a_token_endpoint_no_other_logboek_is_asked(federation: Federation) -> None:
    """No exchange configured: Logboek B is reported unavailable, never sent the citizen's own token."""
    federation.b_calls.clear()
    a_app = federation.a.app
    settings = a_app.state.context.inzage.settings  # type: ignore[attr-defined]
    service = a_app.state.context.inzage  # type: ignore[attr-defined]
    service.settings = settings.model_copy(update={"token_endpoint": None})
    try:
        own = _citizen_token(federation)
        body = federation.a.get("/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {own}"}).json()
    finally:
        service.settings = settings
    assert federation.b_calls == []
    assert federation.linda_b not in spans_of(body)
    uwv = [p for p in body["organisations"] if p["organisation"]["code"] == "uwv"]
    assert uwv and not uwv[0]["available"] and uwv[0]["statusLabel"] == "niet beschikbaar op dit moment"


def test_the_demo_login_issues_a_token_for_one_known_logboek(federation: Federation) -> None:
    login = federation.token_url.removesuffix("/token") + "/demo/inloggen"
    answer = httpx.post(login, data={"bsn": LINDA, "audience": LOGBOEK_A}, timeout=10)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    token = answer.json()["access_token"]
    assert _search(federation.a, token) == 200
    assert _search(federation.b, token) == 401
    for refused in ({"bsn": LINDA, "audience": "https://elders.example"}, {"bsn": "123", "audience": LOGBOEK_A}):
        assert httpx.post(login, data=refused, timeout=10).status_code == 400
    jwks = httpx.get(federation.token_url.removesuffix("/token") + "/.well-known/jwks.json", timeout=10).json()
    assert [key["kid"] for key in jwks["keys"]] == [federation.signer.kid] and "d" not in jwks["keys"][0]
