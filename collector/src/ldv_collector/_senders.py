"""Who may write records: the configured senders, each bound to exactly one organisation.

A Logboek is an audit log: a forged record about a citizen is as bad as a lost one. So once
any sender is configured, every export request must say who sends it, in a way the official
OTLP exporters support without code:

- a bearer token: `Authorization: Bearer <token>` (OTLP/HTTP header or OTLP/gRPC metadata
  `authorization`; `OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20<token>"`). The
  configuration holds only the SHA-256 of each token (`token_sha256`, hex), never the token:
  the presented token is hashed and looked up. A lookup by hash leaks nothing useful through
  its timing: at most something about the hash of the attacker's own guess, and SHA-256 cannot
  be inverted. Tokens must be long random strings (`ldv sender-token` makes one); they are
  never logged.
- a TLS client certificate, verified at the TLS handshake against the client CA that
  `ldv serve` is given (`LDV_SERVE_TLS_CLIENT_CA_FILE`). The sender is the one whose
  `certificate_name` is a DNS name or URI in the certificate's subjectAltName, or, for a
  certificate without those, its subject common name (the names gRPC itself reports as the
  peer's identity).

When both are presented they must name the same sender. The collector then binds every
resource of the request to the sender's organisation (`bind_organisation`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ldv_collector.errors import NotAuthenticated
from ldv_logboek import Violation, contains_bsn
from ldv_logboek import attributes as attr

TOKEN_HASH_CHARS = 64
SENDER_ORGANISATION_RULE = "sender-organisation"


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a token's UTF-8 bytes: what `token_sha256` in a sender's settings holds."""
    return hashlib.sha256(token.encode()).hexdigest()


class SenderSettings(BaseModel):
    """One sender in `LDV_COLLECTOR_SENDERS`: its organisation and at least one credential."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation: str = Field(
        min_length=1, description=f"The only organisation (`{attr.ORGANISATION}`) this sender may write records for."
    )
    token_sha256: str | None = Field(
        default=None, description="Hex SHA-256 of the sender's bearer token (never the token itself)."
    )
    certificate_name: str | None = Field(
        default=None,
        min_length=1,
        description="DNS name or URI in the subjectAltName (or else subject CN) of the sender's client certificate.",
    )

    @field_validator("token_sha256")
    @classmethod
    def _check_hash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if len(value) != TOKEN_HASH_CHARS or any(c not in "0123456789abcdef" for c in value):
            raise ValueError("token_sha256 must be the 64 hex digits of a SHA-256 (the token itself is never configured)")
        return value

    @model_validator(mode="after")
    def _check_credential(self) -> SenderSettings:
        if self.token_sha256 is None and self.certificate_name is None:
            raise ValueError("a sender needs token_sha256 or certificate_name (or both)")
        return self


@dataclass(frozen=True, slots=True)
class Sender:
    """An authenticated sender: its configured name and its organisation."""

    name: str
    organisation: str


class SenderDirectory:
    """The configured senders, looked up by token hash and by certificate name."""

    def __init__(self, senders: Mapping[str, SenderSettings]):
        self._by_token: dict[str, Sender] = {}
        self._by_certificate: dict[str, Sender] = {}
        for name, settings in senders.items():
            sender = Sender(name, settings.organisation)
            if settings.token_sha256 is not None:
                self._by_token[settings.token_sha256] = sender
            if settings.certificate_name is not None:
                self._by_certificate[settings.certificate_name] = sender

    @property
    def enabled(self) -> bool:
        """True when senders are configured: every request must then authenticate."""
        return bool(self._by_token or self._by_certificate)

    def authenticate(self, authorization: str | None, certificate_names: Iterable[str] = ()) -> Sender:
        """The sender of a request with this `Authorization` value and client certificate names.

        Raises NotAuthenticated when neither identifies a configured sender, when the token is
        unknown or malformed, or when token and certificate name different senders.
        """
        known = self._by_certificate
        by_certificate = next((known[name] for name in certificate_names if name in known), None)
        by_token = self._token_sender(authorization) if authorization is not None else None
        if by_token is not None and by_certificate is not None and by_token != by_certificate:
            raise NotAuthenticated("the bearer token and the client certificate belong to different senders")
        sender = by_token or by_certificate
        if sender is None:
            raise NotAuthenticated(
                "this collector accepts records from configured senders only: send "
                "'Authorization: Bearer <token>' (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>) "
                "or a client certificate of a configured sender"
            )
        return sender

    def _token_sender(self, authorization: str) -> Sender:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'", invalid_token=True)
        sender = self._by_token.get(token_sha256(token))
        if sender is None:
            raise NotAuthenticated("the bearer token is not the token of a configured sender", invalid_token=True)
        return sender


def certificate_names(pem_or_der: bytes) -> list[str]:
    """The names a client certificate identifies its holder by: SAN DNS names and URIs, else the CN.

    The certificate has been verified by the TLS layer already; this only reads it.
    """
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        if pem_or_der.lstrip().startswith(b"-----BEGIN"):
            certificate = x509.load_pem_x509_certificate(pem_or_der)
        else:
            certificate = x509.load_der_x509_certificate(pem_or_der)
    except ValueError:  # verified by TLS, yet unreadable here: it names nobody
        return []
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(n) for n in san.get_values_for_type(x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        names = []
    if names:
        return names
    return [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def asgi_client_certificate_names(scope: Mapping[str, Any]) -> list[str]:
    """Names of the verified client certificate in an ASGI scope (the ASGI TLS extension), or none."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return []
    leaf = chain[0]
    return certificate_names(leaf.encode() if isinstance(leaf, str) else leaf)


def bind_organisation(resource_attributes: dict[str, str], sender: Sender) -> Violation | None:
    """Bind one resource to the sender's organisation.

    A resource without `dpl.suite.organisation` gets the sender's (stamped into
    `resource_attributes`); a resource that names another organisation gives the violation
    that rejects each of its spans.
    """
    named = resource_attributes.get(attr.ORGANISATION)
    if not named:
        resource_attributes[attr.ORGANISATION] = sender.organisation
        return None
    if named != sender.organisation:
        # The resource's value is quoted unless it holds a BSN (then the BSN guard says so too).
        quoted = "another organisation" if contains_bsn(named) else repr(named)
        return Violation(
            SENDER_ORGANISATION_RULE,
            f"resource attribute {attr.ORGANISATION} is {quoted}, but sender {sender.name!r} "
            f"may only write records of {sender.organisation!r}",
        )
    return None
