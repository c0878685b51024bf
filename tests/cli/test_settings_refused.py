"""Issue #19 item 6: every invalid setting of every settings class stops `ldv serve` with one
line per problem naming the variable, exit code 2, and no traceback.

Each case runs the real `ldv` command in a subprocess with a clean environment. The malformed
values are derived from each field's type, so a field added later is covered too:

- every field whose type can be wrong gets a wrong value at once (a word for a number or a
  boolean, a non-URL for a URL, JSON of the wrong kind for a list or an object, a value outside
  a field's bounds in a second run): one line per variable;
- every list or object field gets text that is not JSON, on its own (pydantic-settings stops at
  the first such variable, before validation);
- every rule across fields (a model validator) is broken once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
import pytest
from pydantic import BaseModel, HttpUrl
from pydantic.fields import FieldInfo
from pydantic.types import PathType
from pydantic_settings import BaseSettings

from ldv_collector import CollectorSettings
from ldv_inzicht import ApiSettings, AuthSettings, InzageSettings
from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings
from ldv_logboek.settings import SHARED_VARIABLES
from ldv_suite.settings import ServeSettings
from tests.test_settings_modules import _classes

pytestmark = pytest.mark.timeout(600)

CLASSES: list[type[BaseSettings]] = [
    ServeSettings, CollectorSettings, ApiSettings, AuthSettings, InzageSettings, ClickHouseHttpSettings,
]  # fmt: skip
# Plain text fields have no wrong type; these have a rule of their own.
TEXT_RULES = {"log_level": "loud", "cursor_key": "too-short"}

# One broken rule across fields per class: (environment, the variables the line must name).
RULES: dict[type[BaseSettings], tuple[dict[str, str], list[str]]] = {
    ServeSettings: ({"LDV_SERVE_TLS_CERT_FILE": "/etc/hostname"}, ["LDV_SERVE_TLS_CERT_FILE", "LDV_SERVE_TLS_KEY_FILE"]),
    CollectorSettings: (
        {"LDV_COLLECTOR_SENDERS": '{"a": {"organisation": "uwv", "token_sha256": "%s"},'
                                  ' "b": {"organisation": "uwv", "token_sha256": "%s"}}' % ("ab" * 32, "ab" * 32)},
        ["LDV_COLLECTOR_"],
    ),  # fmt: skip
    ApiSettings: (
        {"LDV_API_DEFAULT_PAGE_SIZE": "500", "LDV_API_MAX_PAGE_SIZE": "100"},
        ["LDV_API_DEFAULT_PAGE_SIZE", "LDV_API_MAX_PAGE_SIZE"],
    ),
    AuthSettings: ({"LDV_AUTH_DEMO_LOGIN": "true"}, ["LDV_AUTH_DEMO_LOGIN", "LDV_AUTH_DEMO_PRIVATE_KEY_FILE"]),
    InzageSettings: (
        {"LDV_INZAGE_TOKEN_ENDPOINT": "https://issuer.example/token"},
        ["LDV_INZAGE_TOKEN_ENDPOINT", "LDV_INZAGE_CLIENT_ID", "LDV_INZAGE_CLIENT_SECRET"],
    ),
    ClickHouseHttpSettings: (
        # A user who may write, scoped to one organisation: refused at start.
        {"LDV_CLICKHOUSE_USERS": '{"w": {"password": "geheim-wachtwoord", "scope": "uwv", "raw_rows": true, "write": true}}'},
        ['LDV_CLICKHOUSE_USERS["w"]'],
    ),
}


def variable(settings_cls: type[BaseSettings], field: str) -> str:
    return SHARED_VARIABLES.get(field) or f"{settings_cls.model_config['env_prefix']}{field.upper()}"


def _bare(annotation: Any) -> Any:
    """`annotation` without `| None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return inner[0] if len(inner) == 1 else annotation
    return annotation


def is_json(info: FieldInfo) -> str | None:
    """'list' or 'object' for a field given as JSON, else None."""
    bare = _bare(info.annotation)
    origin = get_origin(bare)
    if origin in (list, tuple, set, frozenset):
        return "list"
    if origin in (dict, Mapping) or (isinstance(bare, type) and issubclass(bare, BaseModel)):
        return "object"
    return None


def wrong_type(field: str, info: FieldInfo) -> str | None:
    """A value of the wrong type for the field, or None when any text is a value of it."""
    bare = _bare(info.annotation)
    kind = is_json(info)
    if kind == "list":
        return '{"not": "a list"}'
    if kind == "object":
        return '["not", "an", "object"]'
    if bare is bool:
        return "maybe"
    if bare in (int, float):
        return "many"
    if bare is HttpUrl:
        return "not a url"
    metadata = [*info.metadata, *(get_args(bare)[1:] if get_origin(bare) is Annotated else ())]
    if any(isinstance(m, PathType) and m.path_type == "file" for m in metadata):
        return "/nergens/bestand.pem"  # a file that is not there
    return TEXT_RULES.get(field)


def out_of_bounds(info: FieldInfo) -> str | None:
    """A number just outside the field's lower bound, or None when it has none."""
    if _bare(info.annotation) not in (int, float):
        return None
    for bound in info.metadata:
        if isinstance(bound, annotated_types.Ge):
            return str(bound.ge - 1)
        if isinstance(bound, annotated_types.Gt):
            return str(bound.gt)
    return None


def ldv_serve(tmp_path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ldv serve` on free-standing settings (no LDV_* of this process), stopped if it ever starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDV_")}
    env.update(environment)
    ldv = Path(sys.executable).with_name("ldv")
    command = [str(ldv)] if ldv.exists() else [sys.executable, "-m", "ldv_suite.cli"]
    return subprocess.run(
        [*command, "serve", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess[str], variables: list[str]) -> list[str]:
    """Exit 2, no traceback, one `invalid settings:` line per variable (each naming it once)."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and "╭" not in output, output
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("invalid settings: ") for line in lines), result.stderr
    for name in variables:
        naming = [line for line in lines if name in line]
        assert len(naming) == 1, f"{name} is named in {len(naming)} lines:\n{result.stderr}"
    assert len(lines) == len({line for name in variables for line in lines if name in line}), result.stderr
    return lines


def test_every_settings_class_is_covered() -> None:
    """A new settings class needs its cases here (the list of test_settings_modules)."""
    classes = _classes()
    names = {"BaseSettings"}
    while more := {name for name, bases, _ in classes if names & set(bases)} - names:
        names |= more
    assert names - {"BaseSettings", "SettingsWithOrganisationKeys", "_FromFile"} == {c.__name__ for c in CLASSES}


@pytest.mark.parametrize("settings_cls", CLASSES, ids=lambda c: c.__name__)
def test_malformed_values_of_every_field_type_are_one_line_each(settings_cls: type[BaseSettings], tmp_path: Path) -> None:
    # The shared variable (LDV_ORGANISATION_KEYS) is read by a source of its own, before the
    # other fields: it gets runs of its own.
    fields = {f: i for f, i in settings_cls.model_fields.items() if f not in SHARED_VARIABLES}
    shared = {f: i for f, i in settings_cls.model_fields.items() if f in SHARED_VARIABLES}
    wrong = {variable(settings_cls, f): v for f, i in fields.items() if (v := wrong_type(f, i)) is not None}
    bounds = {variable(settings_cls, f): v for f, i in fields.items() if (v := out_of_bounds(i)) is not None}
    json_fields = {**fields, **shared}
    not_json = {variable(settings_cls, f): "one,two" for f, i in json_fields.items() if is_json(i)}
    rule_env, rule_names = RULES[settings_cls]
    runs: list[tuple[dict[str, str], list[str]]] = [(wrong, list(wrong)), (rule_env, rule_names)]
    if bounds:
        runs.append((bounds, list(bounds)))
    runs += [({variable(settings_cls, f): v}, [variable(settings_cls, f)]) for f, i in shared.items() if (v := wrong_type(f, i))]
    runs += [({name: value}, [name]) for name, value in not_json.items()]
    assert len(wrong) >= 3 and not_json, "a settings class without cases"
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda i: ldv_serve(tmp_path / f"run-{i}", runs[i][0]), range(len(runs))))
    for (environment, names), result in zip(runs, results):
        lines = assert_refused(result, names)
        for value in environment.values():  # never a value: settings hold secrets
            if len(value) > 8:
                assert all(value not in line for line in lines), lines
    for name in not_json:  # what the variable needs, said in its line
        [result] = [r for (env, _), r in zip(runs, results) if env == {name: "one,two"}]
        assert "a JSON list" in result.stderr or "a JSON object" in result.stderr, result.stderr


def test_the_issue_s_examples(tmp_path: Path) -> None:
    """The values issue #19 tripped over, with the exact lines a user sees."""
    result = ldv_serve(tmp_path / "a", {"LDV_INZAGE_LOGBOEKEN": "https://a.example/lezenapi/v1,https://b.example/lezenapi/v1"})
    [line] = assert_refused(result, ["LDV_INZAGE_LOGBOEKEN"])
    assert line.startswith("invalid settings: LDV_INZAGE_LOGBOEKEN: not valid JSON (Expecting value at line 1 column 1); "
                           'give a JSON list, e.g. ["https://')  # fmt: skip
    result = ldv_serve(tmp_path / "b", {"LDV_INZAGE_READ_API_ADDRESSES": "a=b"})
    [line] = assert_refused(result, ["LDV_INZAGE_READ_API_ADDRESSES"])
    assert "give a JSON object, e.g. {" in line
    result = ldv_serve(tmp_path / "c", {"LDV_INZAGE_READ_API_ADDRESSES": '{"https://lezen.uwv.example/lezenapi/v1": "lezen.uwv"}'})
    [line] = assert_refused(result, ["LDV_INZAGE_READ_API_ADDRESSES"])
    assert "not an http(s) URL of a read API" in line and "lezen.uwv\"" not in line
    result = ldv_serve(tmp_path / "d", RULES[ClickHouseHttpSettings][0])
    [line] = assert_refused(result, ['LDV_CLICKHOUSE_USERS["w"]'])
    assert "write needs scope supervisor and raw_rows" in line and "geheim" not in line
    assert not (tmp_path / "d" / "data").exists(), "refused before the store was opened"


def test_serve_s_own_settings_are_named_where_they_were_given(tmp_path: Path) -> None:
    """A flag by its flag, a config file's key by the file, a variable by its name; bad TOML by the file."""
    config = tmp_path / "ldv.toml"
    config.write_text('api_port = "achtduizend"\nretention_days = 0\n')
    env = {"LDV_SERVE_STORE_READERS": "-1"}
    ldv = Path(sys.executable).with_name("ldv")
    command = [str(ldv)] if ldv.exists() else [sys.executable, "-m", "ldv_suite.cli"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LDV_")}
    done = subprocess.run(
        [*command, "serve", "--config", str(config), "--otlp-http-port", "-5", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, env={**clean, **env},
    )  # fmt: skip
    lines = assert_refused(done, ["--otlp-http-port", f"api_port in {config}", f"retention_days in {config}", "LDV_SERVE_STORE_READERS"])
    assert len(lines) == 4
    config.write_text("api_port = \n")
    done = subprocess.run(
        [*command, "serve", "--config", str(config), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, env=clean,
    )  # fmt: skip
    [line] = assert_refused(done, [f"{config}: not valid TOML"])
    missing = tmp_path / "nergens.toml"
    done = subprocess.run(
        [*command, "serve", "--config", str(missing), "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, env=clean,
    )  # fmt: skip
    [line] = assert_refused(done, [f"{missing}: no such file"])
    assert not (tmp_path / "data").exists()
