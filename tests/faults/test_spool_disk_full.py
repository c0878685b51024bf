"""A full disk at a service: the SDK's spool on a small tmpfs of its own, filled to the last byte.

The default (`spool_disk_full_policy=block`): a processing whose record cannot be written waits
for room, at most `spool_disk_full_wait` seconds, then fails with `SpoolDiskFull` (under either
failure policy: logging is part of the processing). `fail`: `SpoolDiskFull` at once. Either
way every record written before, and every one written once there is room, is delivered.
Needs root (mount); CI runs as root.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_sdk import Spool, SpoolDiskFull
from tests.e2e.serve_process import ServeProcess
from tests.faults.small_disk import fill, small_disk

KEY = b"toeslagen-spool-key-0123456789"
BASE = "https://register.toeslagen.example/processing-activities"
ACTIVITY = f"{BASE}/schijf-vol"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk", 8) as mounted:
        yield mounted
        ldv_sdk.shutdown(timeout=5)  # before the unmount: the spool's files are open there


def configure(disk: Path, endpoint: str = "http://127.0.0.1:9/v1/traces", **settings: Any) -> None:
    ldv_sdk.configure(
        organisation="dienst-toeslagen", service_name="huurtoeslag-api", pseudonym_key=KEY,
        register_base_uri=BASE, endpoint=endpoint, spool_path=disk / "spool.sqlite3", max_backoff=0.5,
        **settings,
    )  # fmt: skip


@ldv_sdk.verwerking("schijf-vol", subject="bsn")
def bereken(bsn: str) -> int:
    return len(bsn)


def bsn(n: int) -> str:
    return f"{100_000_000 + n:09d}"


def until_disk_full(logged: int) -> tuple[int, float]:
    """Processings until one fails with SpoolDiskFull (the last page of the segment file may still
    take a few); how many were logged in all, and when the failing one started."""
    for n in range(10_000):
        started = time.monotonic()
        try:
            bereken(bsn(n))
        except SpoolDiskFull:
            return logged, started
        logged += 1
    raise AssertionError("the spool never ran out of room")


def pending(disk: Path) -> int:
    """Records waiting in the spool, counted by opening it afresh (as the next start would)."""
    spool = Spool(disk / "spool.sqlite3")
    try:
        return len(spool)
    finally:
        spool.close()


@pytest.mark.e2e
def test_by_default_a_processing_waits_for_room_and_every_record_is_delivered(disk: Path, tmp_path: Path) -> None:
    configure(disk, start_sender=False)
    done = 0
    for n in range(300):
        bereken(bsn(n))
        done += 1
    ballast = fill(disk)
    returned: list[int] = []  # a page of the segment file may still have room: a few go through

    def keep_processing() -> None:
        for n in range(done, done + 100):
            returned.append(bereken(bsn(n)))

    worker = threading.Thread(target=keep_processing)
    worker.start()
    time.sleep(1.5)
    assert worker.is_alive() and len(returned) < 100, "the processings did not wait for room on a full disk"
    stalled = len(returned)
    time.sleep(0.5)
    assert len(returned) == stalled
    ballast.unlink()
    worker.join(20)
    assert returned == [9] * 100  # went on once there was room, every one logged
    done += 100
    ldv_sdk.shutdown(timeout=5)
    assert pending(disk) == done

    serve = ServeProcess(tmp_path / "data").start()
    try:
        configure(disk, endpoint=serve.traces_url)
        assert ldv_sdk.flush(timeout=60), "the spool did not drain"
        ldv_sdk.shutdown(timeout=5)
        records = serve.read_all({attr.PROCESSING_ACTIVITY_ID: ACTIVITY})
    finally:
        serve.kill()
    assert len(records) == len({r["spanId"] for r in records}) == done


def test_the_wait_is_bounded_then_the_processing_fails_even_under_the_open_policy(disk: Path) -> None:
    configure(disk, start_sender=False, spool_disk_full_wait=0.6)  # failure_policy: the default, open
    for n in range(100):
        bereken(bsn(n))
    ballast = fill(disk)
    logged, started = until_disk_full(100)
    with pytest.raises(SpoolDiskFull, match="disk of the LDV spool .* is full"):
        bereken(bsn(0))
    assert 0.6 <= time.monotonic() - started < 5
    ballast.unlink()
    for n in range(50):
        bereken(bsn(n))
    ldv_sdk.shutdown(timeout=5)
    assert pending(disk) == logged + 50  # the failed ones are not there (and did not look logged); nothing lost


def test_the_fail_policy_raises_at_once(disk: Path) -> None:
    configure(disk, start_sender=False, spool_disk_full_policy="fail")
    for n in range(100):
        bereken(bsn(n))
    ballast = fill(disk)
    logged, started = until_disk_full(100)
    assert time.monotonic() - started < 0.5
    ballast.unlink()
    bereken(bsn(101))
    ldv_sdk.shutdown(timeout=5)
    assert pending(disk) == logged + 1
