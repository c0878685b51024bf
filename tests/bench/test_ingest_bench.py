"""Smoke test of `bench/ingest.py`: a tiny run completes and prints every figure.

Runs the benchmark as the documented command (a subprocess, with its own `ldv serve`), so it
cannot rot unnoticed. The figures themselves are not judged here (a shared machine); that
every span was stored, and that both ceilings, the ratio and the collector-alone figure are
printed, is.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.bench, pytest.mark.timeout(240)]


def test_the_ingest_benchmark_prints_the_arrow_ceiling_and_the_ratios() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "ingest.py"), "--requests", "3", "--spans", "64", "--senders", "2"],
        capture_output=True, text=True, timeout=220,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    number = r"[\d,]+"
    assert re.search(rf"ceiling: Arrow via Python\(\), 4096 rows/insert\s+{number}\s+{number}", out)
    assert re.search(rf"ceiling: Native client.insert, 4096 rows/insert\s+{number}\s+{number}", out)
    assert re.search(rf"ldv serve, OTLP/HTTP protobuf, 2 senders\s+{number}\s+{number}", out)
    assert re.search(r"ratio to the Arrow ceiling: [\d.]+ \(wall\), [\d.]+ \(per CPU-second; target >= 0.5\)", out)
    assert re.search(r"collector alone .*(spans per CPU-second|not measurable)", out)
    assert "'spans_stored': 192" in out and "'spans_rejected': 0" in out
