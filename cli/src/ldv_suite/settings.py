"""Settings of `ldv serve`: from a TOML file, then `LDV_*` environment variables, then flags."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, FilePath, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServeSettings(BaseSettings):
    """Where the store lives and which ports `ldv serve` listens on.

    Each component reads its own settings too (`LDV_COLLECTOR_*`, `LDV_API_*`); see the README.
    """

    model_config = SettingsConfigDict(env_prefix="LDV_SERVE_", extra="ignore")

    data_dir: Path = Field(Path(".ldv-data"), description="Directory of the embedded chDB store.")
    store_dsn: str | None = Field(
        None,
        description="ClickHouse to use instead of the embedded store, e.g. https://user:pass@host:8443/ldv. "
        "Default: chdb:///<data_dir>.",
    )
    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 for all interfaces.")
    otlp_http_port: int = Field(4318, ge=0, le=65535, description="OTLP/HTTP port (POST /v1/traces).")
    otlp_grpc_port: int = Field(4317, ge=0, le=65535, description="OTLP/gRPC port; 0 disables it.")
    api_port: int = Field(8080, ge=0, le=65535, description="Port of the read API, register API and citizen page.")
    clickhouse_port: int = Field(
        8123, ge=0, le=65535, description="Port of the read-only ClickHouse HTTP endpoint for Grafana (embedded store only); 0 disables it."
    )
    retention_days: int = Field(
        3650,
        ge=1,
        le=65535,
        description="Retention of records, in days (TTL), when neither the register (the retentionPeriod of the "
        "record's activity) nor the organisation sets one.",
    )
    retention_by_organisation: dict[str, Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=dict,
        description="Retention in days per organisation (its identifier, the resource attribute "
        "dpl.suite.organisation), as JSON, e.g. {\"gemeente-amsterdam\": 2555}: for records whose activity has "
        "no retentionPeriod in the register; other organisations get retention_days.",
        examples=[{"gemeente-amsterdam": 2555}],
    )
    store_readers: int = Field(
        4,
        ge=0,
        le=64,
        description="Connections the read APIs' lookups use at the same time, beside the collector's one writer "
        "connection, so a lookup never waits for an insert (more lookups wait for a free reader). 0: reads share "
        "the writer, one statement at a time. The ClickHouse endpoint has its own (LDV_CLICKHOUSE_POOL_SIZE).",
    )
    tile_dir: Path | None = Field(
        None,
        description="Directory where `ldv serve` keeps copies of the transparency logs' full tiles, so that a "
        "proof needs no query of the store. Default: tlog-tiles in data_dir for the embedded store; none (proofs "
        "read the store) for a ClickHouse server unless given.",
    )
    tile_files: bool = Field(
        True,
        description="Copy the transparency logs' full tiles to files (tile_dir) for proofs without a query of the "
        "store (~73 bytes a record on disk). Off: proofs read the store.",
    )
    log_level: str = Field("info", description="Log level of the servers: debug, info, warning, error or critical.")
    tls_cert_file: FilePath | None = Field(
        None, description="PEM certificate (chain) for HTTPS and gRPC over TLS on every port; with tls_key_file."
    )
    tls_key_file: FilePath | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: FilePath | None = Field(
        None,
        description="PEM CA certificate(s) that sign senders' TLS client certificates (needs tls_cert_file). Set: "
        "the OTLP ports ask for a client certificate and verify it against these; a sender is identified by "
        "its certificate_name (LDV_COLLECTOR_SENDERS). OTLP/HTTP also accepts a bearer token instead; "
        "OTLP/gRPC requires a certificate (gRPC cannot ask for an optional one). The API port never asks.",
    )
    allow_anonymous_senders: bool = Field(
        False,
        description="Accept OTLP exports from anyone on an address other than loopback when no senders are "
        "configured (LDV_COLLECTOR_SENDERS). Off: `ldv serve` refuses to start that way, because anyone who "
        "reaches the port could write records in any organisation's name. On loopback it starts with a warning.",
    )
    allow_plaintext: bool = Field(
        False,
        description="Listen without TLS on an address other than loopback. Off: the standard requires TLS on "
        "every connection, so without a certificate `ldv serve` listens on loopback only (behind a "
        "TLS-terminating proxy), and refuses other addresses.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level.strip().lower() not in LOG_LEVELS:
            raise ValueError(f"unknown log level: give one of {', '.join(LOG_LEVELS)}")
        return level.strip().lower()

    @model_validator(mode="after")
    def _tls_rules(self) -> ServeSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file come together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_client_ca_file needs tls_cert_file and tls_key_file: client certificates need TLS")
        if self.tls_cert_file is None and not self.allow_plaintext and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without TLS: give tls_cert_file and tls_key_file, "
                "or set allow_plaintext when a proxy in front terminates TLS"
            )
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    def dsn(self) -> str:
        return self.store_dsn or f"chdb://{self.data_dir.resolve()}"

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: object) -> ServeSettings:
        """Settings from `config_file` (TOML, optional), the environment, then non-None overrides."""
        given = {k: v for k, v in overrides.items() if v is not None}

        class _FromFile(cls):  # type: ignore[valid-type,misc]
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
                if config_file is not None:
                    sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
                return tuple(sources)

        return cls.model_validate(_FromFile(**given).model_dump())
