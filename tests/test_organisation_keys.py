"""One `organisation_keys` for the collector and the Inzicht API: one variable, one rule.

The collector pseudonymises with these keys and the API searches with them, so both must
read the same keys and refuse the same bad ones; a key never shows in an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ldv_collector import CollectorSettings
from ldv_inzicht import ApiSettings

KEYS = {"dienst-toeslagen": "toeslagen-key-0123456789", "uwv": "uwv-key-0123456789"}
COMPONENTS = [CollectorSettings, ApiSettings]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LDV_ORGANISATION_KEYS", raising=False)


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
@pytest.mark.parametrize("settings_class", COMPONENTS)
def test_both_components_refuse_the_same_bad_keys_without_showing_them(
    settings_class: type, keys: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match=message) as from_code:
        settings_class(organisation_keys=keys)
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", json.dumps(keys))
    with pytest.raises(ValidationError, match=message) as from_env:
        settings_class()
    for error in (from_code, from_env):
        assert all(key not in str(error.value) for key in keys.values())


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
