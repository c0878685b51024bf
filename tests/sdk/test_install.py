"""The SDK installs alone: a fresh venv gets ldv-logboek and ldv-sdk, and none of the server side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_SIDE = ["clickhouse_connect", "chdb", "fastapi", "grpc", "starlette", "uvicorn"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sdk_installs_without_the_server_side(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT / "logboek"), str(ROOT / "sdk")],
        check=True,
        timeout=540,
    )
    check = (
        "import importlib.util, ldv_sdk, ldv_sdk.clients, ldv_sdk.testing;"
        f"present = [m for m in {SERVER_SIDE!r} if importlib.util.find_spec(m) is not None];"
        "print('present:', present); assert not present, present;"
        "from ldv_sdk.testing import capture_ldv\n"
        "with capture_ldv() as r:\n"
        "    with ldv_sdk.verwerking('huurtoeslag', 'x') as v: v.add_subject('123456782')\n"
        "assert r[0]['attributes']['dpl.core.data_subject_id'].startswith('hmac-sha256:')"
    )
    result = subprocess.run([str(python), "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "present: []" in result.stdout
