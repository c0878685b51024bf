"""Settings of the Inzicht API, from the environment or given in code.

`ApiSettings` (prefix `LDV_API_`), `AuthSettings` (token checking, `LDV_AUTH_`) and
`InzageSettings` (the citizen inzage, `LDV_INZAGE_`). Every option is documented in
inzicht_api/README.md. The `ldv` CLI may build them from its own configuration and pass them to
`create_app`.
"""

from __future__ import annotations

from typing import Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, FilePath, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ldv_logboek.settings import OrganisationKeys, SettingsWithOrganisationKeys, organisation_keys_field
from ldv_logboek.storage import MAX_PAGE_SIZE
from ldv_logboek.tlog import COSIGNATURE_V1, ED25519, NoteError, Verifier

MIN_CURSOR_KEY_CHARS = 32

# The signature algorithms of each key family. Only asymmetric ones: an HMAC algorithm would
# let anyone who knows the (public) key sign tokens.
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = {
    "secp256r1": frozenset({"ES256"}),
    "secp384r1": frozenset({"ES384"}),
    "secp521r1": frozenset({"ES512"}),
    "secp256k1": frozenset({"ES256K"}),
}
EDDSA_ALGORITHMS = frozenset({"EdDSA"})
ASYMMETRIC_ALGORITHMS = RSA_ALGORITHMS | EDDSA_ALGORITHMS | frozenset().union(*EC_ALGORITHMS.values())


READ_API_PATH = "/lezenapi/v1"
"""The read API's base path (the standard's server URL ends in it)."""


SHARED_AUDIENCES = frozenset({"ldv-inzicht"})
"""Audiences refused because they are not one Logboek's own (the default of earlier versions)."""


class ApiSettings(SettingsWithOrganisationKeys):
    """Options of the HTTP APIs (read API and the others served by the same app)."""

    # Error messages must never echo a key: hide input values in validation errors.
    model_config = SettingsConfigDict(env_prefix="LDV_API_", extra="ignore", frozen=True, hide_input_in_errors=True)

    default_page_size: int = Field(
        100, ge=1, le=MAX_PAGE_SIZE,
        description="Records per page when a request gives no `limit`.",
    )
    max_page_size: int = Field(
        MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE,
        description=f"Largest `limit` a client may ask for (at most {MAX_PAGE_SIZE}, the store's cap).",
    )
    public_base_url: HttpUrl | None = Field(
        None,
        description=(
            "URL under which clients reach this app's root, e.g. https://logboek.example.nl "
            "(behind a reverse proxy). Used in `Link` headers and the OpenAPI `servers`. "
            "Unset: links use the URL of the request."
        ),
    )
    retry_after_seconds: int = Field(
        5, ge=1, le=3600,
        description="`Retry-After` sent with 503 when the store cannot be reached.",
    )
    # The organisations whose records this Logboek holds, with their keys: shared with the
    # collector (`LDV_ORGANISATION_KEYS`, see ldv_logboek.settings).
    organisation_keys: OrganisationKeys = organisation_keys_field()

    cursor_key: SecretStr | None = Field(
        None,
        description=(
            "Key of the HMAC-SHA256 that seals the read API's paging cursors, at least 32 characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`). Unset: a random key "
            "per process, so cursors do not survive a restart and are not valid on another replica or "
            "worker; set the same key on every replica. Secret: never logged."
        ),
    )

    @model_validator(mode="after")
    def _default_fits_max(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"default_page_size ({self.default_page_size}) exceeds max_page_size ({self.max_page_size})"
            )
        return self

    @field_validator("cursor_key")
    @classmethod
    def _cursor_key_long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < MIN_CURSOR_KEY_CHARS:
            raise ValueError(f"must be at least {MIN_CURSOR_KEY_CHARS} characters")
        return key

    def base_url(self) -> str | None:
        """`public_base_url` without a trailing slash, or None."""
        return str(self.public_base_url).rstrip("/") if self.public_base_url else None


