"""Who is calling: bearer JWTs checked against configured keys, and the roles they carry.

Three roles:
- `citizen` (burger): reads their own records only; the BSN is a claim of the token.
- `organisation`: reads its own records (read API) and aggregates of them; the organisation
  is a claim.
- `supervisor` (toezichthouder): reads the records of all organisations (read API) and
  aggregates over them; the overviews never show subjects.
What each role reads through the read API is decided in `ldv_inzicht._read_access`.

A token is accepted only when its signature verifies against the configured JWKS file, JWKS
URL or public key, with an algorithm of that key's family (an RSA key verifies RS*/PS* only, a
P-256 key ES256 only, ...: no key confusion), and its issuer, audience, expiry and `sub` are
right. The audience is this Logboek's own identifier (`LDV_AUTH_AUDIENCE`, required with a
key): a token issued for another Logboek is refused here, so no party that receives a token
can replay it elsewhere (RFC 9700 section 2.3). Any token that cannot be verified, for
whatever reason, is a 401 problem+json with
`WWW-Authenticate: Bearer ...` (RFC 6750), never a 500. A valid token without a role of this
service (claim `roles`), or with the wrong role, is a 403 that says nothing about the resource
asked for: the role is read from the role claim only, never inferred from other claims.

The token is checked before the request's body or parameters are looked at: routers of
authenticated endpoints use `TokenFirstRoute`, so a caller without a good token learns nothing,
not even that their body is malformed.

The demo login (`LDV_AUTH_DEMO_LOGIN=true`, off by default) lets the citizen page mint a
token for a typed BSN and accept `?token=` on the page: for demonstrations on a laptop only,
never in production, because anyone can then log in as anyone.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from ldv_inzicht._problems import ProblemError
from ldv_inzicht.errors import InzichtError
from ldv_inzicht.settings import EC_ALGORITHMS, EDDSA_ALGORITHMS, RSA_ALGORITHMS, AuthSettings
from ldv_logboek import is_bsn

TOKEN_COOKIE = "ldv_token"
REALM = "ldv-inzicht"

class Role(str, enum.Enum):
    """What a caller may do."""

    CITIZEN = "citizen"
    ORGANISATION = "organisation"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `repr` never shows the BSN or the token."""

    subject: str
    roles: frozenset[Role]
    bsn: SecretStr | None = None
    organisation: str | None = None
    token: SecretStr = field(default=SecretStr(""))
    issuer: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles


class AuthError(InzichtError):
    """A token that is missing or not acceptable; `error` is the RFC 6750 error code."""

    def __init__(self, description: str, *, error: str | None = "invalid_token"):
        super().__init__(description)
        self.description = description
        self.error = error


