"""Reading register files (YAML or JSON) into a `Register`.

A register file holds a mapping with two optional lists:

    organisations:          [{id, name, readApiUrl, ...}, ...]
    processing_activities:  [{id, versions: [{version, valid_from, name, purpose, legal_basis, ...}]}]

YAML merge keys (`<<: *v1`) work, so a second version can repeat the first with one change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from ldv_logboek.errors import RegisterFileError
from ldv_logboek.register._models import Organisation, ProcessingActivity, Register, _Model

REGISTER_SUFFIXES = (".yaml", ".yml", ".json")


class RegisterFile(_Model):
    """The contents of one register file."""

    organisations: tuple[Organisation, ...] = ()
    processing_activities: tuple[ProcessingActivity, ...] = Field(default=())


def parse_register_text(text: str, source: str = "<text>") -> Register:
    """Parse one register document (YAML, which includes JSON) into a Register."""
    try:
        data = yaml.safe_load(text) if not source.endswith(".json") else json.loads(text)
    except yaml.YAMLError as exc:
        raise RegisterFileError(source, [_yaml_problem(exc)]) from None
    except json.JSONDecodeError as exc:
        raise RegisterFileError(source, [f"not valid JSON: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RegisterFileError(source, ["the top level must be a mapping with organisations and processing_activities"])
    try:
        parsed = RegisterFile.model_validate(data)
    except ValidationError as exc:
        raise RegisterFileError(source, [_describe(err) for err in exc.errors()]) from None
    problems: list[str] = []
    for kind, items in (("organisation", parsed.organisations), ("processing activity", parsed.processing_activities)):
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                problems.append(f"{kind} {item.id} appears twice")
            seen.add(item.id)
    if problems:
        raise RegisterFileError(source, problems)
    return Register(
        organisations={o.id: o for o in parsed.organisations},
        activities={a.id: a for a in parsed.processing_activities},
    )


def register_paths(paths: Iterable[Path | str]) -> list[Path]:
    """The register files named by `paths`: files as given, directories expanded (sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in REGISTER_SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise RegisterFileError(path, ["no such file or directory"])
    return found


def load_register_files(paths: Iterable[Path | str], *, check_references: bool = True) -> Register:
    """Read register files and directories into one Register.

    Raises RegisterFileError naming the file and every problem (bad field, duplicate id, an id
    defined differently in two files, a controller or recipient that is in none of the files).
    """
    register = Register()
    for path in register_paths(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RegisterFileError(path, [f"cannot be read: {reason}"]) from None
        part = parse_register_text(text, str(path))
        try:
            register = register.merged(part)
        except ValueError as exc:
            raise RegisterFileError(path, [str(exc)]) from None
    if check_references and (problems := register.problems()):
        raise RegisterFileError(", ".join(str(p) for p in paths), problems)
    return register


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error in one line: what, where, and in which construct (its own text has a snippet)."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return "not valid YAML: " + " ".join(str(exc).split())
    mark = exc.problem_mark
    text = f"not valid YAML: {exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
    if exc.context and exc.context_mark is not None:
        text += f" ({exc.context} at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    return text


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    return f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg", "invalid"))
