"""Soak: `ldv serve` under a steady, realistic load for a long time, measured every minute.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 2000] [--sdk-senders 2] [--exporter-senders 2]
                                   [--window 60] [--out docs/soak]

- Starts `ldv serve` (embedded store) as a subprocess, on a fresh data dir.
- Load: `--rate` records/s in all, half from services using our SDK (each a process of its own
  with its spool: tests/faults/busy_service.py), half from the official OTLP/HTTP exporter (each a
  process: tests/faults/exporter_process.py, batches of 100, its own retries).
- Every second a citizen's lookup through the read API (a citizen token, a subject that has
  records) and a dashboard query through the ClickHouse endpoint (records per organisation over
  the last hour, from the dashboard view).
- Every `--window` seconds one row: RSS and open files of `ldv serve`, parts of the records table
  on disk (active and not yet removed; the endpoint does not serve system.parts), records stored,
  lookup and dashboard p50/p99, ingest latency p50/p99 (the exporter's export() calls, which
  return when the group commit has stored the batch).
- At the end: senders stop, the SDK spools drain, and every acknowledged record is counted
  back (exporter: every acknowledged span id, by the ClickHouse endpoint; SDK: every processing
  that returned, by count), plus the duplicates stored (retries; every read shows them once).
- Writes `<out>.json` (rows and summary) and `<out>.svg` (a plot without any plotting library).

Prints one line per window; exits 1 when an acknowledged record is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ldv_logboek import attributes as attr  # noqa: E402
from tests.e2e.serve_process import ServeProcess  # noqa: E402
from tests.faults.traffic import citizen_bsn  # noqa: E402

SDK_KEY = "toeslagen-busy-key-0123456789"  # tests/faults/busy_service.py pseudonymises with this key
BASE = "https://register.toeslagen.example/processing-activities"
USERS = {
    "dashboard": {"password": "dashboard-pw", "scope": "supervisor"},
    "telling": {"password": "telling-pw", "scope": "supervisor", "raw_rows": True},
}
DASHBOARD_SQL = (
    "SELECT Organisation, count() FROM ldv_dashboard_records WHERE Timestamp > now() - INTERVAL 1 HOUR "
    "GROUP BY Organisation FORMAT TabSeparated"
)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Probe(threading.Thread):
    """Runs `call` once a second; keeps (monotonic time, ms, ok) of each call."""

    def __init__(self, call: Any) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.samples: list[tuple[float, float, bool]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(max(0.0, 1.0 - (time.monotonic() % 1.0))):
            began = time.monotonic()
            try:
                ok = self.call()
            except httpx.HTTPError:
                ok = False
            self.samples.append((began, (time.monotonic() - began) * 1000, ok))

    def window(self, since: float) -> list[float]:
        return [ms for t, ms, ok in self.samples if t >= since and ok]

    def failures(self) -> int:
        return sum(1 for *_, ok in self.samples if not ok)


def proc_figures(pid: int) -> tuple[float, int]:
    """RSS in MiB and open file descriptors of process `pid`."""
    rss_kib = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def ch(serve: ServeProcess, sql: str, user: str = "telling") -> str:
    response = httpx.post(f"http://127.0.0.1:{serve.clickhouse_port}/", content=sql.encode(),
                          auth=(user, USERS[user]["password"]), timeout=120)  # fmt: skip
    response.raise_for_status()
    return response.text


def stored_count(serve: ServeProcess) -> int:
    text = httpx.get(f"http://127.0.0.1:{serve.otlp_port}/metrics", timeout=10).text
    line = next(line for line in text.splitlines() if line.startswith("ldv_collector_spans_stored_total "))
    return int(float(line.split()[1]))


def run(minutes: float, rate: int, sdk_senders: int, exporter_senders: int, window: float, out: Path | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ldv-soak-"))
    serve = ServeProcess(work / "data", env={
        "LDV_CLICKHOUSE_USERS": json.dumps(USERS),
        "LDV_ORGANISATION_KEYS": json.dumps({"dienst-toeslagen": SDK_KEY}),
        "LDV_SERVE_LOG_LEVEL": "warning",
    }).start(timeout=120)  # fmt: skip
    stop = work / "stop"
    sdk_activity, exporter_activity = f"{BASE}/soak-sdk", f"{BASE}/soak-exporter"
    per_sdk = rate / 2 / max(1, sdk_senders) if sdk_senders else 0
    per_exporter = rate / 2 / max(1, exporter_senders) if exporter_senders else 0
    if not sdk_senders:
        per_exporter = rate / exporter_senders
    if not exporter_senders:
        per_sdk = rate / sdk_senders
    services = [
        subprocess.Popen([sys.executable, "-m", "tests.faults.busy_service", serve.traces_url, str(work / f"spool-{i}.sqlite3"),
                          "soak-sdk", str(stop), str(per_sdk)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(sdk_senders)
    ]  # fmt: skip
    exporters = [
        subprocess.Popen([sys.executable, "-m", "tests.faults.exporter_process", serve.traces_url, exporter_activity,
                          str(per_exporter), str(stop), str(work / f"exporter-{i}")],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(exporter_senders)
    ]  # fmt: skip
    started = time.monotonic()

    empty_lookups: list[int] = []

    def citizen_lookup() -> bool:
        # A subject the services have logged by now (busy_service numbers its subjects from 100000000).
        # A subject the services have logged by now: well below what they were asked to have done.
        n = random.randrange(max(1, int((time.monotonic() - started) * per_sdk * 0.3)) + 1)
        token = serve.signer.token(roles=["citizen"], bsn=citizen_bsn(n))
        response = httpx.post(f"{serve.api_url}/lezenapi/v1/processing-activities", json={attr.PROCESSING_ACTIVITY_ID: sdk_activity},
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        if response.status_code == 200 and not response.json()["processingActivities"]:
            empty_lookups.append(n)  # not logged yet (a slow machine): answered, but not the lookup meant
        return response.status_code == 200

    def dashboard() -> bool:
        response = httpx.post(f"http://127.0.0.1:{serve.clickhouse_port}/", content=DASHBOARD_SQL.encode(),
                              auth=("dashboard", "dashboard-pw"), timeout=30)  # fmt: skip
        return response.status_code == 200

    lookups, dashboards = Probe(citizen_lookup), Probe(dashboard)
    lookups.start()
    dashboards.start()
    # The table's directory, from its metadata (ATTACH TABLE _ UUID '...'): system.parts is not served.
    uuid = (work / "data" / "metadata" / "default" / "otel_traces.sql").read_text().split("'")[1]
    table_dir = work / "data" / "store" / uuid[:3] / uuid
    rows: list[dict[str, Any]] = []
    end = started + minutes * 60
    try:
        next_row = started + window
        while time.monotonic() < end:
            time.sleep(max(0.0, min(next_row, end) - time.monotonic()))
            since = next_row - window
            assert serve.proc is not None and serve.proc.poll() is None, "ldv serve died"
            rss, files = proc_figures(serve.proc.pid)
            latencies = [float(ms) for i in range(exporter_senders)
                         for t, ms in (line.split() for line in _lines(work / f"exporter-{i}" / "latency.txt"))
                         if float(t) >= since]  # fmt: skip
            look, dash = lookups.window(since), dashboards.window(since)
            row = {
                "minute": round((time.monotonic() - started) / 60, 2),
                "rss_mib": round(rss, 1), "open_files": files,
                "parts_on_disk": sum(1 for p in table_dir.iterdir() if p.name.startswith("all_")) if table_dir.is_dir() else -1,
                "stored": stored_count(serve),
                "lookup_p50_ms": round(percentile(look, 0.5), 1), "lookup_p99_ms": round(percentile(look, 0.99), 1),
                "dashboard_p50_ms": round(percentile(dash, 0.5), 1), "dashboard_p99_ms": round(percentile(dash, 0.99), 1),
                "ingest_p50_ms": round(percentile(latencies, 0.5), 1), "ingest_p99_ms": round(percentile(latencies, 0.99), 1),
                "lookups": len(look),
            }  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
            next_row += window
    finally:
        stop.touch()
        lookups.stopping.set()
        dashboards.stopping.set()
    processed = 0
    for service in services:
        text, err = service.communicate(timeout=600)
        assert service.returncode == 0 and text.split()[-1] == "ok", err[-2000:]
        processed += int(text.split()[0])
    acked: set[str] = set()
    acked_count = 0
    for i, exporter in enumerate(exporters):
        text, err = exporter.communicate(timeout=600)
        assert exporter.returncode == 0 and text.split()[-1] == "ok", err[-2000:]
        ids = _lines(work / f"exporter-{i}" / "acked.txt")
        acked.update(ids)
        acked_count += len(ids)
    ran_s = time.monotonic() - started
    exporter_ids = set(ch(serve, f"SELECT DISTINCT SpanId FROM otel_traces WHERE ProcessingActivityId = '{exporter_activity}' "
                              "FORMAT TabSeparated").split())  # fmt: skip
    sdk_stored, sdk_raw = (int(v) for v in ch(serve, "SELECT uniqExact(TraceId, SpanId), count() FROM otel_traces "
                                               f"WHERE ProcessingActivityId = '{sdk_activity}' FORMAT TabSeparated").split())  # fmt: skip
    raw_total = int(ch(serve, "SELECT count() FROM otel_traces FORMAT TabSeparated"))
    unique_total = int(ch(serve, "SELECT uniqExact(TraceId, SpanId) FROM otel_traces FORMAT TabSeparated"))
    rss, files = proc_figures(serve.proc.pid)  # type: ignore[union-attr]
    serve.terminate()
    shutil.rmtree(work, ignore_errors=True)
    summary = {
        "minutes": round(ran_s / 60, 2), "rate_asked": rate, "rate_stored": round(unique_total / ran_s),
        "sdk_processed": processed, "sdk_stored": sdk_stored, "exporter_acknowledged": acked_count,
        "exporter_stored_of_acknowledged": len(acked & exporter_ids),
        "lost": (processed - sdk_stored if processed > sdk_stored else 0) + len(acked - exporter_ids),
        "extra_sdk_records": max(0, sdk_stored - processed),
        "duplicates_stored_raw": raw_total - unique_total, "sdk_raw_rows": sdk_raw,
        "lookup_failures": lookups.failures(), "lookups_empty": len(empty_lookups),
        "dashboard_failures": dashboards.failures(),
        "lookup_p50_ms_all": round(percentile([ms for _, ms, ok in lookups.samples if ok], 0.5), 1),
        "lookup_p99_ms_all": round(percentile([ms for _, ms, ok in lookups.samples if ok], 0.99), 1),
        "rss_mib_end": round(rss, 1), "open_files_end": files,
    }  # fmt: skip
    print(json.dumps(summary), flush=True)
    result = {"rows": rows, "summary": summary}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        out.with_suffix(".svg").write_text(svg(rows, summary))
    return result


def _lines(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1] if path.exists() else []


def svg(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """Four small line charts (RSS, open files, lookup p50/p99, ingest p50/p99) over the minutes."""
    charts = [("RSS of ldv serve (MiB)", ["rss_mib"]), ("open files", ["open_files"]),
              ("citizen lookup (ms): p50, p99", ["lookup_p50_ms", "lookup_p99_ms"]),
              ("ingest latency (ms): p50, p99", ["ingest_p50_ms", "ingest_p99_ms"])]  # fmt: skip
    colours = ["#1f77b4", "#d62728"]
    w, h, pad = 420, 220, 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{2 * h + 30}" font-family="sans-serif" font-size="11">',
             f'<text x="10" y="{2 * h + 20}">soak: {summary["minutes"]} min, {summary["rate_stored"]} records/s stored, '
             f'lost {summary["lost"]}, lookup p50/p99 {summary["lookup_p50_ms_all"]}/{summary["lookup_p99_ms_all"]} ms</text>']  # fmt: skip
    xs = [r["minute"] for r in rows] or [0.0]
    for k, (title, keys) in enumerate(charts):
        ox, oy = (k % 2) * w, (k // 2) * h
        values = [r[key] for r in rows for key in keys if r[key] == r[key]]  # skip NaN
        top = max(values) * 1.1 if values and max(values) > 0 else 1.0
        parts.append(f'<text x="{ox + pad}" y="{oy + 15}" font-weight="bold">{title}</text>')
        parts.append(f'<rect x="{ox + pad}" y="{oy + 20}" width="{w - 2 * pad}" height="{h - 60}" fill="none" stroke="#999"/>')
        parts.append(f'<text x="{ox + 2}" y="{oy + 28}">{top:.0f}</text><text x="{ox + 20}" y="{oy + h - 38}">0</text>')
        parts.append(f'<text x="{ox + w - pad - 40}" y="{oy + h - 25}">{xs[-1]:.0f} min</text>')
        for key, colour in zip(keys, colours, strict=False):
            points = " ".join(
                f"{ox + pad + (r['minute'] / (xs[-1] or 1)) * (w - 2 * pad):.1f},{oy + 20 + (h - 60) * (1 - r[key] / top):.1f}"
                for r in rows if r[key] == r[key]
            )  # fmt: skip
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    parts.append("</svg>\n")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=2000, help="records/s in all")
    parser.add_argument("--sdk-senders", type=int, default=2)
    parser.add_argument("--exporter-senders", type=int, default=2)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per measured row")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "soak", help="writes <out>.json and <out>.svg")
    args = parser.parse_args()
    result = run(args.minutes, args.rate, args.sdk_senders, args.exporter_senders, args.window, args.out)
    sys.exit(1 if result["summary"]["lost"] else 0)


if __name__ == "__main__":
    main()
