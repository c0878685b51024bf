"""`ldv serve` settings precedence, and the README documenting every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldv_collector.settings import CollectorSettings
from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings
from ldv_inzicht.settings import ApiSettings, AuthSettings, InzageSettings
from ldv_logboek.settings import SHARED_VARIABLES
from ldv_suite.settings import ServeSettings
from tests.conftest import REPO_ROOT


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ldv.toml"
    config.write_text('api_port = 9000\notlp_http_port = 9001\nhost = "0.0.0.0"\nretention_days = 30\nallow_plaintext = true\n')
    monkeypatch.setenv("LDV_SERVE_OTLP_HTTP_PORT", "9101")
    monkeypatch.setenv("LDV_SERVE_HOST", "127.0.0.2")
    settings = ServeSettings.load(config, host="127.0.0.3")
    assert settings.api_port == 9000  # file only
    assert settings.otlp_http_port == 9101  # environment over file
    assert settings.host == "127.0.0.3"  # flag over environment
    assert settings.retention_days == 30
    assert settings.dsn() == f"chdb://{Path('.ldv-data').resolve()}"


def test_plaintext_only_on_loopback_unless_allowed(tmp_path: Path) -> None:
    assert ServeSettings.load(None, host="127.0.0.1").tls is False
    assert ServeSettings.load(None, host="::1").host == "::1"
    with pytest.raises(ValueError, match="without TLS"):
        ServeSettings.load(None, host="0.0.0.0")
    assert ServeSettings.load(None, host="0.0.0.0", allow_plaintext=True).host == "0.0.0.0"
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("a certificate")  # the settings check that the files exist, not what they hold
    key.write_text("a key")
    assert ServeSettings.load(None, host="0.0.0.0", tls_cert_file=cert, tls_key_file=key).tls
    with pytest.raises(ValueError, match="come together"):
        ServeSettings.load(None, tls_cert_file=cert)


def test_store_dsn_replaces_embedded_store() -> None:
    dsn = "https://ldv:secret@ch.example:8443/ldv"
    assert ServeSettings.load(None, store_dsn=dsn).dsn() == dsn


def test_bad_values_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "ldv.toml"
    config.write_text("retention_days = 0\n")
    with pytest.raises(ValueError, match="retention_days"):
        ServeSettings.load(config)
    config.write_text('retention_by_organisation = { "gemeente-amsterdam" = 0 }\n')
    with pytest.raises(ValueError, match="retention_by_organisation"):
        ServeSettings.load(config)


@pytest.mark.parametrize(
    "settings_class",
    [ServeSettings, CollectorSettings, ApiSettings, AuthSettings, InzageSettings, ClickHouseHttpSettings],
)
def test_readme_documents_every_setting(settings_class: type) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    prefix = settings_class.model_config["env_prefix"]
    variables = [SHARED_VARIABLES.get(name, f"{prefix}{name.upper()}") for name in settings_class.model_fields]
    missing = [variable for variable in variables if f"| `{variable}` |" not in readme]
    assert not missing, f"README.md's configuration tables have no row for {missing}"


def test_a_shared_setting_has_one_row_and_no_component_variable() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for name, variable in SHARED_VARIABLES.items():
        assert readme.count(f"| `{variable}` |") == 1
        for settings_class in (CollectorSettings, ApiSettings):
            assert f"| `{settings_class.model_config['env_prefix']}{name.upper()}` |" not in readme
