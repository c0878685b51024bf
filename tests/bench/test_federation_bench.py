"""Smoke test of `bench/federation.py`: a short run with N=2 completes and prints every figure.

Runs the benchmark as the documented command (a subprocess: its own child processes, the real
read API apps and the demo issuer on loopback), so the benchmark cannot rot unnoticed. The
figures themselves are not judged here (a shared machine); that the run checks each answer
(the other Logboek's records present, the slow or down one reported unavailable) is.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.bench, pytest.mark.timeout(90)]


def test_the_federation_benchmark_runs_with_two_logboeken() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "federation.py"), "--parties", "2", "--requests", "1",
         "--timeout", "1.0", "--slow", "2.0"],
        capture_output=True, text=True, timeout=80,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "configured federation timeout: 1.00 s" in run.stdout
    rows = re.findall(r"^\s+(\d+) (up|slow|down)\s+(\d+)ms\s+(\d+)ms\s+[\d.]+x\s+(\d+)ms\s+(\d+)ms", run.stdout, re.M)
    assert [(n, c) for n, c, *_ in rows] == [("1", "up"), ("2", "up"), ("2", "slow"), ("2", "down")]
    slow = rows[2]
    assert all(int(ms) >= 1000 for ms in slow[2:]), "the slow party must cost the timeout, no less"
    assert re.search(r"target p95 <= 1 s for N=2, all up: [\d.]+ s -> (met|MISSED)", run.stdout)
    assert re.search(r"complete answers: (all|\d+ short)", run.stdout)
