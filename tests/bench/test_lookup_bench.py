"""Smoke test of `bench/lookup.py`: a tiny run over both layouts and both spreads prints every figure.

Runs the benchmark as the documented command (a subprocess starting real `ldv serve` processes,
filled over OTLP/HTTP, read through the read API with a supervisor token), so it cannot rot
unnoticed. The figures are not judged (a shared machine); that every lookup found the records
that were sent is checked by the benchmark itself, which fails otherwise.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.bench, pytest.mark.timeout(300)]


def test_the_lookup_benchmark_runs_on_both_layouts() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "lookup.py"), "--records", "2000", "--lookups", "3",
         "--busy-records", "1024", "--settle", "0", "--days", "30", "365", "--schemas", "4", "5",
         "--engine-rows", "20000"],
        capture_output=True, text=True, timeout=290,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    rows = re.findall(r"^\s+(\d) +(\d+) \|(?:\s+[\d.]+){2} \|(?:\s+[\d.]+){2} \|\s+[\d.]+ \|(?:\s+[\d.]+){2} \|(?:\s+[\d.]+){2}$", run.stdout, re.M)
    assert rows == [("4", "30"), ("4", "365"), ("5", "30"), ("5", "365")], run.stdout
    assert len(re.findall(r"ldv serve RSS \d[\d,]* MiB", run.stdout)) == 4
    for schema in ("4", "5"):
        assert re.search(rf"schema {schema}: 365-day / 30-day p50: subject [\d.]+, trace [\d.]+ \(target <= 1.2: (met|MISSED)\)", run.stdout)
        assert re.search(rf"schema {schema}, 30 days: lookup p50 [\d.]+ ms \(target <= 10 ms: (met|MISSED)\); lookup / floor [\d.]+x", run.stdout)
    assert len(re.findall(r"p95 under ingest / idle: subject [\d.]+x, trace [\d.]+x", run.stdout)) == 4
    assert len(re.findall(r"the API's cheapest request \(GET openapi.json\) p50 [\d.]+ ms; subject lookup / it [\d.]+x", run.stdout)) == 4
    assert re.search(r"dedup, 20,000 records, \d+ part\(s\), subject lookup in the engine p50: with LIMIT 1 BY [\d.]+ ms, without [\d.]+ ms", run.stdout)
    retention = re.search(r"took [\d.]+ s wall, [\d.]+ s CPU; ([\d,]+) records left \(expected ([\d,]+)\)", run.stdout)
    assert retention and retention.group(1) == retention.group(2), run.stdout


def test_the_gil_benchmark_measures_every_condition() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "lookup_gil.py"), "--rows", "2000", "--lookups", "2"],
        capture_output=True, text=True, timeout=290,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    conditions = re.findall(r"^switch interval ([\d.]+) ms, (idle|ingest in a thread|ingest in a process): find p50", run.stdout, re.M)
    assert conditions == [("5", "idle"), ("5", "ingest in a thread"), ("1", "idle"), ("1", "ingest in a thread"),
                          ("0.5", "ingest in a thread"), ("5", "ingest in a process")], run.stdout  # fmt: skip
    assert re.search(r"the ingest thread checked [1-9][\d,]* spans", run.stdout), run.stdout


def test_the_lookup_benchmark_fills_in_process_and_prints_issue_18s_lines() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "lookup.py"), "--records", "4000", "--lookups", "3",
         "--busy-records", "1024", "--settle", "0", "--days", "365", "--schemas", "5", "--engine-rows", "0",
         "--fill", "store", "--baseline-spans-per-cpu-s", "1000"],
        capture_output=True, text=True, timeout=290,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"schema 5, 365 days: filled at [\d,]+ spans/s in this process \([\d,]+ per CPU-second\)", run.stdout)
    assert re.search(r"p95 under ingest at a quarter of the ingest rate \([\d,]+ spans/s\) / idle: subject [\d.]+x, "
                     r"trace [\d.]+x \(target <= 1.5x: (met|MISSED)\)", run.stdout)  # fmt: skip
    assert re.search(r"[\d,]+ spans per server CPU-second; [\d.]+x of the baseline 1,000 \(target >= 0.9x: (met|MISSED)\)", run.stdout)
    assert re.search(r"ldv serve RSS after the fill of 4,000 records [\d,]+ MiB", run.stdout), run.stdout
