"""Token verification from the outside: real PyJWT tokens of several key types, forged in every way.

The app trusts an RSA, an EC P-256 and an Ed25519 key (JWKS), or one RSA PEM key. Every token
that cannot be verified, whatever the reason, is a 401 problem with one log line and no
traceback; a valid token without a role of this service is a 403; the token is checked before
the body or the parameters; a configured key without an issuer does not start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from ldv_inzicht._app import create_app
from ldv_inzicht._auth import mint_demo_token
from ldv_inzicht.settings import ApiSettings, AuthSettings
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.inzage_support import AUDIENCE, ISSUER, KEYS, LINDA, make_app, seed

URL = "/lezenapi/v1/processing-activities"
PROBLEM = "application/problem+json"
SEARCH = {"traceId": "0" * 32}


@dataclass(frozen=True)
class Keys:
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    ed: ed25519.Ed25519PrivateKey
    ec384: ec.EllipticCurvePrivateKey
    stranger_ec: ec.EllipticCurvePrivateKey
    rsa_public_pem: bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "tester", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "roles": ["supervisor"], **extra}


def signed(key: Any, algorithm: str, kid: str | None, **extra: Any) -> str:
    """A real PyJWT token; `extra` claims replace the defaults (None drops one)."""
    body = {k: v for k, v in claims(**extra).items() if v is not None}
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def hand_made(header: dict[str, Any] | bytes, body: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A token put together by hand, as an attacker would (PyJWT refuses to make these)."""
    raw_header = header if isinstance(header, bytes) else json.dumps(header).encode()
    signing_input = f"{_b64(raw_header)}.{_b64(json.dumps(body).encode())}".encode()
    return f"{signing_input.decode()}.{_b64(sign(signing_input))}"


@pytest.fixture(scope="module")
def keys() -> Keys:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Keys(
        rsa=rsa_key,
        ec=ec.generate_private_key(ec.SECP256R1()),
        ed=ed25519.Ed25519PrivateKey.generate(),
        ec384=ec.generate_private_key(ec.SECP384R1()),
        stranger_ec=ec.generate_private_key(ec.SECP256R1()),
        rsa_public_pem=rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogStore]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('tokens')}"))
    store.migrate()
    seed(store)
    yield store
    # chDB serves one data directory per process: close it so the next module can open its own.
    store.close()


def jwks_of(keys: Keys) -> dict[str, Any]:
    return {"keys": [
        {**json.loads(RSAAlgorithm.to_jwk(keys.rsa.public_key())), "kid": "rsa-1", "use": "sig"},
        {**json.loads(ECAlgorithm.to_jwk(keys.ec.public_key())), "kid": "ec-1", "use": "sig"},
        {**json.loads(OKPAlgorithm.to_jwk(keys.ed.public_key())), "kid": "ed-1", "use": "sig"},
    ]}


