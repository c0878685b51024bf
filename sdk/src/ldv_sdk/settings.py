"""The SDK's settings as one declarative table: `LdvConfig`'s fields.

Each field is a row: its name (the keyword of `configure()`), its `LDV_*` variable(s), its type
(the annotation), its default and its doc, given once with `_setting(...)`. Everything else is
derived from that table, so nothing can drift apart:

- `configure(**settings)` / `LdvConfig(...)`: unknown names and values of the wrong type are a
  `ConfigurationError` naming the setting (never the value: some are secrets);
- `settings_from_env()`: reads each row's variables and parses them by the row's type;
- `markdown_table()`: the table in sdk/README.md (tests/sdk/test_settings_table.py checks that
  the README shows exactly this table).

The SDK keeps its dependencies light, so this is a frozen dataclass with a small reader rather
than pydantic-settings.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Union
from urllib.parse import quote, unquote, urlsplit

from ldv_logboek import MIN_KEY_BYTES, is_uri, key_is_long_enough
from ldv_sdk.errors import ConfigurationError

__all__ = ["LdvConfig", "Setting", "build_config", "markdown_table", "settings_from_env", "settings_table"]

FailurePolicy = Literal["open", "closed"]
SpoolFullPolicy = Literal["block", "fail"]
SpoolSync = Literal["normal", "full"]

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
REQUIRED: Any = MISSING


def _setting(
    default: Any = REQUIRED,
    *,
    env: str | tuple[str, ...],
    doc: str,
    file_env: str | None = None,
    secret: bool = False,
    parse: str | None = None,
    shown_default: str | None = None,
) -> Any:
    """One row of the table, as a dataclass field: the field's annotation is the row's type.

    `file_env` names a variable holding a file to read the value from (it wins over `env`);
    `parse` names a reader for a text form other than the type's own (`headers`, `json_map`);
    `shown_default` is the README's text for a default computed from other settings; a `secret`
    is left out of `LdvConfig`'s repr.
    """
    metadata = {
        "env": (env,) if isinstance(env, str) else env,
        "doc": doc,
        "file_env": file_env,
        "parse": parse,
        "shown_default": shown_default,
    }
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata, repr=not secret)
    return field(default=default, metadata=metadata, repr=not secret)


@dataclass(frozen=True, slots=True)
class LdvConfig:
    """Everything the SDK needs to know about the service it runs in; `configure()` builds one.

    Required: `organisation`, `service_name` and `pseudonym_key`. The rest has defaults.
    """

    organisation: str = _setting(
        env="LDV_ORGANISATION",
        doc="The controller (verwerkingsverantwoordelijke); resource attribute `dpl.suite.organisation`.",
    )
    service_name: str = _setting(
        env=("LDV_SERVICE_NAME", "OTEL_SERVICE_NAME"), doc="Resource attribute `service.name`."
    )
    pseudonym_key: bytes = _setting(
        env="LDV_PSEUDONYM_KEY",
        file_env="LDV_PSEUDONYM_KEY_FILE",
        secret=True,
        doc=f"The organisation's HMAC key for data subject ids, at least {MIN_KEY_BYTES} bytes (the same key as "
        "the Logboek's `LDV_ORGANISATION_KEYS` entry for this organisation). Never logged.",
    )
    register_base_uri: str | None = _setting(
        None,
        env="LDV_REGISTER_BASE_URI",
        doc="Base URI of the register of processing activities: an activity given as a bare id "
        '(`"huurtoeslag"`) becomes `<register_base_uri>/huurtoeslag`.',
    )
    application_uri: str | None = _setting(
        None,
        env="LDV_APPLICATION_URI",
        shown_default="`urn:ldv:application:<organisation>:<service_name>`",
        doc="URI that identifies this application to the services it calls (sent in the `ldv` tracestate "
        "entry, recorded there as `dpl.core.foreign_operation.processor`).",
    )
    endpoint: str = _setting(
        DEFAULT_ENDPOINT, env="LDV_ENDPOINT", doc="OTLP/HTTP traces endpoint of the Logboek's collector (`.../v1/traces`)."
    )
    headers: Mapping[str, str] = _setting(
        {},
        env="LDV_HEADERS",
        parse="headers",
        secret=True,
        doc="Extra HTTP headers for the collector; in the environment `key=value,key2=value2` (values %-encoded). "
        "Never logged.",
    )
    sender_token: str | None = _setting(
        None,
        env="LDV_SENDER_TOKEN",
        file_env="LDV_SENDER_TOKEN_FILE",
        secret=True,
        doc="This service's bearer token for a collector with senders (`ldv sender-token` makes one; the collector "
        "holds its SHA-256 in `LDV_COLLECTOR_SENDERS`, bound to `organisation`); sent as "
        "`Authorization: Bearer <token>`. Never logged.",
    )
    allow_insecure: bool = _setting(
        False, env="LDV_ALLOW_INSECURE", doc="Allow plain http:// to a collector that is not on the loopback address."
    )
    read_apis: Mapping[str, str] = _setting(
        {},
        env="LDV_READ_APIS",
        parse="json_map",
        doc="Read API per called party, as JSON: URL prefix of the party's service -> URL of its LDV read API. A "
        "call through an instrumented HTTP client to a matching URL sets `dpl.read.externalReadAPI_id`.",
    )
    spool_path: Path = _setting(
        Path(".ldv/spool.sqlite3"),
        env="LDV_SPOOL_PATH",
        doc="The durable local spool: a SQLite file with the progress and the dead letters; the records go to "
        "append-only segment files in `<spool_path>.segments/`. One process per spool (lock `<spool_path>.lock`).",
    )
    spool_max_records: int = _setting(
        1_000_000, env="LDV_SPOOL_MAX_RECORDS", doc="Bound of the spool; what happens when full is `spool_full_policy`."
    )
    spool_full_policy: SpoolFullPolicy = _setting(
        "block",
        env="LDV_SPOOL_FULL_POLICY",
        doc="`block`: a processing waits until the sender has made room (nothing is lost); `fail`: raise `SpoolFull`.",
    )
    spool_disk_full_policy: SpoolFullPolicy = _setting(
        "block",
        env="LDV_SPOOL_DISK_FULL_POLICY",
        doc="When the spool's disk is full (a record cannot be written): `block`: the processing waits for space, "
        "at most `spool_disk_full_wait` seconds, then raises `SpoolDiskFull`; `fail`: raise `SpoolDiskFull` at once. "
        "Raised under either failure policy: a record is never dropped behind the host code's back.",
    )
    spool_disk_full_wait: float = _setting(
        60.0,
        env="LDV_SPOOL_DISK_FULL_WAIT",
        doc="Longest wait of one processing for disk space under `spool_disk_full_policy=block`, in seconds.",
    )
    spool_sync: SpoolSync = _setting(
        "normal",
        env="LDV_SPOOL_SYNC",
        doc="`normal` survives a crash of the process (the record is in the page cache before the processing "
        "returns); `full` also a power loss, at an fdatasync per record.",
    )
    failure_policy: FailurePolicy = _setting(
        "open",
        env="LDV_FAILURE_POLICY",
        doc="`open`: logging never breaks the host code (problems become warnings); `closed`: a processing that "
        "cannot be logged durably raises `LoggingFailed`.",
    )
    record_stacktrace: bool = _setting(
        False,
        env="LDV_RECORD_STACKTRACE",
        doc="Add `exception.stacktrace` to records of failed actions (off: stack traces may hold data).",
    )
    batch_size: int = _setting(512, env="LDV_BATCH_SIZE", doc="Records per OTLP request.")
    export_timeout: float = _setting(10.0, env="LDV_EXPORT_TIMEOUT", doc="Seconds for one OTLP request.")
    max_backoff: float = _setting(
        30.0, env="LDV_MAX_BACKOFF", doc="Longest wait between retries, in seconds (a Retry-After may be longer)."
    )
    max_retry_after: float = _setting(
        300.0, env="LDV_MAX_RETRY_AFTER", doc="Cap on a collector's Retry-After, in seconds."
    )
    start_sender: bool = _setting(
        True, env="LDV_START_SENDER", doc="Run the background sender. Off: records stay in the spool (tests, tools)."
    )

    def __post_init__(self) -> None:
        for row in settings_table():
            value = getattr(self, row.name)
            if not _fits(row.type, value):
                # Name the setting and the type given, never the value: some settings are secrets.
                raise ConfigurationError(f"{row.name} must be {_type_text(row.type)}, got {type(value).__name__}")
        if not self.organisation.strip():
            raise ConfigurationError("organisation is required (LDV_ORGANISATION)")
        if not self.service_name.strip():
            raise ConfigurationError("service_name is required (LDV_SERVICE_NAME or OTEL_SERVICE_NAME)")
        if not key_is_long_enough(self.pseudonym_key):
            raise ConfigurationError(
                f"pseudonym_key must be at least {MIN_KEY_BYTES} bytes (LDV_PSEUDONYM_KEY or LDV_PSEUDONYM_KEY_FILE)"
            )
        if self.register_base_uri is not None and not is_uri(self.register_base_uri):
            raise ConfigurationError("register_base_uri must be an absolute URI")
        if self.application_uri is not None and not is_uri(self.application_uri):
            raise ConfigurationError("application_uri must be an absolute URI")
        endpoint = urlsplit(self.endpoint)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ConfigurationError("endpoint must be an http(s) URL such as https://logboek.example:4318/v1/traces")
        if endpoint.scheme == "http" and not self.allow_insecure and not _is_loopback(endpoint.hostname):
            # The standard asks for TLS to the Logboek; plain http is for a collector on this machine.
            raise ConfigurationError(
                "endpoint uses plain http to a host that is not loopback: use https, or set allow_insecure"
            )
        if self.sender_token is not None and (
            not self.sender_token.strip() or any(c in self.sender_token for c in "\r\n")
        ):
            raise ConfigurationError(
                "sender_token must be a non-empty token on one line (LDV_SENDER_TOKEN or LDV_SENDER_TOKEN_FILE)"
            )
        for prefix, api in self.read_apis.items():
            if not is_uri(api):
                raise ConfigurationError(f"read API for {prefix!r} must be an absolute URI")
        if self.spool_disk_full_wait < 0:
            raise ConfigurationError("spool_disk_full_wait must not be negative")
        if self.spool_max_records < 1 or self.batch_size < 1:
            raise ConfigurationError("spool_max_records and batch_size must be at least 1")

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
        """A copy with some settings changed (checked again, as `configure()` checks them)."""
        _check_names(changes)
        return replace(self, **changes)


# -- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the table: a setting of `LdvConfig`, where the environment sets it, its type and doc."""

    name: str
    env: tuple[str, ...]
    type: Any
    default: Any
    doc: str
    file_env: str | None = None
    parse: str | None = None
    shown_default: str | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@functools.cache