@dataclass(frozen=True)
class TrustedKey:
    """A public key tokens may be signed with, and the algorithms it verifies."""

    key: Any
    kid: str | None

    @property
    def algorithms(self) -> frozenset[str]:
        """The signature algorithms the key (a public key of `cryptography`) may verify; none for others."""
        if isinstance(self.key, rsa.RSAPublicKey):
            return RSA_ALGORITHMS
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            return EC_ALGORITHMS.get(self.key.curve.name, frozenset())
        if isinstance(self.key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            return EDDSA_ALGORITHMS
        return frozenset()  # a symmetric ("oct") key or anything else: never used to verify


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
    def _jwks(self) -> tuple[TrustedKey, ...] | None:
        if not self.settings.jwks_file:
            return None
        keys = jwt.PyJWKSet.from_dict(json.loads(self.settings.jwks_file.read_text())).keys
        return tuple(TrustedKey(k.key, k.key_id) for k in keys if k.public_key_use in ("sig", None))

    @cached_property
    def _public_key(self) -> TrustedKey | None:
        if not self.settings.public_key_file:
            return None
        return TrustedKey(load_pem_public_key(self.settings.public_key_file.read_bytes()), None)

    def _candidates(self, kid: str | None) -> Iterator[TrustedKey]:
        """The configured keys a token naming `kid` (or no kid) may be signed with."""
        if self._jwks is not None:
            yield from (key for key in self._jwks if kid is None or key.kid == kid)
        elif self._jwk_client is not None:
            try:
                found = [self._jwk_client.get_signing_key(kid)] if kid else self._jwk_client.get_signing_keys()
            except jwt.PyJWKClientConnectionError:
                raise AuthError("the issuer's keys cannot be fetched now", error=None) from None
            except jwt.PyJWKClientError:
                return
            yield from (TrustedKey(k.key, k.key_id) for k in found)
        elif self._public_key is not None:
            yield self._public_key
        else:
            raise AuthError("this service has no keys configured to check tokens")

    def _key_for(self, token: str) -> tuple[Any, str]:
        """The key to verify `token` with, and the algorithm; AuthError when none fits."""
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise AuthError("the token is malformed") from None
        algorithm = header.get("alg")
        # The header's values are the sender's text: never echoed.
        if not isinstance(algorithm, str) or algorithm not in self.settings.algorithms:
            raise AuthError("the token's signature algorithm is not accepted here")
        kid = header.get("kid")
        candidates = list(self._candidates(kid if isinstance(kid, str) else None))
        if not candidates:
            raise AuthError("the token is signed with a key this service does not trust")
        fitting = [key for key in candidates if algorithm in key.algorithms]
        if not fitting:
            raise AuthError("the token's signature algorithm does not fit the key it names")
        if len(fitting) > 1:
            raise AuthError("the token names no key (kid) and several trusted keys could have signed it")
        return fitting[0].key, algorithm

    def verify(self, token: str) -> Principal:
        """The Principal of a valid token (its roles may be empty); AuthError for anything else."""
        key, algorithm = self._key_for(token)
        options: jwt.types.Options = {"require": ["exp", "iat", "sub"] + (["iss"] if self.settings.issuer else [])}
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer or None,
                leeway=self.settings.leeway_seconds,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.PyJWTError as exc:
            # PyJWT's messages name the failed check, never claim values.
            raise AuthError(f"the token is not valid: {exc}") from None
        except (ValueError, TypeError):
            # A token the library cannot even take apart (a key it cannot use for this
            # signature, a signature of the wrong size ...): unverifiable, so refused.
            raise AuthError("the token's signature cannot be checked") from None
        return self._principal(claims, token)

    def _principal(self, claims: dict[str, Any], token: str) -> Principal:
        raw_roles = claims.get(self.settings.role_claim, [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        # Roles of other applications are none of our business.
        roles = frozenset(role for role in Role if isinstance(raw_roles, list) and role.value in raw_roles)
        # No role of ours: a valid token without access (403 where a role is needed). The role
        # is never inferred from other claims: a BSN alone does not make a citizen.
        bsn = claims.get(self.settings.bsn_claim)
        if Role.CITIZEN in roles and not (isinstance(bsn, str) and is_bsn(bsn)):
            raise AuthError(f"a citizen token needs a valid BSN in the {self.settings.bsn_claim!r} claim")
        organisation = claims.get(self.settings.organisation_claim)
        if Role.ORGANISATION in roles and not (isinstance(organisation, str) and organisation):
            raise AuthError(f"an organisation token needs the {self.settings.organisation_claim!r} claim")
        issuer = claims.get("iss")
        return Principal(
            subject=str(claims["sub"]),
            roles=roles,
            bsn=SecretStr(bsn) if isinstance(bsn, str) else None,
            organisation=organisation if isinstance(organisation, str) else None,
            token=SecretStr(token),
            issuer=issuer if isinstance(issuer, str) else None,
        )


def mint_demo_token(settings: AuthSettings, bsn: str) -> str:
    """DEMO ONLY: a citizen token for `bsn`, signed with the demo key. Refuses when demo login is off."""
    if not settings.demo_login or settings.demo_private_key_file is None:
        raise PermissionError("demo login is disabled")
    if not is_bsn(bsn):
        raise ValueError("not a valid BSN (9 digits that pass the elfproef)")
    issued = int(time.time())
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
    is_ec = isinstance(load_pem_private_key(key.encode(), password=None), ec.EllipticCurvePrivateKey)
    algorithm = "ES256" if is_ec else "RS256"
    headers = {"kid": settings.demo_key_id} if settings.demo_key_id else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def unauthorized(error: AuthError | None) -> ProblemError:
    """The 401 problem for a missing (None) or refused token, with its WWW-Authenticate header."""
    challenge = f'Bearer realm="{REALM}"'
    if error is None:
        detail = "This resource needs a bearer token (Authorization: Bearer <token>)."
    else:
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
    """The app's TokenVerifier (`create_app` sets it); the dependency every token check uses."""
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


class TokenCheck:
    """A dependency that checks the caller's bearer token and admits callers holding any of `roles`.

    Missing token: 401, unless `optional` (then the caller is None, anonymous). A token that
    cannot be verified: 401. A valid token without any of `roles`: 403. The Principal is kept
    on the request, so `TokenFirstRoute` and the route's own dependency verify it once.
    """

    def __init__(self, *roles: Role, optional: bool = False):
        self.roles = frozenset(roles)
        self.optional = optional

    def __call__(
        self, request: Request, verifier: Annotated[TokenVerifier, Depends(get_verifier)]
    ) -> Principal | None:
        if not hasattr(request.state, "ldv_principal"):
            token = bearer_token(request)
            try:
                request.state.ldv_principal = verifier.verify(token) if token is not None else None
            except AuthError as exc:
                raise unauthorized(exc) from None
        principal: Principal | None = request.state.ldv_principal
        if principal is None:
            if self.optional:
                return None
            raise unauthorized(None)
        if self.roles and not principal.roles & self.roles:
            raise forbidden()
        return principal


optional_principal = TokenCheck(optional=True)
"""The caller if a token is given (a bad token is still a 401); None for anonymous calls."""


def _token_checks(dependant: Dependant) -> Iterator[TokenCheck]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, TokenCheck):
            yield dependency.call
        yield from _token_checks(dependency)


class TokenFirstRoute(APIRoute):
    """A route that checks the bearer token before FastAPI reads the body or the parameters.

    FastAPI parses a JSON body before it runs any dependency, so without this a caller with no
    token would learn that their body is malformed (400) instead of getting 401. The route
    runs the `TokenCheck` dependencies of its endpoint first; they answer 401/403 as always.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = list(_token_checks(self.dependant))
        if not checks:
            return handler

        async def token_first(request: Request) -> Response:
            verifier = get_verifier(request)
            for check in checks:
                # Sync, like the dependency itself: fetching a JWKS URL may block.
                await run_in_threadpool(check, request, verifier)
            return await handler(request)

        return token_first