class AuthSettings(BaseSettings):
    """Token checking and roles (environment prefix `LDV_AUTH_`)."""

    model_config = SettingsConfigDict(env_prefix="LDV_AUTH_", extra="ignore", frozen=True)

    jwks_file: FilePath | None = Field(None, description="JWKS file with the issuer's public keys.")
    jwks_url: str | None = Field(None, description="URL of the issuer's JWKS (fetched and cached).")
    public_key_file: FilePath | None = Field(None, description="PEM public key, instead of a JWKS.")
    issuer: str = Field(
        "",
        description="Required `iss` of every token. Must be set when a key is configured, unless allow_any_issuer.",
    )
    allow_any_issuer: bool = Field(
        False,
        description="UNSAFE: accept tokens of any issuer the keys verify (no `iss` check) when `issuer` is empty. "
        "Off: without `issuer` the app refuses to start.",
    )
    audience: str = Field(
        "",
        description="This Logboek's own identifier: every token must name it in `aud`, so a token issued for "
        "another Logboek is refused. A URI, by convention this Logboek's read API URL as the register lists it. "
        "Must be set when a key is configured; the former shared default `ldv-inzicht` is refused.",
    )
    algorithms: tuple[str, ...] = Field(
        ("RS256", "ES256", "PS256", "EdDSA"),
        description="Accepted signature algorithms; asymmetric ones only (RS*, PS*, ES*, EdDSA), never HS* or none. "
        'A JSON list: `["RS256", "ES256"]`.',
        examples=[["RS256", "ES256"]],
    )
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
    demo_private_key_file: FilePath | None = Field(
        None, description="DEMO ONLY: PEM private key the demo login signs with (its public key must be trusted)."
    )
    demo_key_id: str | None = Field(None, description="DEMO ONLY: `kid` header of minted tokens.")
    demo_token_lifetime_seconds: int = Field(900, ge=60, le=86_400, description="DEMO ONLY: lifetime of minted tokens.")
    cookie_secure: bool = Field(True, description="Send the demo login cookie over HTTPS only.")

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: tuple[str, ...]) -> tuple[str, ...]:
        refused = [name for name in algorithms if name not in ASYMMETRIC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(
                f"only asymmetric signature algorithms ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}), not {refused}"
            )
        return algorithms

    @model_validator(mode="after")
    def _demo_needs_key(self) -> AuthSettings:
        if self.demo_login and self.demo_private_key_file is None:
            raise ValueError("demo_login needs demo_private_key_file")
        return self

    @model_validator(mode="after")
    def _issuer_is_checked(self) -> AuthSettings:
        # Without an issuer check, a token of any issuer whose key is trusted for something else
        # (a shared JWKS, a multi-tenant login service) would be accepted.
        if self.configured and not self.issuer and not self.allow_any_issuer:
            raise PydanticCustomError(
                "issuer_missing",
                "LDV_AUTH_ISSUER is not set: set it to the `iss` of your token issuer "
                "(or set LDV_AUTH_ALLOW_ANY_ISSUER=true to accept any issuer, which is unsafe)",
            )
        return self

    @model_validator(mode="after")
    def _audience_is_own(self) -> AuthSettings:
        # A token is limited to one resource server (RFC 9700 section 2.3) only if every
        # Logboek has an audience of its own: a shared value lets any Logboek replay a token at
        # every other one.
        if not self.configured:
            return self
        if not self.audience:
            raise PydanticCustomError(
                "audience_missing",
                "LDV_AUTH_AUDIENCE is not set: set it to this Logboek's own identifier (by convention its read "
                "API URL as the register lists it), the `aud` its tokens are issued for",
            )
        if self.audience in SHARED_AUDIENCES:
            raise PydanticCustomError(
                "audience_shared",
                "LDV_AUTH_AUDIENCE is {audience!r}, a value shared by every Logboek of earlier versions: set it "
                "to this Logboek's own identifier (by convention its read API URL as the register lists it)",
                {"audience": self.audience},
            )
        return self

    @property
    def configured(self) -> bool:
        """Whether any verification key is configured; without one every token is refused."""
        return bool(self.jwks_file or self.jwks_url or self.public_key_file)


class InzageSettings(BaseSettings):
    """Options of the citizen inzage (environment prefix `LDV_INZAGE_`).

    The organisations served and their keys are not here but in `ApiSettings.organisation_keys`
    (`LDV_ORGANISATION_KEYS`), shared with the read API and the collector.
    """

    model_config = SettingsConfigDict(env_prefix="LDV_INZAGE_", extra="ignore", frozen=True)

    max_records_per_organisation: int = Field(
        5000, ge=1, le=100_000, description="Cap on records read per organisation for one citizen."
    )
    follow_chain: bool = Field(True, description="Ask other parties' read APIs named in records.")
    federation_timeout_seconds: float = Field(3.0, gt=0, le=30, description="Timeout of one call to another read API.")
    federation_max_depth: int = Field(3, ge=0, le=10, description="How many hops along a chain to follow.")
    federation_max_calls: int = Field(20, ge=0, le=200, description="Cap on read API calls for one inzage.")
    federation_max_pages: int = Field(5, ge=1, le=50, description="Pages read from one other read API per trace.")
    logboeken: tuple[str, ...] = Field(
        (),
        description="Other Logboeken asked for all the citizen's records (besides the chain), each by its "
        "identifier: its read API URL as the register lists it, which is also the audience of its tokens. "
        'A JSON list: `["https://lezen.uwv.example/lezenapi/v1", "https://lezen.belastingdienst.example/lezenapi/v1"]`.',
        examples=[["https://lezen.uwv.example/lezenapi/v1", "https://lezen.belastingdienst.example/lezenapi/v1"]],
    )
    read_api_addresses: dict[str, str] = Field(
        {},
        description="Where to reach a read API whose identifier is not its network address: identifier -> its "
        "http(s) URL, the host root or the read API's base (`/lezenapi/v1` is added when the path does not end "
        "in it), e.g. the demo's Logboeken on loopback. A JSON object: "
        '`{"https://lezen.uwv.example/lezenapi/v1": "http://127.0.0.1:8081"}`. Others are reached at their identifier.',
        examples=[{"https://lezen.uwv.example/lezenapi/v1": "http://127.0.0.1:8081"}],
    )
    token_endpoint: str | None = Field(
        None,
        description="The issuer's token endpoint (OAuth 2.0 Token Exchange, RFC 8693) where this Logboek obtains a "
        "short-lived token per other Logboek for the citizen. Not set: no other Logboek is asked (the citizen's "
        "own token is never forwarded).",
    )
    client_id: str = Field("", description="This Logboek's client id at the token endpoint.")
    client_secret: SecretStr | None = Field(
        None, description="This Logboek's client secret at the token endpoint (HTTP Basic); never logged."
    )

    log_keys: tuple[str, ...] = Field(
        (),
        description="Verifier keys of this Logboek's transparency logs (`<origin>+<key ID>+<base64>`, as `ldv serve` "
        "logs at start): the inzage checks every record's receipt against them and says so on the page. Not set: "
        "`ldv serve` uses the key of its own collector. A JSON list.",
        examples=[["logboek.example/ldv-2026+1a2b3c4d+AQ..."]],
    )
    witnesses: dict[str, str] = Field(
        {},
        description="Witnesses whose cosignature the inzage requires and names on the page: display name -> "
        "cosignature verifier key (type 0x04). A JSON object: "
        '`{"Autoriteit Persoonsgegevens": "witness.ap.example/ap+1a2b3c4d+BA..."}`. Not set: `ldv serve` uses '
        "the collector's witnesses, named by their key name.",
        examples=[{"Autoriteit Persoonsgegevens": "witness.ap.example/ap+1a2b3c4d+BA..."}],
    )

    @field_validator("log_keys")
    @classmethod
    def _log_keys_parse(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            _verifier(key, ED25519, "a log key")
        return keys

    @field_validator("witnesses")
    @classmethod
    def _witness_keys_parse(cls, witnesses: dict[str, str]) -> dict[str, str]:
        for name, key in witnesses.items():
            _verifier(key, COSIGNATURE_V1, f"the witness key of {name!r}")
        return witnesses

    @field_validator("read_api_addresses")
    @classmethod
    def _read_api_bases(cls, addresses: dict[str, str]) -> dict[str, str]:
        # The host root is what people give (the README said "base URL"); requests go to the
        # read API's base, so both are accepted and the base is what is kept: `/lezenapi/v1` is
        # added when the path does not end in it (`https://host/ldv` -> `https://host/ldv/lezenapi/v1`).
        bases = {}
        for identifier, address in addresses.items():
            parts = urlsplit(address.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                # The identifier, never the address (it could carry credentials).
                raise ValueError(
                    f"the address of {identifier!r}: not an http(s) URL of a read API "
                    f"(e.g. https://lezen.uwv.example or https://lezen.uwv.example{READ_API_PATH})"
                )
            path = parts.path.rstrip("/")
            if not path.endswith(READ_API_PATH):
                path += READ_API_PATH
            bases[identifier] = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        return bases

    @model_validator(mode="after")
    def _client_with_endpoint(self) -> InzageSettings:
        if self.token_endpoint and not (self.client_id and self.client_secret):
            raise ValueError("token_endpoint needs client_id and client_secret (this Logboek's client at the issuer)")
        return self

    def address_of(self, read_api: str) -> str:
        """Where to send requests for the read API known as `read_api`."""
        wanted = read_api.rstrip("/")
        configured = (a.rstrip("/") for i, a in self.read_api_addresses.items() if i.rstrip("/") == wanted)
        return next(configured, wanted)


def _verifier(vkey: str, sig_type: int, what: str) -> None:
    try:
        verifier = Verifier.parse(vkey)
    except NoteError as exc:
        raise ValueError(f"{what} is not a verifier key: {exc}") from None
    if verifier.sig_type != sig_type:
        raise ValueError(f"{what} has the wrong key type (0x{verifier.sig_type:02x})")
