"""Settings of the Inzicht API, from the environment (prefix `LDV_API_`) or given in code.

Every option is documented in inzicht_api/README.md. The `ldv` CLI may build an
`ApiSettings` from its own configuration file and pass it to `create_app`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ldv_logboek.storage.query import MAX_PAGE_SIZE

MIN_CURSOR_KEY_CHARS = 32


class ApiSettings(BaseSettings):
    """Options of the HTTP APIs (read API and the others served by the same app)."""

    model_config = SettingsConfigDict(env_prefix="LDV_API_", extra="ignore", frozen=True)

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
    organisation_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "The organisations whose records this Logboek holds: organisation code (as in "
            "`dpl.suite.organisation`) -> its pseudonymisation key (as the collector uses it). "
            "The citizen inzage and the read API pseudonymise a citizen's BSN with every key to "
            "find their records, and the read API pseudonymises a clear `dpl.core.data_subject_id` "
            "with them. JSON in the environment: "
            '`LDV_API_ORGANISATION_KEYS=\'{"dienst-toeslagen": "..."}\'`. Secret: never logged.'
        ),
    )

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

    @field_validator("organisation_keys")
    @classmethod
    def _keys_not_empty(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        empty = sorted(org for org, key in keys.items() if not org or not key.get_secret_value())
        if empty:
            raise ValueError(f"organisation_keys: empty organisation code or key for {empty}")
        return keys

    def base_url(self) -> str | None:
        """`public_base_url` without a trailing slash, or None."""
        return str(self.public_base_url).rstrip("/") if self.public_base_url else None
