"""Settings of the Inzicht API, from the environment (prefix `LDV_API_`) or given in code.

Every option is documented in inzicht_api/README.md. The `ldv` CLI may build an
`ApiSettings` from its own configuration file and pass it to `create_app`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from ldv_logboek.settings import OrganisationKeys, SettingsWithOrganisationKeys, organisation_keys_field
from ldv_logboek.storage.query import MAX_PAGE_SIZE

MIN_CURSOR_KEY_CHARS = 32


class ApiSettings(SettingsWithOrganisationKeys):
    """Options of the HTTP APIs (read API and the others served by the same app)."""

    # Error messages must never echo a key: hide input values in validation errors.
    model_config = SettingsConfigDict(env_prefix="LDV_API_", extra="ignore", frozen=True, hide_input_in_errors=True)
    deprecated_organisation_keys_variable = "LDV_API_ORGANISATION_KEYS"

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
