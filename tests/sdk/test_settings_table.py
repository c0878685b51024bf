"""The SDK's settings come from one table (`LdvConfig`'s fields): configure(), the environment and the README agree.

Every row is exercised through the environment with a value of its own type, so a row that
the reader would skip or misparse fails here; the README's table must be the generated one.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

import ldv_sdk
from ldv_sdk.errors import ConfigurationError
from ldv_sdk.settings import LdvConfig, build_config, markdown_table, settings_from_env, settings_table
from tests.conftest import REPO_ROOT

REQUIRED_ENV = {
    "LDV_ORGANISATION": "dienst-toeslagen",
    "LDV_SERVICE_NAME": "huurtoeslag",
    "LDV_PSEUDONYM_KEY": "toeslagen-key-0123456789",
}
# One value per setting other than the defaults, as text for its variable and as the parsed value.
SAMPLES: dict[str, tuple[str, Any]] = {
    "organisation": ("uwv", "uwv"),
    "service_name": ("ww-api", "ww-api"),
    "pseudonym_key": ("another-key-0123456789", b"another-key-0123456789"),
    "register_base_uri": ("https://register.example/pa", "https://register.example/pa"),
    "application_uri": ("urn:app:x", "urn:app:x"),
    "endpoint": ("https://logboek.example/v1/traces", "https://logboek.example/v1/traces"),
    "headers": ("X-A=1,X-B=tw%20ee", {"X-A": "1", "X-B": "tw ee"}),
    "sender_token": ("a-sender-token", "a-sender-token"),
    "allow_insecure": ("true", True),
    "read_apis": ('{"https://a.example/": "https://a.example/lezen"}', {"https://a.example/": "https://a.example/lezen"}),
    "spool_path": ("/tmp/ldv-test/spool.sqlite3", Path("/tmp/ldv-test/spool.sqlite3")),
    "spool_max_records": ("77", 77),
    "spool_full_policy": ("fail", "fail"),
    "spool_disk_full_policy": ("fail", "fail"),
    "spool_disk_full_wait": ("2.5", 2.5),
    "spool_sync": ("full", "full"),
    "failure_policy": ("closed", "closed"),
    "record_stacktrace": ("yes", True),
    "batch_size": ("9", 9),
    "export_timeout": ("2.5", 2.5),
    "max_backoff": ("4", 4.0),
    "max_retry_after": ("60", 60.0),
    "start_sender": ("off", False),
}


def test_the_table_is_the_config_and_every_row_has_a_sample() -> None:
    assert [row.name for row in settings_table()] == [f.name for f in fields(LdvConfig)]
    assert set(SAMPLES) == {row.name for row in settings_table()}
    for row in settings_table():
        assert row.env and all(v.endswith(v.upper()) for v in row.env) and row.doc.endswith(".")


@pytest.mark.parametrize("row", settings_table(), ids=lambda row: row.name)
def test_every_variable_of_every_row_is_read_by_its_type(row: Any) -> None:
    text, value = SAMPLES[row.name]
    for var in row.env:
        env = {**REQUIRED_ENV, var: text}
        if var == "OTEL_SERVICE_NAME":
            env.pop("LDV_SERVICE_NAME")
        assert settings_from_env(env)[row.name] == value
        assert getattr(build_config(env), row.name) == value


def test_a_file_variable_wins_and_an_empty_variable_is_unset(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("key-from-a-file-0123456789\n")
    env = {**REQUIRED_ENV, "LDV_PSEUDONYM_KEY_FILE": str(key_file), "LDV_BATCH_SIZE": "", "LDV_SERVICE_NAME": ""}
    env["OTEL_SERVICE_NAME"] = "from-otel"
    config = build_config(env)
    assert config.pseudonym_key == b"key-from-a-file-0123456789"
    assert config.batch_size == 512 and config.service_name == "from-otel"


def test_configure_refuses_unknown_names_and_wrong_types_naming_the_setting_not_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown settings: spool_pad"):
        ldv_sdk.configure(organisation="o", service_name="s", pseudonym_key=b"k" * 16, spool_pad=tmp_path)
    base = build_config(REQUIRED_ENV, spool_path=tmp_path / "spool", start_sender=False)
    with pytest.raises(ConfigurationError, match="unknown settings: batchsize"):
        base.with_changes(batchsize=5)
    with pytest.raises(ConfigurationError, match="batch_size must be a whole number, got str"):
        build_config(REQUIRED_ENV, batch_size="5")
    with pytest.raises(ConfigurationError, match="allow_insecure must be true or false, got int"):
        base.with_changes(allow_insecure=1)
    with pytest.raises(ConfigurationError, match="failure_policy must be 'open' or 'closed'") as info:
        base.with_changes(failure_policy="half-open")
    assert "half-open" not in str(info.value)
    with pytest.raises(ConfigurationError, match="headers must be a mapping of strings, got dict") as secret:
        base.with_changes(headers={"Authorization": 12345})
    assert "12345" not in str(secret.value)
    assert base.with_changes(export_timeout=3).export_timeout == 3  # a whole number is a number


def test_the_readme_shows_the_generated_table() -> None:
    readme = (REPO_ROOT / "sdk" / "README.md").read_text()
    assert markdown_table() in readme, (
        "sdk/README.md's settings table is not the one LdvConfig declares; regenerate it with\n"
        "  .venv/bin/python -c 'from ldv_sdk.settings import markdown_table; print(markdown_table(), end=\"\")'"
    )
