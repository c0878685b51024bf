"""Settings of the Inzicht API, from the environment (prefix `LDV_API_`) or given in code.

Every option is documented in inzicht_api/README.md. The `ldv` CLI may build an
`ApiSettings` from its own configuration file and pass it to `create_app`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ldv_logboek.storage.query import MAX_PAGE_SIZE


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
    pseudonym_key: SecretStr | None = Field(
        None,
        description=(
            "The organisation's pseudonymisation key. When set, a `dpl.core.data_subject_id` in a "
            "read request that is not yet a pseudonym is pseudonymised with it before the search, "
            "so a client may search with the id as the collector received it."
        ),
    )

    @model_validator(mode="after")
    def _default_fits_max(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"default_page_size ({self.default_page_size}) exceeds max_page_size ({self.max_page_size})"
            )
        return self

    def base_url(self) -> str | None:
        """`public_base_url` without a trailing slash, or None."""
        return str(self.public_base_url).rstrip("/") if self.public_base_url else None
