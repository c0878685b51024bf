"""Settings of the ClickHouse HTTP endpoint (prefix `LDV_CLICKHOUSE_`) and its users.

Users come from configuration only: a name, a secret (the password, or its SHA-256 as
ClickHouse's own `password_sha256_hex`), and a scope. Secrets are `SecretStr`: never logged,
never in a repr.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPERVISOR = "supervisor"
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class ClickHouseUser(BaseModel):
    """One user of the endpoint.

    `scope` is `supervisor` (every organisation's rows) or an organisation code as in
    `dpl.suite.organisation` (the engine returns only that organisation's rows). `raw_rows`
    lets the user read the record tables themselves (pseudonymised subject ids, attributes);
    without it only tables and views without such columns are served: the counts dashboards need.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    password: SecretStr | None = Field(None, description="The password itself.")
    password_sha256_hex: SecretStr | None = Field(None, description="SHA-256 of the password, hex (as ClickHouse).")
    scope: str = Field(description="`supervisor` or an organisation code.")
    raw_rows: bool = Field(False, description="May read the record tables (subject ids, attributes) themselves.")
    write: bool = Field(
        False,
        description="May write (INSERT, DDL) on an unrestricted connection: only for another `ldv serve` "
        "using this one as its ClickHouse (`--store-dsn`), e.g. in tests. Never for Grafana.",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if (self.password is None) == (self.password_sha256_hex is None):
            raise ValueError("give exactly one of password and password_sha256_hex")
        if self.password is not None and not self.password.get_secret_value():
            raise ValueError("empty password")
        if self.password_sha256_hex is not None and not _SHA256_HEX.match(self.password_sha256_hex.get_secret_value()):
            raise ValueError("password_sha256_hex is not 64 hex digits")
        if self.write and (self.scope != SUPERVISOR or not self.raw_rows):
            raise ValueError(
                "write needs scope supervisor and raw_rows: a user who writes reads an unrestricted connection, "
                "so it cannot be limited to an organisation or to counts"
            )
        return self

    @field_validator("scope")
    @classmethod
    def _scope_not_empty(cls, scope: str) -> str:
        if not scope.strip():
            raise ValueError("empty scope: `supervisor` or an organisation code")
        return scope

    @property
    def is_supervisor(self) -> bool:
        return self.scope == SUPERVISOR

    def password_matches(self, given: str) -> bool:
        """Constant-time comparison of SHA-256 digests (the same work for a right or a wrong password)."""
        digest = hashlib.sha256(given.encode()).digest()
        if self.password is not None:
            expected = hashlib.sha256(self.password.get_secret_value().encode()).digest()
        else:
            assert self.password_sha256_hex is not None
            expected = bytes.fromhex(self.password_sha256_hex.get_secret_value())
        return hmac.compare_digest(digest, expected)


class ClickHouseHttpSettings(BaseSettings):
    """The ClickHouse HTTP endpoint over the embedded store: its users and the engine's limits per query."""

    model_config = SettingsConfigDict(env_prefix="LDV_CLICKHOUSE_", extra="ignore", frozen=True)

    users: dict[str, ClickHouseUser] = Field(
        default_factory=dict,
        description=(
            "Who may query the endpoint: user name -> `{password | password_sha256_hex, scope, raw_rows}`. "
            "`scope` is `supervisor` (all organisations) or an organisation code (only its rows); `raw_rows` "
            "(default false) lets the user read the record table itself; `write` (default false) is for another "
            "`ldv serve --store-dsn` only. JSON in the environment: "
            '`LDV_CLICKHOUSE_USERS=\'{"grafana": {"password_sha256_hex": "...", "scope": "supervisor"}}\'`. '
            "No users: every request is refused. Secrets: never logged."
        ),
    )
    pool_size: int = Field(4, ge=1, le=64, description="Queries run at the same time; more wait for a reader.")
    max_execution_time: int = Field(30, ge=1, le=3600, description="Seconds a query may run (then 408).")
    max_result_rows: int = Field(1_000_000, ge=1, description="Rows a result may have (more: the query fails).")
    max_result_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="Bytes a result may have (uncompressed).")
    max_memory_usage: int = Field(2 * 1024**3, ge=1024**2, description="Bytes of memory one query may use.")
    max_threads: int = Field(2, ge=1, le=256, description="Threads one query may use.")
    max_insert_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest INSERT body accepted from a user with `write` (then 413)."
    )
    max_query_bytes: int = Field(
        256 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest query text (URL plus body) accepted (then 413)."
    )

    @field_validator("users")
    @classmethod
    def _names(cls, users: dict[str, ClickHouseUser]) -> dict[str, ClickHouseUser]:
        if any(not name.strip() for name in users):
            raise ValueError("users: empty user name")
        return users
