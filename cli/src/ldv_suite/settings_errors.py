"""Invalid settings as one line each, naming where the setting was given: the `ldv` command's promise.

Settings fail in two ways, and both become the same kind of line, never a traceback:

- pydantic's `ValidationError`: a value of the wrong type or out of range, or a rule across
  fields (a model validator; its error has no location, so the field names its message
  mentions are replaced by their variables);
- pydantic-settings' `SettingsError`, raised before validation when a variable of a complex
  field (a list or a dict) is not JSON. It names the field only in its message.

A line names the environment variable (`LDV_INZAGE_LOGBOEKEN`), or for `ldv serve`'s own
settings the flag or the configuration file where the value came from. It never shows a
value: settings hold secrets.
"""

from __future__ import annotations

import json
import os
import re
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings
from pydantic_settings.exceptions import SettingsError

from ldv_logboek.settings import SHARED_VARIABLES
from ldv_suite.errors import SuiteError

__all__ = ["FieldNamer", "SettingsRefused", "config_namer", "environment_namer", "load_settings", "problems"]

FieldNamer = Callable[[str], str]
"""Field name -> how a user names that setting (its variable, flag or config key)."""

# pydantic-settings' message: `error parsing value for field "<name>" from source "<source>"`.
_SETTINGS_ERROR = re.compile(r'field "(?P<field>[^"]+)" from source')

# Errors of a JSON value of the wrong kind, said in the terms of the variable (JSON), not Python's.
_JSON_KINDS = {
    **dict.fromkeys(("tuple_type", "list_type", "set_type", "frozen_set_type"), "must be a JSON list"),
    **dict.fromkeys(("dict_type", "model_type", "model_attributes_type"), "must be a JSON object"),
}


class SettingsRefused(SuiteError):
    """Settings that cannot be used: `lines` says why, one line per problem, no values."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = lines


def environment_namer(settings_cls: type[BaseSettings]) -> FieldNamer:
    """Field name -> its environment variable (`<prefix><NAME>`, or the one shared variable)."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return lambda field: SHARED_VARIABLES.get(field) or f"{prefix}{field.upper()}"


def load_settings(
    settings_cls: type[BaseSettings], build: Callable[[], Any] | None = None, namer: FieldNamer | None = None
) -> Any:
    """`build()` (default: `settings_cls()` from the environment), or SettingsRefused with a line per problem."""
    name = namer or environment_namer(settings_cls)
    try:
        return build() if build is not None else settings_cls()
    except ValidationError as exc:
        raise SettingsRefused(problems(settings_cls, exc, name)) from None
    except SettingsError as exc:
        raise SettingsRefused([_unparsed(settings_cls, exc, name)]) from None


def problems(settings_cls: type[BaseSettings], exc: ValidationError, name: FieldNamer) -> list[str]:
    """One line per error of `exc`: `<variable>: <problem>`, or the problem with its fields named."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        reason = _JSON_KINDS.get(error["type"]) or " ".join(error["msg"].removeprefix("Value error, ").split())
        if loc and loc[0] in settings_cls.model_fields:
            # Inside a JSON value: its path, e.g. LDV_CLICKHOUSE_USERS["grafana"]["scope"].
            inner = "".join(f"[{part}]" if isinstance(part, int) else f"[{json.dumps(part)}]" for part in error["loc"][1:])
            named = name(loc[0])
            lines.append(f"{named}{inner}: {reason.removeprefix(named + ' ')}")
        else:  # a rule across fields: name the fields it mentions
            lines.append(_name_fields(settings_cls, reason, name))
    return lines


def _name_fields(settings_cls: type[BaseSettings], text: str, name: FieldNamer) -> str:
    """`text` with each field name it mentions (a word with an underscore: prose has none) named as set."""
    fields = sorted((f for f in settings_cls.model_fields if "_" in f), key=len, reverse=True)
    if not fields:
        return text
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, fields)) + r")(?![\w-])")
    named = pattern.sub(lambda m: name(m.group(1)), text)
    if named == text and not re.search(r"\bLDV_[A-Z_]+", text):
        prefix = str(settings_cls.model_config.get("env_prefix", ""))
        return f"{prefix}*: {text}" if prefix else text
    return named


def _unparsed(settings_cls: type[BaseSettings], exc: SettingsError, name: FieldNamer) -> str:
    """The line for a variable pydantic-settings could not parse (not JSON) before validation."""
    match = _SETTINGS_ERROR.search(str(exc))
    field = match.group("field") if match else None
    if field is None or field not in settings_cls.model_fields:
        return " ".join(str(exc).split())
    cause = exc.__cause__
    # json's message says where it stopped (line, column), never the text: safe for secrets.
    detail = f" ({cause.msg} at line {cause.lineno} column {cause.colno})" if isinstance(cause, json.JSONDecodeError) else ""
    info = settings_cls.model_fields[field]
    shape = _json_shape(info.annotation)
    example = f", e.g. {json.dumps(info.examples[0])}" if info.examples else ""
    return f"{name(field)}: not valid JSON{detail}; give {shape}{example}"


def _json_shape(annotation: Any) -> str:
    """What JSON a field of `annotation` takes: a list, an object, or JSON."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _json_shape(inner[0]) if len(inner) == 1 else "JSON"
    if origin is Annotated:
        return _json_shape(get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset):
        return "a JSON list"
    if origin in (dict, Mapping) or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "a JSON object"
    return "JSON"


def config_namer(settings_cls: type[BaseSettings], flags: Mapping[str, object], config_file: Path | None) -> FieldNamer:
    """How `ldv serve`'s own settings are named: the flag given, else the variable set, else the
    config file's key, else the variable (where the user would set it)."""
    by_environment = environment_namer(settings_cls)
    in_file: set[str] = set()
    if config_file is not None:
        import tomllib

        try:
            in_file = set(tomllib.loads(config_file.read_text()))
        except (OSError, tomllib.TOMLDecodeError):
            in_file = set()

    def name(field: str) -> str:
        variable = by_environment(field)
        if flags.get(field) is not None:
            return "--" + field.replace("_", "-")
        if any(key.upper() == variable for key in os.environ):
            return variable
        if field in in_file:
            return f"{field} in {config_file}"
        return variable

    return name
