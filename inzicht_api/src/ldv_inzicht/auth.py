"""Who is calling: bearer JWTs checked against configured keys, and the roles they carry.

Three roles:
- `citizen` (burger): reads their own records only; the BSN is a claim of the token.
- `organisation`: reads its own records (read API) and aggregates of them; the organisation
  is a claim.
- `supervisor` (toezichthouder): reads the records of all organisations (read API) and
  aggregates over them; the overviews never show subjects.
What each role reads through the read API is decided in `ldv_inzicht.read_access`.

A token is accepted only when its signature verifies against the configured JWKS file, JWKS
URL or public key, and its issuer, audience and expiry are right. A missing, expired or
forged token is a 401 problem+json with `WWW-Authenticate: Bearer ...` (RFC 6750); a valid
token with the wrong role is a 403 that says nothing about the resource asked for.

The demo login (`LDV_AUTH_DEMO_LOGIN=true`, off by default) lets the citizen page mint a
token for a typed BSN and accept `?token=` on the page: for demonstrations on a laptop only,
never in production, because anyone can then log in as anyone.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ldv_inzicht.problems import ProblemError
from ldv_logboek.pseudonym import is_bsn

TOKEN_COOKIE = "ldv_token"
REALM = "ldv-inzicht"


class Role(str, enum.Enum):
    """What a caller may do."""

    CITIZEN = "citizen"
    ORGANISATION = "organisation"
    SUPERVISOR = "supervisor"


class AuthSettings(BaseSettings):
    """Token checking and roles (environment prefix `LDV_AUTH_`)."""

    model_config = SettingsConfigDict(env_prefix="LDV_AUTH_", extra="ignore", frozen=True)

    jwks_file: Path | None = Field(None, description="JWKS file with the issuer's public keys.")
    jwks_url: str | None = Field(None, description="URL of the issuer's JWKS (fetched and cached).")
    public_key_file: Path | None = Field(None, description="PEM public key, instead of a JWKS.")
    issuer: str = Field("", description="Required `iss` of every token.")
    audience: str = Field("ldv-inzicht", description="Required `aud` of every token.")
    algorithms: tuple[str, ...] = Field(("RS256", "ES256", "PS256", "EdDSA"), description="Accepted signature algorithms.")
    leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    bsn_claim: str = Field("bsn", description="Claim that holds the citizen's BSN.")
    role_claim: str = Field("roles", description="Claim with the role(s): citizen, organisation, supervisor.")
    organisation_claim: str = Field(
        "organisation", description="Claim with the organisation's code (as in `dpl.suite.organisation`)."
    )
    jwks_timeout_seconds: float = Field(3.0, gt=0, le=30, description="Timeout of a JWKS URL fetch.")
    demo_login: bool = Field(
        False,
        description="DEMO ONLY: the citizen page offers a form that mints a token for any BSN, and accepts "
        "`?token=`. Needs demo_private_key_file. Never enable in production.",
    )
    demo_private_key_file: Path | None = Field(
        None, description="DEMO ONLY: PEM private key the demo login signs with (its public key must be trusted)."
    )
    demo_key_id: str | None = Field(None, description="DEMO ONLY: `kid` header of minted tokens.")
    demo_token_lifetime_seconds: int = Field(900, ge=60, le=86_400, description="DEMO ONLY: lifetime of minted tokens.")
    cookie_secure: bool = Field(True, description="Send the demo login cookie over HTTPS only.")

    @model_validator(mode="after")
    def _demo_needs_key(self) -> AuthSettings:
        if self.demo_login and self.demo_private_key_file is None:
            raise ValueError("demo_login needs demo_private_key_file")
        return self

    @property
    def configured(self) -> bool:
        """Whether any verification key is configured; without one every token is refused."""
        return bool(self.jwks_file or self.jwks_url or self.public_key_file)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `repr` never shows the BSN or the token."""

    subject: str
    roles: frozenset[Role]
    bsn: SecretStr | None = None
    organisation: str | None = None
    token: SecretStr = field(default=SecretStr(""))

    def has(self, role: Role) -> bool:
        return role in self.roles


class AuthError(Exception):
    """A token that is missing or not acceptable; `error` is the RFC 6750 error code."""

    def __init__(self, description: str, *, error: str | None = "invalid_token"):
        super().__init__(description)
        self.description = description
        self.error = error