def settings_table() -> tuple[Setting, ...]:
    """The rows, in `LdvConfig`'s order: each field's name, annotation and default, and its `_setting` metadata."""
    hints = typing.get_type_hints(LdvConfig)
    return tuple(
        Setting(
            name=f.name,
            type=hints[f.name],
            default=f.default_factory() if f.default_factory is not MISSING else f.default,
            **f.metadata,
        )
        for f in fields(LdvConfig)
    )


# -- checking values given in code -------------------------------------------------------------------


def _check_names(given: Mapping[str, Any]) -> None:
    known = {row.name for row in settings_table()}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigurationError(
            "unknown settings: " + ", ".join(unknown) + " (the settings are listed in sdk/README.md, section Configuration)"
        )


def _type_text(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(kind))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_text(a) for a in typing.get_args(kind))
    if origin is not None and issubclass(origin, Mapping):
        return "a mapping of strings"
    if kind is type(None):
        return "None"
    return {str: "a string", bytes: "bytes", bool: "true or false", int: "a whole number", float: "a number",
            Path: "a path"}.get(kind, getattr(kind, "__name__", str(kind)))


def _fits(kind: Any, value: Any) -> bool:
    origin = typing.get_origin(kind)
    if origin is Literal:
        return value in typing.get_args(kind)
    if origin in (Union, types.UnionType):
        return any(_fits(a, value) for a in typing.get_args(kind))
    if origin is not None and issubclass(origin, Mapping):
        return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    if kind is type(None):
        return value is None
    if kind in (int, float) and isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- reading the environment ---------------------------------------------------------------------------


