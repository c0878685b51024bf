"""The exceptions of the collector.

    LdvError                        (ldv_logboek.errors) every exception the suite raises on purpose
    └── CollectorError              the collector refuses a request or cannot take it now
        ├── BodyError               a body that cannot be read; `status` is the HTTP status to answer
        │   ├── BodyTooLarge        over `max_body_bytes`, as sent or inflated (413)
        │   ├── UnsupportedEncoding a Content-Encoding other than gzip, deflate, identity (415)
        │   └── BadCompression      gzip/deflate data that does not inflate (400)
        ├── UndecodableBody         not a valid OTLP request in the declared encoding (400; also a ValueError)
        ├── NotAuthenticated        not proven to come from a configured sender (401 / UNAUTHENTICATED)
        └── WriterStopped           the group-commit writer is not running; retry later (503 / UNAVAILABLE)

The store's own errors (`StorageUnavailable`, `StorageFault`) come from the core's tree.
"""

from __future__ import annotations

from ldv_logboek import LdvError

__all__ = [
    "BadCompression",
    "BodyError",
    "BodyTooLarge",
    "CollectorError",
    "NotAuthenticated",
    "UndecodableBody",
    "UnsupportedEncoding",
    "WriterStopped",
]

BEARER_CHALLENGE = 'Bearer realm="ldv-collector"'


class CollectorError(LdvError):
    """The collector refuses a request or cannot take it now."""


class BodyError(CollectorError):
    """A body that cannot be read; `status` is the HTTP status to answer with."""

    status = 400


class BodyTooLarge(BodyError):
    status = 413


class UnsupportedEncoding(BodyError):
    status = 415


class BadCompression(BodyError):
    status = 400


class UndecodableBody(CollectorError, ValueError):
    """The body is not a valid OTLP request in the declared encoding."""


class NotAuthenticated(CollectorError):
    """The request does not prove it comes from a configured sender; the message says what is wrong.

    `invalid_token` tells a presented but unknown or malformed token from a missing credential
    (RFC 6750: the challenge then carries `error="invalid_token"`). The message never quotes
    the token.
    """

    def __init__(self, message: str, *, invalid_token: bool = False):
        super().__init__(message)
        self.invalid_token = invalid_token

    @property
    def challenge(self) -> str:
        """The `WWW-Authenticate` value of the 401."""
        return BEARER_CHALLENGE + (', error="invalid_token"' if self.invalid_token else "")


class WriterStopped(CollectorError):
    """The writer is not running (not started yet, or shutting down); retry later."""
