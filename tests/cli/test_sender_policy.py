"""`ldv serve` and senders: open on loopback with a warning, refused elsewhere; `ldv sender-token`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ldv_collector import CollectorSettings
from ldv_collector._senders import SenderDirectory, token_sha256
from ldv_suite.cli import app
from ldv_suite.server import OpenCollectorRefused, check_senders
from ldv_suite.settings import ServeSettings

SENDERS = {"toeslagen-api": {"organisation": "dienst-toeslagen", "token_sha256": token_sha256("t" * 43)}}


def test_open_collector_is_allowed_on_loopback_with_a_warning() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        warning = check_senders(ServeSettings.load(None, host=host), CollectorSettings())
        assert warning is not None and f"on {host} can write records in any organisation's name" in warning


def test_open_collector_elsewhere_is_refused_unless_explicitly_allowed() -> None:
    public = ServeSettings.load(None, host="0.0.0.0", allow_plaintext=True)
    with pytest.raises(OpenCollectorRefused, match="LDV_SERVE_ALLOW_ANONYMOUS_SENDERS=true"):
        check_senders(public, CollectorSettings())
    allowed = ServeSettings.load(None, host="0.0.0.0", allow_plaintext=True, allow_anonymous_senders=True)
    assert check_senders(allowed, CollectorSettings()) is not None  # still warned
    assert check_senders(public, CollectorSettings(senders=SENDERS)) is None


def test_client_ca_needs_tls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tls_client_ca_file needs tls_cert_file"):
        (tmp_path / "ca.pem").write_text("a CA certificate")
        ServeSettings.load(None, tls_client_ca_file=tmp_path / "ca.pem")


def test_sender_token_prints_a_token_and_only_its_hash_for_the_collector() -> None:
    result = CliRunner().invoke(app, ["sender-token", "gemeente-amsterdam", "--name", "bijstand-api"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    token, entry = lines[1], json.loads(lines[3])
    assert len(token) >= 40
    settings = CollectorSettings(senders=entry)
    assert token not in lines[3]
    sender = SenderDirectory(settings.senders).authenticate(f"Bearer {token}")
    assert (sender.name, sender.organisation) == ("bijstand-api", "gemeente-amsterdam")


def test_invalid_senders_setting_is_one_readable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_COLLECTOR_SENDERS", '{"x": {"organisation": "o", "token_sha256": "my-secret-token"}}')
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert 'invalid settings: LDV_COLLECTOR_SENDERS["x"]["token_sha256"]: ' in result.output
    assert "64 hex digits" in result.output
    assert "my-secret-token" not in result.output