class TokenVerifier:
    """Checks bearer tokens against the configured keys and turns them into a Principal."""

    def __init__(self, settings: AuthSettings):
        self.settings = settings

    @cached_property
    def _jwk_client(self) -> jwt.PyJWKClient | None:
        if not self.settings.jwks_url:
            return None
        return jwt.PyJWKClient(self.settings.jwks_url, cache_keys=True, timeout=int(self.settings.jwks_timeout_seconds))

    @cached_property
    def _jwks(self) -> jwt.PyJWKSet | None:
        if not self.settings.jwks_file:
            return None
        return jwt.PyJWKSet.from_dict(json.loads(self.settings.jwks_file.read_text()))

    @cached_property
    def _public_key(self) -> str | None:
        return self.settings.public_key_file.read_text() if self.settings.public_key_file else None

    def _key_for(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"the token is malformed ({exc})") from None
        kid = header.get("kid")
        if self._jwks is not None:
            for key in self._jwks.keys:
                if kid is None or key.key_id == kid:
                    return key.key
            raise AuthError("the token is signed with a key this service does not trust")
        if self._jwk_client is not None:
            try:
                return self._jwk_client.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError:
                raise AuthError("the issuer's keys cannot be fetched now", error=None) from None
            except jwt.PyJWKClientError:
                raise AuthError("the token is signed with a key this service does not trust") from None
        if self._public_key is not None:
            return self._public_key
        raise AuthError("this service has no keys configured to check tokens")

    def verify(self, token: str) -> Principal:
        """The Principal of a valid token; AuthError for anything else."""
        key = self._key_for(token)
        options: jwt.types.Options = {"require": ["exp", "iat", "sub"] + (["iss"] if self.settings.issuer else [])}
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.settings.algorithms),
                audience=self.settings.audience,
                issuer=self.settings.issuer or None,
                leeway=self.settings.leeway_seconds,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            # PyJWT's messages name the failed check, never claim values.
            raise AuthError(f"the token is not valid: {exc}") from None
        return self._principal(claims, token)

    def _principal(self, claims: dict[str, Any], token: str) -> Principal:
        raw_roles = claims.get(self.settings.role_claim, [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        roles: set[Role] = set()
        for value in raw_roles if isinstance(raw_roles, list) else []:
            try:
                roles.add(Role(value))
            except ValueError:
                continue  # roles of other applications are none of our business
        bsn = claims.get(self.settings.bsn_claim)
        if not roles and bsn is not None:
            roles.add(Role.CITIZEN)
        if Role.CITIZEN in roles and not (isinstance(bsn, str) and is_bsn(bsn)):
            raise AuthError(f"a citizen token needs a valid BSN in the {self.settings.bsn_claim!r} claim")
        organisation = claims.get(self.settings.organisation_claim)
        if Role.ORGANISATION in roles and not (isinstance(organisation, str) and organisation):
            raise AuthError(f"an organisation token needs the {self.settings.organisation_claim!r} claim")
        if not roles:
            raise AuthError("the token grants no role of this service", error="insufficient_scope")
        return Principal(
            subject=str(claims["sub"]),
            roles=frozenset(roles),
            bsn=SecretStr(bsn) if isinstance(bsn, str) else None,
            organisation=organisation if isinstance(organisation, str) else None,
            token=SecretStr(token),
        )


def mint_demo_token(settings: AuthSettings, bsn: str, *, now: float | None = None) -> str:
    """DEMO ONLY: a citizen token for `bsn`, signed with the demo key. Refuses when demo login is off."""
    if not settings.demo_login or settings.demo_private_key_file is None:
        raise PermissionError("demo login is disabled")
    if not is_bsn(bsn):
        raise ValueError("not a valid BSN (9 digits that pass the elfproef)")
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": "demo-" + bsn[-3:],
        settings.bsn_claim: bsn,
        settings.role_claim: [Role.CITIZEN.value],
        "aud": settings.audience,
        "iat": issued,
        "exp": issued + settings.demo_token_lifetime_seconds,
    }
    if settings.issuer:
        claims["iss"] = settings.issuer
    key = settings.demo_private_key_file.read_text()
    algorithm = "ES256" if "EC PRIVATE" in key or _is_ec(key) else "RS256"
    headers = {"kid": settings.demo_key_id} if settings.demo_key_id else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def _is_ec(pem: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return isinstance(load_pem_private_key(pem.encode(), password=None), ec.EllipticCurvePrivateKey)


def unauthorized(error: AuthError | None) -> ProblemError:
    """The 401 problem for a missing (None) or refused token, with its WWW-Authenticate header."""
    if error is None:
        challenge = f'Bearer realm="{REALM}"'
        detail = "This resource needs a bearer token (Authorization: Bearer <token>)."
    else:
        challenge = f'Bearer realm="{REALM}"'
        if error.error:
            # A quoted-string may not hold a double quote (RFC 7235).
            description = error.description.replace('"', "'")
            challenge += f', error="{error.error}", error_description="{description}"'
        detail = f"The bearer token was refused: {error.description}."
    return ProblemError(401, detail, headers={"WWW-Authenticate": challenge})


def forbidden() -> ProblemError:
    """The 403 problem: same text whatever was asked, so it reveals nothing about the resource."""
    return ProblemError(403, "Your role does not give access to this resource.")


def bearer_token(request: Request, *, allow_cookie: bool = False, allow_query: bool = False) -> str | None:
    """The token of `request`: the Authorization header, else (if allowed) the cookie or `?token=`."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if allow_query and (query := request.query_params.get("token")):
        return query
    if allow_cookie and (cookie := request.cookies.get(TOKEN_COOKIE)):
        return cookie
    return None


def get_verifier(request: Request) -> TokenVerifier:
    """The app's TokenVerifier (`app.state.token_verifier`, set by `create_app`)."""
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


def optional_principal(
    request: Request, verifier: Annotated[TokenVerifier, Depends(get_verifier)]
) -> Principal | None:
    """The caller if a token is given (a bad token is still a 401); None for anonymous calls."""
    token = bearer_token(request)
    if token is None:
        return None
    try:
        return verifier.verify(token)
    except AuthError as exc:
        raise unauthorized(exc) from None


def require_roles(*roles: Role) -> Callable[..., Principal]:
    """A dependency that admits callers holding any of `roles`: 401 without a good token, else 403."""
    wanted = frozenset(roles)

    def dependency(request: Request, verifier: Annotated[TokenVerifier, Depends(get_verifier)]) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise unauthorized(None)
        try:
            principal = verifier.verify(token)
        except AuthError as exc:
            raise unauthorized(exc) from None
        if not principal.roles & wanted:
            raise forbidden()
        return principal

    return dependency

