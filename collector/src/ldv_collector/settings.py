"""Configuration of the collector, from the environment (prefix `LDV_COLLECTOR_`) or code."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from ldv_collector._senders import SenderSettings
from ldv_logboek import MIN_KEY_BYTES, key_is_long_enough
from ldv_logboek import attributes as attr
from ldv_logboek.settings import (
    ORGANISATION_KEYS_VARIABLE,
    OrganisationKeys,
    SettingsWithOrganisationKeys,
    organisation_keys_field,
)
from ldv_logboek.tlog import COSIGNATURE_V1, NoteError, Verifier, load_signer


class WitnessSettings(BaseModel):
    """A witness the collector asks to cosign each checkpoint (C2SP tlog-witness)."""

    url: str = Field(description="The witness's submission prefix: `<url>/add-checkpoint` is posted to.")
    vkey: str = Field(description="The witness's cosigning verifier key, `<name>+<hex key ID>+<base64>` (type 0x04).")

    @field_validator("vkey")
    @classmethod
    def _check_vkey(cls, vkey: str) -> str:
        if Verifier.parse(vkey).sig_type != COSIGNATURE_V1:
            raise ValueError("a witness's key is a cosignature key (type 0x04)")
        return vkey


class CollectorSettings(SettingsWithOrganisationKeys):
    """Settings of the OTLP collector.

    Every field can be set with an environment variable `LDV_COLLECTOR_<FIELD NAME>`, for
    example `LDV_COLLECTOR_MAX_BODY_BYTES=8388608`; dictionaries are given as JSON, for example
    `LDV_COLLECTOR_SENDERS='{"toeslagen-api": {...}}'`. `organisation_keys` is shared with the
    Inzicht API: one variable, `LDV_ORGANISATION_KEYS` (see `ldv_logboek.settings`).
    """

    # Error messages must never echo a key: hide input values in validation errors.
    model_config = SettingsConfigDict(env_prefix="LDV_COLLECTOR_", extra="ignore", hide_input_in_errors=True)

    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description=(
            "Largest request body accepted, in bytes, both as received and after gzip/deflate "
            "decompression (a compression bomb is cut off at this size, not inflated). "
            "Larger requests get HTTP 413."
        ),
    )
    max_batch_records: int = Field(
        default=20_000,
        gt=0,
        description=(
            "Group commit: the most records one insert gathers from concurrent requests. "
            "A single request larger than this is inserted on its own, never split."
        ),
    )
    max_batch_wait_ms: float = Field(
        default=2.0,
        ge=0,
        le=1000,
        description=(
            "Group commit: how long the writer waits for more requests after the first one "
            "arrives before it inserts, in milliseconds (0: insert at once; requests that "
            "arrive while an insert runs are batched anyway)."
        ),
    )
    min_insert_interval_ms: float = Field(
        default=150.0,
        ge=0,
        le=5000,
        description=(
            "Group commit: the least time between the starts of two inserts, in milliseconds, while fewer than 512 "
            "records (a full SDK or OpenTelemetry batch) are pending (0: no pacing). Every insert is a part of the store with a fixed "
            "cost, so steady traffic is inserted at most once per interval; a request after a quiet spell is "
            "inserted at once. It adds at most this much to an export's latency."
        ),
    )
    pseudonymisation_key: SecretStr | None = Field(
        default=None,
        description=(
            "Default organisation key for pseudonymising a clear BSN in "
            f"`{attr.DATA_SUBJECT_ID}` (HMAC-SHA256 over the UTF-8 bytes of this key). Used for "
            f"spans whose resource attribute `{attr.ORGANISATION}` has no entry in "
            f"`organisation_keys` (`{ORGANISATION_KEYS_VARIABLE}`). At least {MIN_KEY_BYTES} bytes."
        ),
    )
    organisation_keys: OrganisationKeys = organisation_keys_field()
    store_clear_bsn: bool = Field(
        default=False,
        description=(
            f"When no key applies to a span, store a clear BSN in `{attr.DATA_SUBJECT_ID}` as it is "
            "instead of rejecting the span. Off by default: the standard recommends pseudonymised "
            "subject ids. Clear BSNs in any other attribute are always rejected."
        ),
    )
    retry_after_seconds: int = Field(
        default=5,
        ge=1,
        description="Value of the Retry-After header on HTTP 503 (storage unavailable or shutting down).",
    )
    min_free_disk_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="Free space the embedded store's disk keeps: below it inserts are refused with HTTP 503 / gRPC "
        "UNAVAILABLE (retry later) and merges stop, before ClickHouse could run out of room in the middle of "
        "writing a part; writing resumes by itself once there is room. 0: no reserve. (A ClickHouse server keeps "
        "its own: keep_free_space_bytes.)",
    )
    max_error_message_chars: int = Field(
        default=8192,
        ge=256,
        description=(
            "Cap on the length of the OTLP partial_success error_message that lists rejected spans; "
            "the rest is summarised as a count."
        ),
    )

    senders: dict[str, SenderSettings] = Field(
        default_factory=dict,
        description=(
            "The senders allowed to write records: sender name -> `organisation` (the one "
            f"`{attr.ORGANISATION}` it may write), `token_sha256` (hex SHA-256 of its bearer token; "
            "the token itself is never configured) and/or `certificate_name` (DNS name or URI in the "
            "subjectAltName, else subject CN, of its TLS client certificate). Set: every export must "
            "authenticate (HTTP 401 / gRPC UNAUTHENTICATED otherwise) and a span whose resource names "
            "another organisation is rejected; a resource without an organisation gets the sender's. "
            "Empty: anyone who reaches the OTLP ports may write (`ldv serve` allows that on loopback "
            'only). JSON: `{"toeslagen-api": {"organisation": "dienst-toeslagen", "token_sha256": "..."}}`.'
        ),
        examples=[{"toeslagen-api": {"organisation": "dienst-toeslagen", "token_sha256": "<64 hex digits>"}}],
    )

    senders_file: Path | None = Field(
        default=None,
        description=(
            "TOML file with more senders, one table each: `[senders.toeslagen-api]` with `organisation`, "
            "`token_sha256` and/or `certificate_name`, as in `senders`. Added to `senders`; a name in both is "
            "an error. Keeps a long list of senders out of the environment."
        ),
    )

    log_enabled: bool = Field(
        default=True,
        description=(
            "Keep the transparency log (docs/architecture.md, \"The transparency log\"): every stored record is "
            "appended to this writer's Merkle log before it is acknowledged, and checkpoints are signed with "
            "`log_key`. Off (false), or without `log_key`, records are stored unlogged (`ldv audit` reports them)."
        ),
    )
    log_key: SecretStr | None = Field(
        default=None,
        description=(
            "The log's Ed25519 signing key as `PRIVATE+KEY+<origin>+<key ID>+<base64>` (made by `ldv log-key`), or "
            "the path of a file holding it. Its name is the log's origin: each collector writing one store needs "
            "its own key and name. `ldv serve` on an embedded store makes one in its data directory when unset."
        ),
    )
    log_checkpoint_interval_ms: int = Field(
        default=250,
        ge=50,
        le=60_000,
        description="How often a checkpoint is signed while the log grows, in milliseconds.",
    )
    log_witnesses: list[WitnessSettings] = Field(
        default_factory=list,
        description=(
            "Witnesses asked to cosign every checkpoint, JSON: "
            '`[{"url": "https://witness.example/ap", "vkey": "witness.example/ap+1a2b3c4d+BA..."}]`.'
        ),
    )

    @field_validator("log_key")
    @classmethod
    def _check_log_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            try:
                load_signer(key.get_secret_value())
            except NoteError as exc:
                raise ValueError(f"log_key: {exc}") from None  # the message never quotes the key
        return key

    @model_validator(mode="after")
    def _check_senders(self) -> CollectorSettings:
        if self.senders_file is not None:
            self.senders = {**self.senders, **_senders_from_file(self.senders_file, set(self.senders))}
        tokens: dict[str, str] = {}
        certificates: dict[str, str] = {}
        for name, sender in self.senders.items():
            for seen, value, what in ((tokens, sender.token_sha256, "token"), (certificates, sender.certificate_name, "certificate name")):
                if value is None:
                    continue
                if value in seen:
                    # Name the senders, never the credential.
                    raise ValueError(f"senders {seen[value]!r} and {name!r} have the same {what}")
                seen[value] = name
        return self

    @field_validator("pseudonymisation_key")
    @classmethod
    def _check_default_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not key_is_long_enough(key.get_secret_value()):
            raise ValueError(f"a pseudonymisation key needs at least {MIN_KEY_BYTES} bytes")
        return key


def _senders_from_file(path: Path, taken: set[str]) -> dict[str, SenderSettings]:
    """The `[senders.<name>]` tables of a TOML file; ValueError naming the file and the problem, never a value."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read senders_file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"senders_file {path} is not valid TOML: {exc}") from None
    tables = document.get("senders", {})
    if not isinstance(tables, dict) or set(document) - {"senders"}:
        raise ValueError(f"senders_file {path} must hold only [senders.<name>] tables")
    senders: dict[str, SenderSettings] = {}
    for name, table in tables.items():
        if name in taken:
            raise ValueError(f"sender {name!r} is both in senders and in senders_file {path}")
        try:
            senders[name] = SenderSettings.model_validate(table)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'table'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"senders_file {path}, sender {name!r}: {problems}") from None
    return senders
