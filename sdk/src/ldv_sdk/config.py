"""Configuration of the SDK: one `LdvConfig`, from code (`configure(...)`) or `LDV_*` variables.

Every option and its variable is listed in sdk/README.md. The SDK keeps its dependencies light,
so this is a plain dataclass with a small environment reader rather than pydantic-settings.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from ldv_logboek.validation import is_uri
from ldv_sdk.errors import ConfigurationError

FailurePolicy = Literal["open", "closed"]
SpoolFullPolicy = Literal["block", "fail"]

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
MIN_KEY_BYTES = 16
ENV_PREFIX = "LDV_"


@dataclass(frozen=True, slots=True)
class LdvConfig:
    """Everything the SDK needs to know about the service it runs in.

    Required: `organisation`, `service_name` and `pseudonym_key`. The rest has defaults.
    """

    organisation: str
    """The controller (verwerkingsverantwoordelijke); resource attribute `dpl.suite.organisation`."""
    service_name: str
    """Resource attribute `service.name`."""
    pseudonym_key: bytes = field(repr=False)
    """The organisation's HMAC key for data subject ids (at least 16 bytes). Never logged."""
    register_base_uri: str | None = None
    """Base URI of the register of processing activities; an activity given as a bare id
    (`"huurtoeslag"`) becomes `<register_base_uri>/huurtoeslag`."""
    application_uri: str | None = None
    """URI that identifies this application to the services it calls (sent in the `ldv`
    tracestate entry, recorded there as `dpl.core.foreign_operation.processor`).
    Default: `urn:ldv:application:<organisation>:<service_name>`."""
    endpoint: str = DEFAULT_ENDPOINT
    """OTLP/HTTP traces endpoint of the Logboek collector (`.../v1/traces`)."""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Extra HTTP headers for the collector. Never logged."""
    sender_token: str | None = field(default=None, repr=False)
    """This service's bearer token as a sender of the Logboek (the collector holds its SHA-256 in
    `LDV_COLLECTOR_SENDERS`, bound to `organisation`); sent as `Authorization: Bearer <token>`.
    Never logged."""
    allow_insecure: bool = False
    """Allow plain http:// to a collector that is not on the loopback address."""
    read_apis: Mapping[str, str] = field(default_factory=dict)
    """Read API per called party: URL prefix of the party's service -> URL of its LDV read API.
    A call through an instrumented HTTP client to a matching URL sets
    `dpl.read.externalReadAPI_id` on the calling action."""
    spool_path: Path = Path(".ldv/spool.sqlite3")
    """The durable local spool: a SQLite file (WAL) with the progress and the dead letters; the
    records themselves go to append-only segment files in the directory `<spool_path>.segments/`.
    One process per spool (lock file `<spool_path>.lock`)."""
    spool_max_records: int = 1_000_000
    """Bound of the spool; what happens when it is full is `spool_full_policy`."""
    spool_full_policy: SpoolFullPolicy = "block"
    """`block`: a processing waits until the sender has made room (the service slows down to the
    pace of the collector, nothing is lost); `fail`: raise `SpoolFull` in the processing."""
    spool_sync: Literal["normal", "full"] = "normal"
    """`normal` survives a crash of the process (the record is written to the segment file, in the
    page cache, before the processing returns); `full` also survives a power loss, at an fdatasync
    per record (and SQLite `synchronous=FULL` for the progress)."""
    failure_policy: FailurePolicy = "open"
    """`open`: logging never breaks the host code (problems become warnings, values are never
    logged); `closed`: a processing that cannot be logged durably raises `LoggingFailed`."""
    record_stacktrace: bool = False
    """Add `exception.stacktrace` to records of failed actions (off: stack traces may hold data)."""
    batch_size: int = 512
    """Records per OTLP request."""
    export_timeout: float = 10.0
    """Seconds for one OTLP request."""
    max_backoff: float = 30.0
    """Longest wait between retries, in seconds (a Retry-After from the collector may be longer,
    up to `max_retry_after`)."""
    max_retry_after: float = 300.0
    """Cap on a collector's Retry-After, in seconds."""
    start_sender: bool = True
    """Run the background sender. Off: records stay in the spool (for tests and tools)."""

    def __post_init__(self) -> None:
        if not self.organisation or not self.organisation.strip():
            raise ConfigurationError("organisation is required (LDV_ORGANISATION)")
        if not self.service_name or not self.service_name.strip():
            raise ConfigurationError("service_name is required (LDV_SERVICE_NAME or OTEL_SERVICE_NAME)")
        if len(self.pseudonym_key) < MIN_KEY_BYTES:
            raise ConfigurationError(
                f"pseudonym_key must be at least {MIN_KEY_BYTES} bytes (LDV_PSEUDONYM_KEY or LDV_PSEUDONYM_KEY_FILE)"
            )
        if self.register_base_uri is not None and not is_uri(self.register_base_uri):
            raise ConfigurationError("register_base_uri must be an absolute URI")
        if self.application_uri is not None and not is_uri(self.application_uri):
            raise ConfigurationError("application_uri must be an absolute URI")
        _check_endpoint(self.endpoint, self.allow_insecure)
        if self.sender_token is not None and (
            not self.sender_token.strip() or any(c in self.sender_token for c in "\r\n")
        ):
            raise ConfigurationError(
                "sender_token must be a non-empty token on one line (LDV_SENDER_TOKEN or LDV_SENDER_TOKEN_FILE)"
            )
        for prefix, api in self.read_apis.items():
            if not is_uri(api):
                raise ConfigurationError(f"read API for {prefix!r} must be an absolute URI")
        if self.spool_max_records < 1 or self.batch_size < 1:
            raise ConfigurationError("spool_max_records and batch_size must be at least 1")
        if self.spool_full_policy not in ("block", "fail"):
            raise ConfigurationError("spool_full_policy must be 'block' or 'fail'")
        if self.failure_policy not in ("open", "closed"):
            raise ConfigurationError("failure_policy must be 'open' or 'closed'")
        if self.spool_sync not in ("normal", "full"):
            raise ConfigurationError("spool_sync must be 'normal' or 'full'")

    @property
    def application(self) -> str:
        """`application_uri`, or the default derived from organisation and service name."""
        if self.application_uri:
            return self.application_uri
        return f"urn:ldv:application:{quote(self.organisation, safe='')}:{quote(self.service_name, safe='')}"

    @property
    def collector_headers(self) -> dict[str, str]:
        """The headers of every request to the collector: `headers`, plus the sender token if set."""
        out = dict(self.headers)
        if self.sender_token:
            out["Authorization"] = f"Bearer {self.sender_token.strip()}"
        return out

    @property
    def fail_closed(self) -> bool:
        return self.failure_policy == "closed"

    def with_changes(self, **changes: Any) -> LdvConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _check_endpoint(endpoint: str, allow_insecure: bool) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError("endpoint must be an http(s) URL such as https://logboek.example:4318/v1/traces")
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        # The standard asks for TLS to the Logboek; plain http is for a collector on this machine.
        raise ConfigurationError(
            "endpoint uses plain http to a host that is not loopback: use https, or set allow_insecure"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"{name} must be true or false")


