"""Clock trouble at a service: hours ahead, hours behind, or set back during a processing.

Through the real path: a service process (the SDK) with a wrong clock → `ldv serve` → the read
API and the ClickHouse endpoint. The records keep their own times (the standard asks for the
times of the processing as the service saw them); no rule of the collector refuses a time for
being far from its own clock (the only time rules: a start and an end, the end not before the
start, a time the store can hold); a lookup by time window finds them by their own times; `IngestedAt` is the
Logboek's clock and the retention (TTL from the record's own time) does not remove them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ldv_logboek import attributes as attr
from tests.e2e.serve_process import ServeProcess

pytestmark = pytest.mark.e2e

HOUR_S = 3600
BASE = "https://register.toeslagen.example/processing-activities"
USERS = {"toezicht": {"password": "toezicht-pw", "scope": "supervisor", "raw_rows": True}}
REPO = Path(__file__).resolve().parents[2]


def run_service(serve: ServeProcess, tmp_path: Path, activity: str, offset_s: float, jump_s: float, count: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.clock_service", serve.traces_url, str(tmp_path / f"spool-{activity}.sqlite3"),
         activity, str(offset_s), str(jump_s), str(count)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def clickhouse(serve: ServeProcess, sql: str) -> list[list]:
    response = httpx.post(f"http://127.0.0.1:{serve.clickhouse_port}/", content=sql + " FORMAT JSONCompact",
                          auth=("toezicht", "toezicht-pw"), timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_records_of_a_wrong_or_jumping_clock_are_stored_with_their_own_times(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data", env={"LDV_CLICKHOUSE_USERS": json.dumps(USERS)}).start()
    try:
        before_ms = time.time() * 1000
        cases = {"klok-voor": (5 * HOUR_S, 0), "klok-achter": (-7 * HOUR_S, 0), "klok-terug": (0, 2 * HOUR_S)}
        for name, (offset, jump) in cases.items():
            run_service(serve, tmp_path, name, offset, jump, 20)
        after_ms = time.time() * 1000

        for name, (offset, jump) in cases.items():
            activity = f"{BASE}/{name}"
            records = serve.read_all({attr.PROCESSING_ACTIVITY_ID: activity})
            assert len(records) == len({r["spanId"] for r in records}) == 20, f"{name}: {len(records)} records"
            starts = sorted(r["startTime"] for r in records)
            # Their own times: the service's clock (offset, and after the jump `jump` earlier).
            low, high = before_ms + offset * 1000 - jump * 1000, after_ms + offset * 1000
            assert low - 1000 <= starts[0] and starts[-1] <= high + 1000, (name, starts[0], starts[-1], low, high)
            assert all(r["endTime"] >= r["startTime"] for r in records), f"{name}: an end before its start"
            assert all(r["endTime"] - r["startTime"] < 60_000 for r in records), f"{name}: a duration stretched by the jump"
            # A lookup by time window, in the records' own times, finds every one of them.
            window = serve.read_all({attr.PROCESSING_ACTIVITY_ID: activity, "startTime": starts[0], "endTime": starts[-1] + 1})  # ms; stored in ns
            assert len(window) == 20
            outside = serve.read_all({attr.PROCESSING_ACTIVITY_ID: activity, "startTime": int(after_ms) + offset * 1000 + 60_000})
            assert outside == []
            # The Logboek's own bookkeeping: IngestedAt by its clock, retention counted from the record's time.
            ingested = clickhouse(serve, "SELECT toUnixTimestamp64Milli(min(IngestedAt)), toUnixTimestamp64Milli(max(IngestedAt)),"
                                  " countIf(toDateTime(Timestamp) + toIntervalDay(RetentionDays) <= now()) FROM otel_traces"
                                  f" WHERE ProcessingActivityId = '{activity}'")  # fmt: skip
            first, last, expired = (int(v) for v in ingested[0])
            assert before_ms - 1000 <= first <= last <= time.time() * 1000 + 1000, (name, first, last)
            assert expired == 0
        # Nothing was refused: the collector counted no rejected span.
        scraped = httpx.get(f"http://127.0.0.1:{serve.otlp_port}/metrics", timeout=10).text
        assert "ldv_collector_spans_rejected_total 0.0" in scraped
    finally:
        serve.kill()


def test_a_record_from_a_clock_years_behind_is_stored_or_refused_never_acknowledged_and_dropped(tmp_path: Path) -> None:
    """A record whose retention ended before it arrived (1971 plus the default 10 years) is refused
    with the rule `retention-passed` (the store's TTL would drop it as it is written); one of the
    same request within its retention (a clock a year behind) is stored."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    from tests.collector.helpers import ldv_attributes, make_request, make_span

    activity = f"{BASE}/klok-1971"
    old = make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity}), start_ns=365 * 86_400 * 10**9)  # 1971
    year_behind = make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: activity}),
                            start_ns=time.time_ns() - 365 * 86_400 * 10**9)  # fmt: skip
    serve = ServeProcess(tmp_path / "data").start()
    try:
        response = httpx.post(serve.traces_url, content=make_request([old, year_behind]).SerializeToString(),
                              headers={"Content-Type": "application/x-protobuf"}, timeout=30)  # fmt: skip
        assert response.status_code == 200
        partial = ExportTraceServiceResponse.FromString(response.content).partial_success
        stored = serve.read_all({attr.PROCESSING_ACTIVITY_ID: activity})
    finally:
        serve.kill()
    assert partial.rejected_spans == 1 and "retention-passed" in partial.error_message, partial
    assert old.span_id.hex() in partial.error_message
    assert [r["spanId"] for r in stored] == [year_behind.span_id.hex()]
