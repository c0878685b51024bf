"""`ldv serve` with unsafe or invalid token settings: one readable line and exit code 2, before
anything is opened; the explicit opt-out starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.inzicht_api.inzage_support import Signer, free_port, write_jwks


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDV_")}
    # A narrow terminal: the refusal must still be one line.
    return {**env, "COLUMNS": "60", **settings}


def _serve(data_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "ldv_suite.cli", "serve", "--data-dir", str(data_dir),
        "--api-port", str(free_port()), "--otlp-http-port", str(free_port()), "--otlp-grpc-port", "0",
    ]  # fmt: skip


def _refused(tmp_path: Path, **settings: str) -> str:
    data_dir = tmp_path / "data"
    env = _env(**settings)
    done = subprocess.run(_serve(data_dir), capture_output=True, text=True, timeout=60, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert not data_dir.exists(), "a refused start must not create or open the store"
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("invalid settings: ")
    return lines[0]


def test_a_key_without_an_issuer_is_refused_in_one_line(tmp_path: Path) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", Signer.generate("k"))
    line = _refused(tmp_path, LDV_AUTH_JWKS_FILE=str(jwks))
    assert "LDV_AUTH_ISSUER is not set" in line and "LDV_AUTH_ALLOW_ANY_ISSUER" in line


def test_a_key_without_an_own_audience_is_refused_in_one_line(tmp_path: Path) -> None:
    """Every Logboek needs its own audience: none, or the old shared default, does not start."""
    jwks = write_jwks(tmp_path / "jwks.json", Signer.generate("k"))
    line = _refused(tmp_path, LDV_AUTH_JWKS_FILE=str(jwks), LDV_AUTH_ISSUER="https://issuer.example")
    assert "LDV_AUTH_AUDIENCE is not set" in line
    line = _refused(
        tmp_path, LDV_AUTH_JWKS_FILE=str(jwks), LDV_AUTH_ISSUER="https://issuer.example", LDV_AUTH_AUDIENCE="ldv-inzicht"
    )
    assert "LDV_AUTH_AUDIENCE" in line and "shared" in line


def test_other_invalid_api_settings_name_their_variable(tmp_path: Path) -> None:
    assert "LDV_API_CURSOR_KEY" in _refused(tmp_path, LDV_API_CURSOR_KEY="short")
    assert "LDV_AUTH_ALGORITHMS" in _refused(tmp_path, LDV_AUTH_ALGORITHMS='["HS256"]')


def test_the_explicit_opt_out_starts(tmp_path: Path) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", Signer.generate("k"))
    env = _env(
        LDV_AUTH_JWKS_FILE=str(jwks), LDV_AUTH_ALLOW_ANY_ISSUER="true", LDV_AUTH_AUDIENCE="https://lezen.test.example/v1"
    )
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(_serve(tmp_path / "data"), stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        while "LDV suite ready" not in (tmp_path / "serve.log").read_text():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "ldv serve did not start"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
