"""Smoke test of `bench/readers.py`: a tiny run prints every figure for both modes.

Runs the documented command as a subprocess (its own chDB engine), so the benchmark cannot rot
unnoticed. The figures are not judged here (a shared machine), only that each is there.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.bench, pytest.mark.timeout(150)]


def test_the_readers_benchmark_prints_both_modes() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "readers.py"), "--records", "2000", "--subjects", "200",
         "--days", "3", "--lookups", "10", "--batch", "200", "--rate", "2000"],
        capture_output=True, text=True, timeout=140,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    figure = r"\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+x\s+[\d,]+$"
    assert re.search(r"^readers=0 \(shared\)" + figure, run.stdout, re.M), run.stdout
    assert re.search(r"^readers=4" + figure, run.stdout, re.M), run.stdout
    assert re.search(r"target p95 under ingest <= 1.5x idle: (met|MISSED)", run.stdout)