def _parse_headers(text: str) -> dict[str, str]:
    """`key=value,key2=value2` as OTEL_EXPORTER_OTLP_HEADERS writes them (values may be %-encoded)."""
    from urllib.parse import unquote

    headers: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError("LDV_HEADERS must look like key=value,key2=value2")
        headers[key.strip()] = unquote(value.strip())
    return headers


def _parse_json_map(name: str, text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigurationError(f"{name} must be a JSON object of strings") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigurationError(f"{name} must be a JSON object of strings")
    return value


def _read_token(env: Mapping[str, str]) -> str | None:
    if path := env.get("LDV_SENDER_TOKEN_FILE"):
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read LDV_SENDER_TOKEN_FILE: {exc.strerror}") from None
    return env.get("LDV_SENDER_TOKEN") or None


def _read_key(env: Mapping[str, str]) -> bytes | None:
    if path := env.get("LDV_PSEUDONYM_KEY_FILE"):
        try:
            return Path(path).read_bytes().strip()
        except OSError as exc:
            raise ConfigurationError(f"cannot read LDV_PSEUDONYM_KEY_FILE: {exc.strerror}") from None
    if key := env.get("LDV_PSEUDONYM_KEY"):
        return key.encode()
    return None


_ENV_NAMES = {
    "organisation": "LDV_ORGANISATION",
    "register_base_uri": "LDV_REGISTER_BASE_URI",
    "application_uri": "LDV_APPLICATION_URI",
    "endpoint": "LDV_ENDPOINT",
    "headers": "LDV_HEADERS",
    "allow_insecure": "LDV_ALLOW_INSECURE",
    "read_apis": "LDV_READ_APIS",
    "spool_path": "LDV_SPOOL_PATH",
    "spool_max_records": "LDV_SPOOL_MAX_RECORDS",
    "spool_full_policy": "LDV_SPOOL_FULL_POLICY",
    "spool_sync": "LDV_SPOOL_SYNC",
    "failure_policy": "LDV_FAILURE_POLICY",
    "record_stacktrace": "LDV_RECORD_STACKTRACE",
    "batch_size": "LDV_BATCH_SIZE",
    "export_timeout": "LDV_EXPORT_TIMEOUT",
    "max_backoff": "LDV_MAX_BACKOFF",
    "max_retry_after": "LDV_MAX_RETRY_AFTER",
    "start_sender": "LDV_START_SENDER",
}


def settings_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The options set in `LDV_*` environment variables, parsed, as keyword arguments."""
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(LdvConfig)}
    for name, var in _ENV_NAMES.items():
        text = env.get(var)
        if text is None:
            continue
        kind = types[name]
        if name == "headers":
            out[name] = _parse_headers(text)
        elif name == "read_apis":
            out[name] = _parse_json_map(var, text)
        elif kind == "bool":
            out[name] = _parse_bool(var, text)
        elif kind == "int":
            try:
                out[name] = int(text)
            except ValueError:
                raise ConfigurationError(f"{var} must be a whole number") from None
        elif kind == "float":
            try:
                out[name] = float(text)
            except ValueError:
                raise ConfigurationError(f"{var} must be a number") from None
        elif kind == "Path":
            out[name] = Path(text)
        else:
            out[name] = text
    service = env.get("LDV_SERVICE_NAME") or env.get("OTEL_SERVICE_NAME")
    if service:
        out["service_name"] = service
    key = _read_key(env)
    if key is not None:
        out["pseudonym_key"] = key
    token = _read_token(env)
    if token is not None:
        out["sender_token"] = token
    return out


def build_config(env: Mapping[str, str] | None = None, **overrides: Any) -> LdvConfig:
    """Combine `LDV_*` variables with explicit arguments (arguments win) into an `LdvConfig`."""
    values = settings_from_env(env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    key = values.get("pseudonym_key")
    if isinstance(key, str):
        values["pseudonym_key"] = key.encode()
    if isinstance(values.get("spool_path"), str):
        values["spool_path"] = Path(values["spool_path"])
    missing = [n for n in ("organisation", "service_name", "pseudonym_key") if not values.get(n)]
    if missing:
        raise ConfigurationError(
            "missing required settings: " + ", ".join(missing) + " (see sdk/README.md, section Configuration)"
        )
    unknown = set(values) - {f.name for f in fields(LdvConfig)}
    if unknown:
        raise ConfigurationError("unknown settings: " + ", ".join(sorted(unknown)))
    return LdvConfig(**values)
