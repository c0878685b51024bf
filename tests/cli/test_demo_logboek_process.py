"""A demo Logboek (`ldv serve` through `ldv_suite.demo.logboek_process`) stops when `ldv demo` is
killed: otherwise it would keep running and keep its data directory locked for the next demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.serve_process import free_port


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status  # exited; waiting for its new parent to reap it


def test_the_logboek_stops_when_the_demo_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "logboek.log"
    cmd = [
        sys.executable, "-m", "ldv_suite.demo.logboek_process", "serve",
        "--data-dir", str(tmp_path / "data"), "--api-port", str(free_port()), "--otlp-http-port", str(free_port()),
        "--otlp-grpc-port", "0", "--clickhouse-port", "0",
    ]  # fmt: skip
    # A stand-in for `ldv demo`: starts the Logboek, says its pid, then waits to be killed.
    parent_code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen({cmd!r}, stdout=open({str(log)!r}, 'w'), stderr=subprocess.STDOUT,"
        " start_new_session=True)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True, env=env)
    assert parent.stdout is not None
    child = json.loads(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 90
        while "LDV suite ready" not in (log.read_text() if log.exists() else ""):
            assert not _gone(child), log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while not _gone(child):
            assert time.monotonic() < deadline, "the Logboek outlived the demo"
            time.sleep(0.2)
        assert "LDV suite stopped" in log.read_text()  # a clean stop: it stored what it acknowledged
    finally:
        if not _gone(child):
            os.kill(child, 9)
