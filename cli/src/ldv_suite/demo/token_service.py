"""DEMO ONLY: a small token issuer for `ldv demo`, standing in for the government's own issuer.

It does three things, on one port:
- `GET /.well-known/jwks.json`: its public key, which every demo Logboek trusts;
- `POST /demo/inloggen` (form `bsn`, `audience`): a citizen token for any BSN, for one of the
  Logboeken it knows. There is no authentication at all: anyone can be anyone. This is what
  makes it a demo;
- `POST /token`: OAuth 2.0 Token Exchange (RFC 8693). A Logboek that builds a citizen's
  overview across Logboeken authenticates as a client (HTTP Basic, `client_secret_basic`) and
  presents the citizen's token (`subject_token`, issued for that client's own Logboek); it
  receives a token for the same citizen whose only audience is the target Logboek (`audience`
  or `resource`, which must be one of the Logboeken this issuer knows), valid for at most
  five minutes, naming the client as actor (`act`). The client authentication, the request
  parsing and the error responses are Authlib's (`AuthorizationServer`, RFC 6749 building
  blocks); the grant itself is here, because Authlib has no RFC 8693 grant.

Production never runs this: every Logboek points at the real issuer by its settings
(`LDV_AUTH_JWKS_URL`, `LDV_AUTH_ISSUER`, `LDV_INZAGE_TOKEN_ENDPOINT`, `LDV_INZAGE_CLIENT_ID`,
`LDV_INZAGE_CLIENT_SECRET`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, OAuth2Error, UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from ldv_logboek import is_bsn
from ldv_suite.errors import SuiteError

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
MAX_EXCHANGED_LIFETIME_SECONDS = 300


class InvalidTargetError(OAuth2Error, SuiteError):  # type: ignore[misc]
    """RFC 8693 section 2.2.2: the requested audience or resource is not acceptable."""

    error = "invalid_target"

    def __init__(self, description: str) -> None:
        OAuth2Error.__init__(self, description=description)


def secret_sha256(secret: str) -> str:
    """The hash under which the issuer keeps a client secret (it never keeps the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class DemoClient(ClientMixin):  # type: ignore[misc]
    """A Logboek registered at the issuer: its client id, its secret's hash and its own audience."""

    client_id: str
    secret_hash: str
    logboek: str  # the Logboek this client is: subject tokens it presents must be issued for it

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(secret_sha256(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic" and endpoint == "token"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == TOKEN_EXCHANGE_GRANT

    def get_allowed_scope(self, scope: str) -> str:
        return ""


@dataclass
class DemoIssuer:
    """The issuer's identity, key and what it knows: the Logboeken and their clients."""

    issuer: str
    private_key_pem: bytes
    key_id: str
    jwks: Mapping[str, Any]
    logboeken: frozenset[str]
    clients: dict[str, DemoClient] = field(default_factory=dict)
    exchanged_lifetime_seconds: int = MAX_EXCHANGED_LIFETIME_SECONDS
    login_lifetime_seconds: int = 900

    def __post_init__(self) -> None:
        if not 0 < self.exchanged_lifetime_seconds <= MAX_EXCHANGED_LIFETIME_SECONDS:
            raise ValueError(f"exchanged tokens live at most {MAX_EXCHANGED_LIFETIME_SECONDS} seconds")
        self._private_key = load_pem_private_key(self.private_key_pem, password=None)
        self._public_key = self._private_key.public_key()

    def register_client(self, client_id: str, secret: SecretStr, logboek: str) -> None:
        if logboek not in self.logboeken:
            raise ValueError(f"unknown Logboek {logboek!r}")
        self.clients[client_id] = DemoClient(client_id, secret_sha256(secret.get_secret_value()), logboek)

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private_key, algorithm="ES256", headers={"kid": self.key_id})  # type: ignore[arg-type]

    def _citizen_token(self, sub: str, bsn: str, audience: str, lifetime: int, **claims: Any) -> str:
        issued = int(time.time())
        return self._sign(
            {
                "iss": self.issuer,
                "sub": sub,
                "bsn": bsn,
                "roles": ["citizen"],
                "aud": audience,
                "iat": issued,
                "exp": issued + lifetime,
                "jti": secrets.token_urlsafe(12),
                **claims,
            }
        )

    def login_token(self, bsn: str, audience: str) -> str:
        """DEMO ONLY: a citizen token for `bsn`, for the Logboek `audience`."""
        if not is_bsn(bsn):
            raise ValueError("not a valid BSN")
        if audience not in self.logboeken:
            raise ValueError("unknown Logboek")
        return self._citizen_token("demo-" + bsn[-3:], bsn, audience, self.login_lifetime_seconds)

    def subject_claims(self, subject_token: str, client: DemoClient) -> dict[str, Any]:
        """The claims of a citizen token this issuer made for `client`'s own Logboek; InvalidRequestError else."""
        try:
            claims: dict[str, Any] = jwt.decode(
                subject_token,
                self._public_key,  # type: ignore[arg-type]
                algorithms=["ES256"],
                audience=client.logboek,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            # RFC 8693 section 2.2.2: an unacceptable subject token is an invalid_request.
            raise InvalidRequestError(f"the subject token is not acceptable: {exc}") from None
        roles = claims.get("roles")
        if not (isinstance(roles, list) and "citizen" in roles and is_bsn(str(claims.get("bsn", "")))):
            raise InvalidRequestError("the subject token is not a citizen's")
        return claims

    def exchanged_token(self, subject: Mapping[str, Any], audience: str, client: DemoClient) -> str:
        """A token for the same citizen, for `audience` only, short-lived, naming `client` as actor."""
        return self._citizen_token(
            subject["sub"],
            subject["bsn"],
            audience,
            self.exchanged_lifetime_seconds,
            client_id=client.client_id,
            act={"sub": client.client_id},  # RFC 8693 section 4.1: who acts for the citizen
        )


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    """RFC 8693 token exchange: a citizen token for this client's Logboek -> one for a target Logboek."""

    GRANT_TYPE = TOKEN_EXCHANGE_GRANT
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def validate_token_request(self) -> None:
        client: DemoClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError()
        data = self.request.payload.data
        subject_token = data.get("subject_token")
        if not subject_token or data.get("subject_token_type") not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
            raise InvalidRequestError("subject_token and a subject_token_type of an access token are required")
        requested = data.get("requested_token_type")
        if requested and requested not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
            raise InvalidRequestError("only access tokens are issued")
        targets = {value for value in (data.get("audience"), data.get("resource")) if value}
        if len(targets) != 1:
            raise InvalidTargetError(description="name exactly one target Logboek (audience and/or resource)")
        target = targets.pop()
        issuer: DemoIssuer = self.server.issuer
        if target not in issuer.logboeken:
            raise InvalidTargetError(description="the target is not a Logboek this issuer knows")
        self.request.client = client
        self.request.user = issuer.subject_claims(subject_token, client)
        self.target = target

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        issuer: DemoIssuer = self.server.issuer
        token = issuer.exchanged_token(self.request.user, self.target, self.request.client)
        body = {
            "access_token": token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": issuer.exchanged_lifetime_seconds,
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER


class DemoAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's authorization server with the demo's clients and the token exchange grant only."""

    def __init__(self, issuer: DemoIssuer) -> None:
        super().__init__()
        self.issuer = issuer
        self.register_grant(TokenExchangeGrant)

    def query_client(self, client_id: str) -> DemoClient | None:
        return self.issuer.clients.get(client_id)

    def save_token(self, token: Any, request: Any) -> None:
        """Nothing kept: tokens are self-contained JWTs that expire within minutes."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request)
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)


async def _form(request: Request) -> dict[str, str]:
    """The request's url-encoded form; a repeated parameter keeps its first value (RFC 6749 forbids repeats)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    form: dict[str, str] = {}
    for name, value in parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True):
        form.setdefault(name, value)
    return form


def create_token_service_app(issuer: DemoIssuer) -> FastAPI:
    """The demo issuer as an ASGI app."""
    app = FastAPI(title="LDV demo token service (DEMO ONLY)", docs_url=None, redoc_url=None, openapi_url=None)
    server = DemoAuthorizationServer(issuer)

    @app.get("/.well-known/jwks.json")
    async def jwks() -> Mapping[str, Any]:
        return issuer.jwks

    @app.get("/.well-known/oauth-authorization-server")
    async def metadata(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "issuer": issuer.issuer,
            "token_endpoint": base + "/token",
            "jwks_uri": base + "/.well-known/jwks.json",
            "grant_types_supported": [TOKEN_EXCHANGE_GRANT],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = await _form(request)
        oauth_request = OAuth2Request("POST", str(request.url), headers=request.headers)
        oauth_request.payload = BasicOAuth2Payload(form)
        status, body, headers = server.create_token_response(oauth_request)
        return JSONResponse(body if isinstance(body, dict) else json.loads(body or "{}"), status, dict(headers))

    @app.post("/demo/inloggen")
    async def login(request: Request) -> JSONResponse:
        """DEMO ONLY: a citizen token for any BSN, without any authentication."""
        form = await _form(request)
        bsn, audience = form.get("bsn", ""), form.get("audience", "")
        try:
            token = issuer.login_token(bsn, audience)
        except ValueError as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": issuer.login_lifetime_seconds},
            headers={"Cache-Control": "no-store"},
        )

    return app
