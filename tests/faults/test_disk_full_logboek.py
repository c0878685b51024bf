"""A full disk at the Logboek: `ldv serve` on a 48 MiB tmpfs of its own, filled while senders send.

Every export that cannot be stored is answered "retry later" (HTTP 503 with Retry-After, gRPC
UNAVAILABLE); nothing acknowledged is lost or doubled; reads keep working; the process stays up
and writing resumes by itself once space is freed; /metrics and the log say why. Then the cases
one fill does not reach: a disk full during `ldv schema`'s migration, during `ldv register load`,
and at the start of `ldv serve --register`. Needs root (mount); CI runs as root.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ldv_logboek import attributes as attr
from tests.e2e.serve_process import ServeProcess
from tests.faults.small_disk import fill, small_disk
from tests.faults.traffic import GrpcSender, HttpSender, Reader, random_activity, unique_span_ids

pytestmark = pytest.mark.e2e

RESERVE = 8 * 1024 * 1024  # LDV_COLLECTOR_MIN_FREE_DISK_BYTES on the 48 MiB disk


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def metric(text: str, name: str) -> float:
    """The value of an unlabelled Prometheus sample `name` in exposition `text`."""
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_a_full_disk_is_retry_later_and_writing_resumes_by_itself(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        # The log goes beside the mount (data_dir.parent), not onto the disk that is filled.
        serve = ServeProcess(disk, env={"LDV_COLLECTOR_RETRY_AFTER_SECONDS": "1", "LDV_COLLECTOR_MIN_FREE_DISK_BYTES": str(RESERVE)})
        serve.start()
        senders: list[HttpSender | GrpcSender] = []
        reader: Reader | None = None
        try:
            activity = random_activity()
            http = HttpSender(lambda: serve.traces_url, activity=activity)
            grpc_sender = GrpcSender(lambda: f"127.0.0.1:{serve.grpc_port}", activity=activity)
            senders = [http, grpc_sender]
            reader = Reader(lambda: serve.read({attr.PROCESSING_ACTIVITY_ID: activity}, limit=10).status_code)
            for thread in (*senders, reader):
                thread.start()
            wait_for(lambda: all(len(s.out.acked) >= 200 for s in senders), 60, "first acknowledgements")

            # Another process takes the disk down to less than the Logboek's reserve...
            ballast = fill(disk, leave_bytes=RESERVE // 2)
            wait_for(lambda: http.out.answers["503"] >= 3 and grpc_sender.out.answers["UNAVAILABLE"] >= 3, 60,
                     "both senders told to retry later")  # fmt: skip
            fill(disk, name="ballast-2")  # ...and then to the last byte, while senders keep sending
            reads_before = reader.statuses[200]
            time.sleep(2.0)  # full for a while: senders keep retrying, the reader keeps reading
            assert reader.statuses[200] > reads_before, f"reads stopped while the disk was full: {reader.statuses}"
            scraped = httpx.get(f"http://127.0.0.1:{serve.otlp_port}/metrics", timeout=10).text
            assert metric(scraped, "ldv_collector_insert_failures_total") > 0
            assert metric(scraped, "ldv_collector_store_not_enough_space_total") > 0, "/metrics does not say why"
            assert serve.proc is not None and serve.proc.poll() is None, "ldv serve stopped on a full disk"

            acked_while_full = [len(s.out.acked) for s in senders]
            ballast.unlink()  # space again: nothing is restarted or told
            (disk / "ballast-2").unlink()
            wait_for(lambda: all(len(s.out.acked) >= n + 500 for s, n in zip(senders, acked_while_full, strict=True)),
                     60, "writing to resume after space was freed")  # fmt: skip
        finally:
            for thread in (*senders, *([reader] if reader else [])):
                if thread.is_alive():
                    thread.stop()
        try:
            for sender in senders:
                assert sender.out.errors == [], sender.out.errors[:3]
            assert set(http.out.retry_after) == {"1"}, http.out.retry_after  # every 503 says when
            assert set(reader.statuses) == {200}, reader.statuses
            log = serve.log()
            assert "the store's disk is nearly full" in log, "the log does not say why inserts were refused"
            assert "the store's disk has room again" in log

            acked = http.out.acked + grpc_sender.out.acked
            stored = unique_span_ids(serve.read_all({attr.PROCESSING_ACTIVITY_ID: activity}))
            assert not set(acked) - set(stored), f"{len(set(acked) - set(stored))} acknowledged records lost"
            assert max(stored.values()) == 1, "a record was read twice"
            assert serve.terminate() == 0
            serve.start()  # the store opens again as it was: not corrupt
            again = unique_span_ids(serve.read_all({attr.PROCESSING_ACTIVITY_ID: activity}))
            assert again == stored
        finally:
            serve.kill()


def ldv(*args: str, data_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the `ldv` command on `data_dir`, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "ldv_suite.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


DEMO_REGISTER = Path(__file__).resolve().parents[2] / "demo" / "register"


def assert_one_clear_line(done: subprocess.CompletedProcess[str]) -> None:
    """Refused as an operator should see it: a non-zero exit, the reason named, no traceback."""
    assert done.returncode not in (0,), done.stdout
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-2000:]
    assert "not enough space" in (done.stderr + done.stdout).lower(), done.stderr[-2000:]


def v4_store(data_dir: Path, records: int) -> None:
    """A store of schema version 4 (before the records layout of migration 5) with `records` records."""
    from ldv_logboek.storage import LogStore, connect, migrate
    from ldv_logboek.storage._schema import MIGRATIONS
    from tests.conftest import make_record

    store = LogStore(connect(f"chdb://{data_dir}"))
    try:
        migrate(store.client, MIGRATIONS[:4])
        for _ in range(records // 2000):
            store.insert([make_record(subject=f"hmac-sha256:{os.urandom(32).hex()}") for _ in range(2000)])
    finally:
        store.close()


def test_a_migration_on_a_full_disk_stops_cleanly_and_completes_once_there_is_room(tmp_path: Path) -> None:
    """`ldv schema` copies every record into the new layout (migration 5): with no room for the
    copy it says so and stops; run again with room it completes, every record there once."""
    with small_disk(tmp_path / "disk", 64) as disk:
        data = disk / "data"
        # Made in a subprocess: chDB opens one data directory per process, and `ldv` is the next one.
        made = subprocess.run(
            [sys.executable, "-c", f"from tests.faults.test_disk_full_logboek import v4_store; "
             f"from pathlib import Path; v4_store(Path({str(data)!r}), 20_000)"],
            capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
        assert made.returncode == 0, made.stderr[-2000:]
        fill(disk, leave_bytes=256 * 1024)
        done = ldv("schema", data_dir=data)
        assert_one_clear_line(done)
        (disk / "ballast").unlink()
        done = ldv("schema", data_dir=data)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "applied now: [5, 6]" in done.stdout  # 6: the transparency log's columns and tables
        counted = subprocess.run(
            [sys.executable, "-c", "import sys; from ldv_logboek.storage import LogStore, connect; "
             f"s = LogStore(connect('chdb://{data}')); "
             "print(s.client.query('SELECT count(), uniqExact(SpanId) FROM otel_traces').result_rows[0])"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert counted.stdout.strip() == "(20000, 20000)", counted.stderr[-2000:]


def test_a_register_load_on_a_full_disk_stops_cleanly_and_loads_once_there_is_room(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 48) as disk:
        data = disk / "data"
        assert ldv("schema", data_dir=data).returncode == 0
        fill(disk)
        done = ldv("register", "load", str(DEMO_REGISTER), data_dir=data)
        assert_one_clear_line(done)
        # `ldv serve --register` on the full disk: refused at start the same way, nothing served.
        serve = subprocess.run(
            [sys.executable, "-m", "ldv_suite.cli", "serve", "--data-dir", str(data), "--register", str(DEMO_REGISTER),
             "--otlp-http-port", "0", "--otlp-grpc-port", "0", "--api-port", "0", "--clickhouse-port", "0"],
            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        assert_one_clear_line(serve)
        (disk / "ballast").unlink()
        done = ldv("register", "load", str(DEMO_REGISTER), data_dir=data)
        assert done.returncode == 0, done.stderr[-2000:]
        again = ldv("register", "load", str(DEMO_REGISTER), data_dir=data)
        assert again.returncode == 0 and "0 versions added" in again.stdout, again.stdout  # all of it was stored