@pytest.fixture(scope="module")
def jwks_client(keys: Keys, store: LogStore, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app trusting three keys of three families, by kid."""
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps(jwks_of(keys)))
    return TestClient(make_app(store, path, follow_chain=False), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def pem_client(keys: Keys, store: LogStore, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app trusting one RSA public key given as PEM (no JWKS, no kid)."""
    path = tmp_path_factory.mktemp("pem") / "issuer.pem"
    path.write_bytes(keys.rsa_public_pem)
    auth = AuthSettings(public_key_file=path, issuer=ISSUER, audience=AUDIENCE)
    app = create_app(store, ApiSettings(organisation_keys=KEYS), auth_settings=auth)
    return TestClient(app, raise_server_exceptions=False)


def assert_refused_cleanly(response: Any, caplog: pytest.LogCaptureFixture, status: int = 401) -> None:
    """A problem+json with `status`, one log line of our own and no traceback anywhere in the log."""
    assert response.status_code == status, response.text[:400]
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="ldv-inzicht"')
    ours = [r for r in caplog.records if r.name.startswith("ldv_")]
    assert len(ours) == 1, [r.getMessage() for r in ours]
    assert f": {status} " in ours[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING], [
        r.getMessage() for r in caplog.records
    ]
    assert "Traceback" not in caplog.text


# Tokens that verify: the controls, so a 401 below is about the forgery, not the setup.
VALID = {
    "RS256": lambda k: signed(k.rsa, "RS256", "rsa-1"),
    "PS256": lambda k: signed(k.rsa, "PS256", "rsa-1"),
    "ES256": lambda k: signed(k.ec, "ES256", "ec-1"),
    "EdDSA": lambda k: signed(k.ed, "EdDSA", "ed-1"),
    "ES256-without-kid": lambda k: signed(k.ec, "ES256", None),
}


@pytest.mark.parametrize("make", VALID.values(), ids=VALID.keys())
def test_tokens_of_each_trusted_key_are_accepted(jwks_client: TestClient, keys: Keys, make) -> None:
    response = jwks_client.post(URL, json=SEARCH, headers={"Authorization": "Bearer " + make(keys)})
    assert response.status_code == 200, response.text


UNVERIFIABLE: dict[str, Callable[[Keys], str]] = {
    # An algorithm of another key family than the key the token names: a 500 before.
    "ES256-naming-the-RSA-key": lambda k: signed(k.ec, "ES256", "rsa-1"),
    "RS256-naming-the-EC-key": lambda k: signed(k.rsa, "RS256", "ec-1"),
    "EdDSA-naming-the-RSA-key": lambda k: signed(k.ed, "EdDSA", "rsa-1"),
    "ES256-naming-the-Ed25519-key": lambda k: signed(k.ec, "ES256", "ed-1"),
    "PS256-naming-the-EC-key": lambda k: signed(k.rsa, "PS256", "ec-1"),
    # Key confusion: HMAC with the issuer's public key as the secret.
    "HS256-with-the-public-key-as-secret": lambda k: hand_made(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(),
        lambda data: hmac.new(k.rsa_public_pem, data, hashlib.sha256).digest(),
    ),
    "alg-none": lambda k: hand_made({"alg": "none", "typ": "JWT", "kid": "ec-1"}, claims(), lambda data: b""),
    "alg-None-capitalised": lambda k: hand_made({"alg": "None", "kid": "ec-1"}, claims(), lambda data: b""),
    "alg-not-a-string": lambda k: hand_made({"alg": ["ES256"], "kid": "ec-1"}, claims(), lambda data: b"x" * 64),
    "alg-missing": lambda k: hand_made({"kid": "ec-1"}, claims(), lambda data: b"x" * 64),
    "ES384-not-accepted": lambda k: signed(k.ec384, "ES384", "ec-1"),
    "header-not-json": lambda k: hand_made(b"{not json", claims(), lambda data: b"x"),
    "header-a-list": lambda k: hand_made(b"[1, 2]", claims(), lambda data: b"x"),
    "kid-a-number": lambda k: hand_made({"alg": "ES256", "kid": 7}, claims(), lambda data: b"x" * 64),
    "garbage": lambda k: "not.a.jwt",
    "two-parts": lambda k: "eyJhbGciOiJFUzI1NiJ9.e30",
    "payload-not-base64": lambda k: signed(k.ec, "ES256", "ec-1").split(".")[0] + ".%%%.AAAA",
    "payload-not-an-object": lambda k: hand_made({"alg": "ES256", "kid": "ec-1"}, [1], lambda data: b"x" * 64),  # type: ignore[arg-type]
    "unknown-kid": lambda k: signed(k.ec, "ES256", "ec-9"),
    "signed-by-a-stranger": lambda k: signed(k.stranger_ec, "ES256", "ec-1"),
    "signature-too-short": lambda k: signed(k.ec, "ES256", "ec-1").rsplit(".", 1)[0] + ".AAAA",
    "signature-of-another-token": lambda k: (
        signed(k.ec, "ES256", "ec-1", sub="other").rsplit(".", 1)[0] + "." + signed(k.ec, "ES256", "ec-1").rsplit(".", 1)[1]
    ),
    "expired": lambda k: signed(k.ec, "ES256", "ec-1", exp=int(time.time()) - 120),
    "not-yet-valid": lambda k: signed(k.ec, "ES256", "ec-1", nbf=int(time.time()) + 3600),
    "wrong-audience": lambda k: signed(k.ec, "ES256", "ec-1", aud="other-api"),
    "wrong-issuer": lambda k: signed(k.ec, "ES256", "ec-1", iss="https://evil.example"),
    "without-issuer": lambda k: signed(k.ec, "ES256", "ec-1", iss=None),
    "without-sub": lambda k: signed(k.ec, "ES256", "ec-1", sub=None),
    "sub-not-a-string": lambda k: signed(k.ec, "ES256", "ec-1", sub=12),
    "without-exp": lambda k: signed(k.ec, "ES256", "ec-1", exp=None),
    "without-iat": lambda k: signed(k.ec, "ES256", "ec-1", iat=None),
    "exp-not-a-number": lambda k: signed(k.ec, "ES256", "ec-1", exp="tomorrow"),
}


@pytest.mark.parametrize("make", UNVERIFIABLE.values(), ids=UNVERIFIABLE.keys())
def test_every_unverifiable_token_is_401_with_one_log_line(
    jwks_client: TestClient, keys: Keys, make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = jwks_client.post(URL, json=SEARCH, headers={"Authorization": "Bearer " + make(keys)})
    assert_refused_cleanly(response, caplog)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


PEM_UNVERIFIABLE: dict[str, Callable[[Keys], str]] = {
    "ES256-against-an-RSA-PEM": lambda k: signed(k.ec, "ES256", None),
    "EdDSA-against-an-RSA-PEM": lambda k: signed(k.ed, "EdDSA", None),
    "HS256-with-the-PEM-as-secret": lambda k: hand_made(
        {"alg": "HS256", "typ": "JWT"}, claims(), lambda data: hmac.new(k.rsa_public_pem, data, hashlib.sha256).digest()
    ),
    "HS256-with-the-PEM-without-newline": lambda k: hand_made(
        {"alg": "HS256", "typ": "JWT"}, claims(),
        lambda data: hmac.new(k.rsa_public_pem.strip(), data, hashlib.sha256).digest(),
    ),
    "RS256-signed-by-another-RSA-key": lambda k: signed(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", None
    ),
}


@pytest.mark.parametrize("make", PEM_UNVERIFIABLE.values(), ids=PEM_UNVERIFIABLE.keys())
def test_pem_key_refuses_other_families_with_401(
    pem_client: TestClient, keys: Keys, make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = pem_client.post(URL, json=SEARCH, headers={"Authorization": "Bearer " + make(keys)})
    assert_refused_cleanly(response, caplog)


def test_keys_from_a_jwks_url_follow_the_same_rules(keys: Keys, store: LogStore) -> None:
    """The issuer's JWKS served over HTTP by a real server on loopback."""
    body = json.dumps(jwks_of(keys)).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        auth = AuthSettings(
            jwks_url=f"http://127.0.0.1:{server.server_port}/jwks.json", issuer=ISSUER, audience=AUDIENCE
        )
        client = TestClient(create_app(store, ApiSettings(), auth_settings=auth), raise_server_exceptions=False)
        expected = {
            signed(keys.ec, "ES256", "ec-1"): 200,
            signed(keys.ed, "EdDSA", "ed-1"): 200,
            signed(keys.ec, "ES256", None): 200,  # one trusted key fits ES256
            signed(keys.ec, "ES256", "rsa-1"): 401,
            signed(keys.rsa, "RS256", "ed-1"): 401,
            signed(keys.ec, "ES256", "ec-9"): 401,
            signed(keys.stranger_ec, "ES256", "ec-1"): 401,
        }
        for token, status in expected.items():
            response = client.post(URL, json=SEARCH, headers={"Authorization": "Bearer " + token})
            assert response.status_code == status, (jwt.get_unverified_header(token), response.text)
    finally:
        server.shutdown()
        server.server_close()


def test_pem_key_accepts_its_own_tokens(pem_client: TestClient, keys: Keys) -> None:
    for algorithm in ("RS256", "PS256"):
        response = pem_client.post(URL, json=SEARCH, headers={"Authorization": "Bearer " + signed(keys.rsa, algorithm, None)})
        assert response.status_code == 200, (algorithm, response.text)


@pytest.mark.parametrize(
    "path", ["/inzage/v1/mijn-verwerkingen", "/overzicht/v1/counts", "/registerapi/v1/processing-activities"]
)
def test_other_apis_refuse_a_foreign_family_token_with_401(
    jwks_client: TestClient, keys: Keys, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = jwks_client.get(path, headers={"Authorization": "Bearer " + signed(keys.ec, "ES256", "rsa-1")})
    assert_refused_cleanly(response, caplog)


def test_the_page_refuses_a_foreign_family_token(jwks_client: TestClient, keys: Keys) -> None:
    response = jwks_client.get("/inzage/", headers={"Authorization": "Bearer " + signed(keys.ec, "ES256", "rsa-1")})
    assert response.status_code == 401 and response.headers["content-type"].startswith("text/html")


# --- roles: from the role claim only ------------------------------------------------------------


ROLELESS = {
    "bsn-without-role": {"bsn": LINDA, "roles": None},
    "bsn-with-unknown-role": {"bsn": LINDA, "roles": ["burger"]},
    "bsn-with-empty-roles": {"bsn": LINDA, "roles": []},
    "bsn-with-roles-of-other-apps": {"bsn": LINDA, "roles": "reader writer"},
}


@pytest.mark.parametrize("extra", ROLELESS.values(), ids=ROLELESS.keys())
@pytest.mark.parametrize("path", ["/inzage/v1/mijn-verwerkingen", "/overzicht/v1/counts"])
def test_a_bsn_without_a_citizen_role_is_403(
    jwks_client: TestClient, keys: Keys, extra: dict[str, Any], path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = jwks_client.get(path, headers={"Authorization": "Bearer " + signed(keys.ec, "ES256", "ec-1", **extra)})
    assert_refused_cleanly(response, caplog, status=403)
    assert LINDA not in response.text


@pytest.mark.parametrize("extra", ROLELESS.values(), ids=ROLELESS.keys())
def test_a_bsn_without_a_citizen_role_reads_nothing(jwks_client: TestClient, keys: Keys, extra: dict[str, Any]) -> None:
    headers = {"Authorization": "Bearer " + signed(keys.ec, "ES256", "ec-1", **extra)}
    response = jwks_client.post(URL, json={attr.DATA_SUBJECT_ID: LINDA}, headers=headers)
    assert response.status_code == 403 and "processingActivities" not in response.text
    page = jwks_client.get("/inzage/", headers=headers)
    assert page.status_code == 403 and "Geen toegang" in page.text


def test_the_same_token_with_the_citizen_role_reads(jwks_client: TestClient, keys: Keys) -> None:
    headers = {"Authorization": "Bearer " + signed(keys.ec, "ES256", "ec-1", bsn=LINDA, roles=["citizen"])}
    assert jwks_client.get("/inzage/v1/mijn-verwerkingen", headers=headers).status_code == 200


def test_demo_login_mints_a_citizen_role(tmp_path: Path) -> None:
    """The demo page's tokens say their role: they do not rely on a BSN meaning "citizen"."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "login.pem"
    pem.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "demo"}]}))
    settings = AuthSettings(
        jwks_file=jwks, issuer="urn:demo", audience=AUDIENCE, demo_login=True, demo_private_key_file=pem, demo_key_id="demo"
    )
    token = mint_demo_token(settings, LINDA)
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["citizen"]
    from ldv_inzicht._auth import Role, TokenVerifier

    assert TokenVerifier(settings).verify(token).roles == {Role.CITIZEN}


# --- the token before the body -------------------------------------------------------------------


MALFORMED_READS = {
    "not-json": {"content": b"{not json", "headers": {"content-type": "application/json"}},
    "truncated-json": {"content": b'{"traceId": "', "headers": {"content-type": "application/json"}},
    "not-utf8": {"content": b"\xff\xfe{}", "headers": {"content-type": "application/json"}},
    "unknown-field": {"json": {"traceId": "0" * 32, "evil": 1}},
    "wrong-type": {"json": {"startTime": "nonsense"}},
    "no-search-field": {"json": {}},
    "not-an-object": {"json": [1, 2]},
    "bad-limit": {"json": SEARCH, "params": {"limit": 0}},
    "forged-cursor": {"json": SEARCH, "params": {"cursor": "AAAA"}},
    "empty-body": {"content": b"", "headers": {"content-type": "application/json"}},
}


@pytest.mark.parametrize("request_kwargs", MALFORMED_READS.values(), ids=MALFORMED_READS.keys())
def test_read_api_checks_the_token_before_the_body(
    jwks_client: TestClient, keys: Keys, request_kwargs: dict[str, Any]
) -> None:
    kwargs = {**request_kwargs}
    headers = dict(kwargs.pop("headers", {}))
    anonymous = jwks_client.post(URL, headers=headers, **kwargs)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="ldv-inzicht"'
    assert "invalidParams" not in anonymous.json()
    forged = jwks_client.post(URL, headers={**headers, "Authorization": "Bearer " + signed(keys.stranger_ec, "ES256", "ec-1")}, **kwargs)
    assert forged.status_code == 401, forged.text
    roleless = jwks_client.post(
        URL, headers={**headers, "Authorization": "Bearer " + signed(keys.ec, "ES256", "ec-1", roles=["reader"])}, **kwargs
    )
    assert roleless.status_code == 403, roleless.text
    assert "invalidParams" not in roleless.json()


MALFORMED_QUERIES = {
    "inzage-bad-day": "/inzage/v1/mijn-verwerkingen?vanaf=gisteren",
    "inzage-organisation-too-long": "/inzage/v1/mijn-verwerkingen?organisatie=" + "x" * 5000,
    "counts-bad-interval": "/overzicht/v1/counts?interval=year",
    "unregistered-bad-day": "/overzicht/v1/unregistered-activities?tot=morgen",
    "errors-bad-day": "/overzicht/v1/errors?vanaf=2025-13-45",
    "flows-organisation-too-long": "/overzicht/v1/flows?organisatie=" + "x" * 400,
}


@pytest.mark.parametrize("url", MALFORMED_QUERIES.values(), ids=MALFORMED_QUERIES.keys())
def test_inzage_and_overviews_check_the_token_before_the_parameters(jwks_client: TestClient, keys: Keys, url: str) -> None:
    anonymous = jwks_client.get(url)
    assert anonymous.status_code == 401 and "invalidParams" not in anonymous.json()
    forged = jwks_client.get(url, headers={"Authorization": "Bearer " + signed(keys.ec, "ES256", "rsa-1")})
    assert forged.status_code == 401
    roleless = jwks_client.get(url, headers={"Authorization": "Bearer " + signed(keys.ec, "ES256", "ec-1", roles=None)})
    assert roleless.status_code == 403 and "invalidParams" not in roleless.json()


def test_register_api_checks_a_given_token_before_the_parameters(jwks_client: TestClient, keys: Keys) -> None:
    """The register is public: anonymous callers get the validation answer, a bad token 401."""
    url = "/registerapi/v1/processing-activities/x%3Ay/versions/0"
    assert jwks_client.get(url).status_code == 400
    forged = jwks_client.get(url, headers={"Authorization": "Bearer " + signed(keys.ec, "ES256", "rsa-1")})
    assert forged.status_code == 401


# --- settings --------------------------------------------------------------------------------------


def test_a_key_without_an_issuer_does_not_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": []}))
    with pytest.raises(ValidationError, match="LDV_AUTH_ISSUER is not set"):
        AuthSettings(jwks_file=jwks)
    monkeypatch.setenv("LDV_AUTH_PUBLIC_KEY_FILE", str(jwks))
    with pytest.raises(ValidationError, match="LDV_AUTH_ALLOW_ANY_ISSUER"):
        AuthSettings()
    # Explicitly opted out, or nothing to verify with (every token refused anyway): it starts.
    assert AuthSettings(allow_any_issuer=True, audience=AUDIENCE).allow_any_issuer
    monkeypatch.delenv("LDV_AUTH_PUBLIC_KEY_FILE")
    assert not AuthSettings().configured


def test_any_issuer_only_when_opted_out(keys: Keys, store: LogStore, tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    path.write_bytes(keys.rsa_public_pem)
    app = create_app(store, ApiSettings(), auth_settings=AuthSettings(public_key_file=path, allow_any_issuer=True, audience=AUDIENCE))
    client = TestClient(app)
    for issuer in ("https://one.example", "https://two.example"):
        token = signed(keys.rsa, "RS256", None, iss=issuer)
        assert client.post(URL, json=SEARCH, headers={"Authorization": "Bearer " + token}).status_code == 200
    # Still every other check: audience, expiry, sub.
    assert client.post(URL, json=SEARCH, headers={"Authorization": "Bearer " + signed(keys.rsa, "RS256", None, sub=None)}).status_code == 401


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "none"), ("ES256", "HS512"), ("XX1",), ()])
def test_symmetric_or_unknown_algorithms_are_refused_at_start(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="asymmetric"):
        AuthSettings(algorithms=algorithms)
