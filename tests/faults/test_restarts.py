"""Restarts under load: `ldv serve` killed (SIGKILL) and stopped (SIGTERM) every few seconds
while a service with the SDK (and its spool), the official OTLP/HTTP exporter, a raw gRPC sender
and a reader keep going. After the last restart every acknowledged record is there exactly once.
The short form runs here (about a minute, 4 restarts); for longer, raise RESTARTS.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ldv_logboek import attributes as attr
from tests.e2e.serve_process import ServeProcess
from tests.faults.traffic import GrpcSender, OtelExporterSender, Reader, random_activity, unique_span_ids

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BASE = "https://register.toeslagen.example/processing-activities"
RESTARTS = 4
UP_S = 2.5  # how long each run of `ldv serve` takes load before it is killed or stopped


def test_every_acknowledged_record_is_there_once_after_kills_and_stops(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data").start()
    name = f"herstart-{time.monotonic_ns()}"
    stop_file = tmp_path / "stop"
    service = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.busy_service", serve.traces_url, str(tmp_path / "spool.sqlite3"), name,
         str(stop_file), "100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    activity = random_activity()
    exporter = OtelExporterSender(lambda: serve.traces_url, activity=activity, size=20, pause=0.1)
    grpc_sender = GrpcSender(lambda: f"127.0.0.1:{serve.grpc_port}", activity=activity, size=20, pause=0.1)
    reader = Reader(lambda: serve.read({attr.PROCESSING_ACTIVITY_ID: activity}, limit=10).status_code, interval=0.5)
    threads = (exporter, grpc_sender, reader)
    codes = []
    try:
        for thread in threads:
            thread.start()
        for n in range(RESTARTS):
            time.sleep(UP_S)
            if n % 2:
                codes.append(serve.terminate(timeout=60))  # SIGTERM: a clean stop, everything acknowledged stored
            else:
                serve.kill()  # SIGKILL: no goodbye
            began = time.monotonic()
            serve.start()
            print(f"restart {n}: up again in {time.monotonic() - began:.1f}s")
        time.sleep(UP_S)
    finally:
        stop_file.touch()
        for thread in threads:
            if thread.is_alive():
                thread.stop()
    try:
        began = time.monotonic()
        out, err = service.communicate(timeout=240)
        print(f"service drained in {time.monotonic() - began:.1f}s")
        assert service.returncode == 0 and out.split()[-1] == "ok", err[-3000:]
        processed = int(out.split()[0])
        assert codes == [0] * (RESTARTS // 2), codes
        for sender in (exporter, grpc_sender):
            assert sender.out.errors == [], sender.out.errors[:3]
        acked = exporter.out.acked + grpc_sender.out.acked
        assert len(acked) > 0 and processed > 0
        stored = unique_span_ids(serve.read_all({attr.PROCESSING_ACTIVITY_ID: activity}))
        assert not set(acked) - set(stored), f"{len(set(acked) - set(stored))} acknowledged records lost"
        sdk_records = serve.read_all({attr.PROCESSING_ACTIVITY_ID: f"{BASE}/{name}"})
        assert len(sdk_records) == processed, (len(sdk_records), processed)  # each processing's record, once
        assert max(stored.values()) == 1 and max(unique_span_ids(sdk_records).values()) == 1
        assert set(reader.statuses) <= {200, "ConnectError", "ReadError", "RemoteProtocolError", 503}, reader.statuses
        print(f"acknowledged: exporter {len(exporter.out.acked)}, gRPC {len(grpc_sender.out.acked)}, SDK {processed}; "
              f"answers: {dict(exporter.out.answers)} {dict(grpc_sender.out.answers)}; reads: {dict(reader.statuses)}")
    finally:
        service.kill()
        serve.kill()
