"""`ldv dashboards build` and `check`, and `python -m ldv_dashboards build`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ldv_dashboards.build import outputs, stale
from ldv_suite.cli import app


def test_build_writes_every_generated_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dashboards", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == sorted(outputs())
    assert stale(tmp_path) == []


def test_module_entry_point_builds_too(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ldv_dashboards", "build", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "generated" / "ldv-toezicht.json").is_file() and stale(tmp_path) == []


def test_check_passes_on_the_committed_files() -> None:
    result = CliRunner().invoke(app, ["dashboards", "check"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
