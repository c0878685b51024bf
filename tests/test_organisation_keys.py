"""One `organisation_keys` for the collector and the Inzicht API: one variable, one rule, old names deprecated.

The collector pseudonymises with these keys and the API searches with them, so both must
read the same keys and refuse the same bad ones; a key never shows in an error.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ldv_collector import CollectorSettings
from ldv_inzicht import ApiSettings

KEYS = {"dienst-toeslagen": "toeslagen-key-0123456789", "uwv": "uwv-key-0123456789"}
COMPONENTS = [(CollectorSettings, "LDV_COLLECTOR_ORGANISATION_KEYS"), (ApiSettings, "LDV_API_ORGANISATION_KEYS")]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LDV_ORGANISATION_KEYS", "LDV_COLLECTOR_ORGANISATION_KEYS", "LDV_API_ORGANISATION_KEYS"):
        monkeypatch.delenv(name, raising=False)


def _keys(settings: CollectorSettings | ApiSettings) -> dict[str, str]:
    return {org: key.get_secret_value() for org, key in settings.organisation_keys.items()}


def test_one_variable_sets_the_keys_of_both_components(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", json.dumps(KEYS))
    assert _keys(CollectorSettings()) == _keys(ApiSettings()) == KEYS


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"uwv": "kort-geheim"}, "organisation 'uwv' needs at least 16 bytes"),
        ({"": "a-key-of-sixteen-bytes"}, "organisation code is empty"),
    ],
)
@pytest.mark.parametrize(("settings_class", "_old"), COMPONENTS)
def test_both_components_refuse_the_same_bad_keys_without_showing_them(
    settings_class: type, _old: str, keys: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match=message) as from_code:
        settings_class(organisation_keys=keys)
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", json.dumps(keys))
    with pytest.raises(ValidationError, match=message) as from_env:
        settings_class()
    for error in (from_code, from_env):
        assert all(key not in str(error.value) for key in keys.values())


@pytest.mark.parametrize(("settings_class", "old"), COMPONENTS)
def test_the_old_variable_still_works_with_a_warning(
    settings_class: type, old: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(old, json.dumps(KEYS))
    with caplog.at_level(logging.WARNING, logger="ldv.settings"):
        assert _keys(settings_class()) == KEYS
    assert f"{old} is deprecated: set LDV_ORGANISATION_KEYS" in caplog.text
    assert all(key not in caplog.text for key in KEYS.values())
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", json.dumps(KEYS))  # the same keys under both names: fine
    assert _keys(settings_class()) == KEYS


@pytest.mark.parametrize(("settings_class", "old"), COMPONENTS)
def test_different_keys_under_the_old_and_the_new_name_are_refused(
    settings_class: type, old: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", json.dumps(KEYS))
    monkeypatch.setenv(old, json.dumps({"uwv": "another-uwv-key-0123"}))
    with pytest.raises(ValidationError, match="hold different keys") as info:
        settings_class()
    assert "another-uwv-key" not in str(info.value) and "uwv-key-0123456789" not in str(info.value)


def test_a_variable_that_is_not_a_json_object_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", "uwv=geheim-0123456789")
    with pytest.raises(ValidationError, match="LDV_ORGANISATION_KEYS must be a JSON object") as info:
        ApiSettings()
    assert "geheim" not in str(info.value)


def test_ldv_serve_names_the_shared_variable_and_never_the_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("ORGANISATION_KEYS")}
    env["LDV_ORGANISATION_KEYS"] = json.dumps({"uwv": "kort-geheim"})
    result = subprocess.run(
        [sys.executable, "-m", "ldv_suite.cli", "serve", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "invalid settings: LDV_ORGANISATION_KEYS: the pseudonymisation key of organisation 'uwv'" in result.stderr
    assert "kort-geheim" not in result.stderr + result.stdout