def _parse_headers(var: str, text: str) -> dict[str, str]:
    """`key=value,key2=value2` as OTEL_EXPORTER_OTLP_HEADERS writes them (values may be %-encoded)."""
    headers: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{var} must look like key=value,key2=value2")
        headers[key.strip()] = unquote(value.strip())
    return headers


def _parse_json_map(var: str, text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigurationError(f"{var} must be a JSON object of strings") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigurationError(f"{var} must be a JSON object of strings")
    return value


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
# The types whose text can be wrong: a ConfigurationError says which type the variable must have.
_READERS: dict[Any, Any] = {bool: lambda text: _BOOLEANS[text.strip().lower()], int: int, float: float}


def _parse(row: Setting, var: str, text: str) -> Any:
    """The value of `row` written as `text` in variable `var`, by the row's type."""
    if row.parse == "headers":
        return _parse_headers(var, text)
    if row.parse == "json_map":
        return _parse_json_map(var, text)
    kind = row.type
    if typing.get_origin(kind) in (Union, types.UnionType):  # `X | None`: a set variable is an X
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is Literal:
        if text not in typing.get_args(kind):
            raise ConfigurationError(f"{var} ({row.name}) must be {_type_text(kind)}")
        return text
    if kind in _READERS:
        try:
            return _READERS[kind](text)
        except (KeyError, ValueError):
            raise ConfigurationError(f"{var} must be {_type_text(kind)}") from None
    if kind is Path:
        return Path(text)
    if kind is bytes:
        return text.encode()
    return text


def settings_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings given in `LDV_*` (and `OTEL_SERVICE_NAME`) variables, parsed, as keyword arguments.

    Per setting the first variable that is set and not empty counts, a `*_FILE` variable first
    (its file's content, stripped).
    """
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    for row in settings_table():
        if row.file_env and (path := env.get(row.file_env)):
            try:
                content = Path(path).read_bytes().strip()
            except OSError as exc:
                raise ConfigurationError(f"cannot read {row.file_env}: {exc.strerror}") from None
            out[row.name] = content if row.type is bytes else content.decode()
            continue
        for var in row.env:
            text = env.get(var)
            if text:
                out[row.name] = _parse(row, var, text)
                break
    return out


def build_config(env: Mapping[str, str] | None = None, **overrides: Any) -> LdvConfig:
    """Combine `LDV_*` variables with explicit arguments (arguments win) into an `LdvConfig`."""
    _check_names(overrides)
    values = settings_from_env(env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    # Conveniences for code: a key may be given as text, a path as a string.
    if isinstance(values.get("pseudonym_key"), str):
        values["pseudonym_key"] = values["pseudonym_key"].encode()
    if isinstance(values.get("spool_path"), str):
        values["spool_path"] = Path(values["spool_path"])
    missing = [row.name for row in settings_table() if row.required and not values.get(row.name)]
    if missing:
        raise ConfigurationError(
            "missing required settings: " + ", ".join(missing) + " (see sdk/README.md, section Configuration)"
        )
    return LdvConfig(**values)


# -- the README table ---------------------------------------------------------------------------------


def _shown_default(row: Setting) -> str:
    if row.shown_default:
        return row.shown_default
    if row.required:
        return "required"
    value = row.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value) if isinstance(value, int) else f"{value:g}"
    if isinstance(value, Mapping):
        return "`{}`" if not value else f"`{json.dumps(dict(value))}`"
    return f"`{value}`"


def _shown_type(row: Setting) -> str:
    if row.parse == "headers":
        return "`key=value,…`"
    if row.parse == "json_map":
        return "JSON object"
    kind = row.type
    if typing.get_origin(kind) in (Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is Literal:
        return " / ".join(f"`{a}`" for a in typing.get_args(kind))
    return {str: "text", bytes: "text", bool: "boolean", int: "integer", float: "number", Path: "path"}[kind]


def markdown_table() -> str:
    """The settings table of sdk/README.md, generated from `LdvConfig`."""
    lines = ["| setting | variable | type | default | meaning |", "|---|---|---|---|---|"]
    for row in settings_table():
        variables = " or ".join(f"`{v}`" for v in row.env)
        if row.file_env:
            variables += f" (or a file: `{row.file_env}`)"
        lines.append(f"| `{row.name}` | {variables} | {_shown_type(row)} | {_shown_default(row)} | {row.doc} |")
    return "\n".join(lines) + "\n"

