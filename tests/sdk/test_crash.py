"""SIGKILL of a service mid-stream, with the collector failing for a while, then a restart on the
same spool: every record whose processing had returned arrives (exactly once after dedup by
(trace_id, span_id), which is how the Logboek reads)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sdk.otlp_receiver import Behaviour, Receiver

SCRIPT = Path(__file__).with_name("crash_service.py")
ROOT = Path(__file__).resolve().parents[2]


def _start(spool: Path, endpoint: str, count: int, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(spool), endpoint, str(count), *flags],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_sigkill_mid_stream_and_restart_loses_nothing(tmp_path: Path, receiver: Receiver) -> None:
    spool = tmp_path / "spool.sqlite3"
    receiver.behaviour = Behaviour(fail_status=503, fail_count=3, retry_after="0")
    first = _start(spool, receiver.endpoint, 100_000)
    returned: list[str] = []
    assert first.stdout is not None
    deadline = time.monotonic() + 30
    while len(returned) < 1500 and time.monotonic() < deadline:
        line = first.stdout.readline()
        if not line:
            break
        returned.append(line.strip())
    os.kill(first.pid, signal.SIGKILL)
    # The rest through the same buffered reader: communicate(timeout=...) reads the pipe's fd itself,
    # skipping what readline() had buffered, so its first line could start mid-id.
    rest = first.stdout.read()
    first.wait(timeout=10)
    returned += [line.strip() for line in rest.splitlines() if line.strip()]
    assert first.returncode == -signal.SIGKILL
    assert all(len(span_id) == 16 for span_id in returned), "whole span ids only"
    assert 1500 <= len(returned) < 100_000, "killed mid-stream"

    second = _start(spool, receiver.endpoint, 200, "--flush")
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, "the restarted service delivered its whole spool"
    returned += out.split()

    arrived = {span_id for _, span_id in receiver.distinct()}
    missing = set(returned) - arrived
    assert not missing, f"{len(missing)} returned processings never arrived"
    assert len(returned) == len(set(returned))
    # At-least-once on the wire: a batch in flight at the kill may come twice; the ids are what count.
    assert len(receiver.spans) - len(arrived) <= 64
    assert 503 in receiver.statuses
