"""Issue #3's promise end to end: the SDK in a service, the collector down for a while, then
`ldv serve` up; every record arrives once, readable through the read API."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from tests.e2e.serve_process import ServeProcess

# Twice: on the embedded store, and on a store behind the ClickHouse HTTP interface (conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("store_mode")]

KEY = "toeslagen-e2e-key-0123456789"
ACTIVITY = "https://register.toeslagen.example/processing-activities/huurtoeslag"
BSNS = [f"{n:09d}" for n in range(100_000_000, 100_000_000 + 40 * 11, 11)]  # 40 numbers; no elfproef needed


def test_records_made_while_the_collector_is_down_arrive_once(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data")  # ports reserved, nothing listening yet
    ldv_sdk.configure(
        organisation="dienst-toeslagen",
        service_name="huurtoeslag-api",
        pseudonym_key=KEY.encode(),
        register_base_uri="https://register.toeslagen.example/processing-activities",
        endpoint=serve.traces_url,
        spool_path=tmp_path / "spool" / "spool.sqlite3",
        max_backoff=0.5,
    )
    try:

        @ldv_sdk.verwerking("huurtoeslag", "huurtoeslag berekenen", subject="bsn")
        def bereken(bsn: str) -> int:
            return len(bsn)

        for bsn in BSNS:
            assert bereken(bsn) == 9
        time.sleep(1.0)  # the sender tries, finds nobody, backs off
        assert not ldv_sdk.flush(timeout=0.5), "nothing can have been delivered yet"

        serve.start()
        assert ldv_sdk.flush(timeout=60), "the spool did not drain once the collector was up"
    finally:
        ldv_sdk.shutdown(timeout=5)
    try:
        records = serve.read_all({attr.PROCESSING_ACTIVITY_ID: ACTIVITY})
    finally:
        serve.kill()
    subjects = sorted(r["attributes"][attr.DATA_SUBJECT_ID] for r in records)
    assert subjects == sorted(pseudonymise(b, KEY.encode()) for b in BSNS)
    assert len({r["spanId"] for r in records}) == len(records) == len(BSNS)
    assert all(r["resource"]["attributes"][attr.ORGANISATION] == "dienst-toeslagen" for r in records)
