"""Soak: `ldv serve` under a steady, realistic load for a long time, measured every minute.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 2000] [--sdk-senders 2] [--exporter-senders 2]
                                   [--window 60] [--pause-minutes 2] [--out docs/soak]

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
  return when the group commit has stored the batch), and the CPU `ldv serve` used per record
  stored in the window (all its threads, chDB's included, from /proc).
- Then senders stop and the SDK spools drain; for `--pause-minutes` nothing is ingested while
  the lookups and dashboard queries go on, one row per window (`"phase": "pause"`): does memory
  stay put when ingest pauses?
- At the end every acknowledged record is counted back (exporter: every acknowledged span id,
  by the ClickHouse endpoint; SDK: every processing that returned, by count), plus the
  duplicates stored (retries; every read shows them once).
- Prints issue #20's soak measures, each with met/MISSED (`measures`), and writes `<out>.json`
  (rows, summary, measures) and `<out>.svg` (a plot without any plotting library).

The measures, as computed here (warm-up: the first `--warmup-minutes`, default a sixth of the
run, at most 5 minutes):
- RSS growth after warm-up <= 100 MiB per million records stored: the highest RSS of the
  ingest rows after warm-up minus the RSS at the end of warm-up, per million records stored
  meanwhile; and in the pause, the last row's RSS minus the RSS when it began <= 16 MiB (the
  allocator's noise; "not at all" in the issue).
- Open files reach a plateau: the most open files in the last third of the run <= 1.1x the
  most in the middle third.
- Lookup p99 <= 2x its p50 in every window after warm-up.
- Lookup p50 and p99 of the last third of the run (all its lookups) <= 1.2x the first third's.
- Nothing lost: every acknowledged record counted back.

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
ID_SLICES = 16  # the count-back reads the exporter's span ids in this many queries (~200k rows each at 30 min)
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
    """Runs `call(client)` once a second; keeps (monotonic time, ms, ok) of each call.

    One `httpx.Client` per probe, kept open as a browser or the inzage keeps its connection:
    a client made per call (`httpx.post`) builds an SSL context each time, ~45 ms of the
    bench's own CPU on a quiet machine (more under load), which the first soak measured as
    the server's lookup time. `offset` is the call's place within each second: the lookup
    and the dashboard query run half a second apart, not always at the same instant.
    """

    def __init__(self, call: Any, offset: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.offset = offset
        self.samples: list[tuple[float, float, bool]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stopping.wait(1.0 - ((time.monotonic() - self.offset) % 1.0)):
                self._once(client)

    def _once(self, client: httpx.Client) -> None:
        began = time.monotonic()
        try:
            ok = self.call(client)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ch(serve: ServeProcess, sql: str, user: str = "telling") -> str:
    response = httpx.post(f"http://127.0.0.1:{serve.clickhouse_port}/", content=sql.encode(),
                          auth=(user, USERS[user]["password"]), timeout=120)  # fmt: skip
    response.raise_for_status()
    return response.text


def collector_counts(serve: ServeProcess) -> dict[str, int]:
    """The collector's counters (`/metrics`), by name without the `ldv_collector_` prefix and `_total`."""
    text = httpx.get(f"http://127.0.0.1:{serve.otlp_port}/metrics", timeout=10).text
    counts: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("ldv_collector_") and name.endswith("_total"):
            counts[name.removeprefix("ldv_collector_").removesuffix("_total")] = int(float(value))
    return counts


def stored_count(serve: ServeProcess) -> int:
    return collector_counts(serve)["spans_stored"]


def run(
    minutes: float,
    rate: int,
    sdk_senders: int,
    exporter_senders: int,
    window: float,
    out: Path | None,
    pause_minutes: float = 0.0,
    warmup_minutes: float | None = None,
) -> dict[str, Any]:
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

    def citizen_lookup(client: httpx.Client) -> bool:
        # A subject the services have logged by now (busy_service numbers its subjects from 100000000).
        # A subject the services have logged by now: well below what they were asked to have done.
        n = random.randrange(max(1, int((time.monotonic() - started) * per_sdk * 0.3)) + 1)
        token = serve.signer.token(roles=["citizen"], bsn=citizen_bsn(n))
        response = client.post(f"{serve.api_url}/lezenapi/v1/processing-activities", json={attr.PROCESSING_ACTIVITY_ID: sdk_activity},
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        if response.status_code == 200 and not response.json()["processingActivities"]:
            empty_lookups.append(n)  # not logged yet (a slow machine): answered, but not the lookup meant
        return response.status_code == 200

    def dashboard(client: httpx.Client) -> bool:
        response = client.post(f"http://127.0.0.1:{serve.clickhouse_port}/", content=DASHBOARD_SQL.encode(),
                               auth=("dashboard", "dashboard-pw"))  # fmt: skip
        return response.status_code == 200

    lookups, dashboards = Probe(citizen_lookup), Probe(dashboard, offset=0.5)
    lookups.start()
    dashboards.start()
    # The table's directory, from its metadata (ATTACH TABLE _ UUID '...'): system.parts is not served.
    uuid = (work / "data" / "metadata" / "default" / "otel_traces.sql").read_text().split("'")[1]
    table_dir = work / "data" / "store" / uuid[:3] / uuid
    rows: list[dict[str, Any]] = []
    assert serve.proc is not None
    pid = serve.proc.pid
    counts = collector_counts(serve)
    last = {"stored": counts["spans_stored"], "cpu": cpu_seconds(pid), "requests": counts["requests"], "inserts": counts["inserts"]}

    def measure_window(since: float, phase: str) -> None:
        assert serve.proc is not None and serve.proc.poll() is None, "ldv serve died"
        rss, files = proc_figures(pid)
        latencies = [float(ms) for i in range(exporter_senders)
                     for t, ms in (line.split() for line in _lines(work / f"exporter-{i}" / "latency.txt"))
                     if float(t) >= since]  # fmt: skip
        look, dash = lookups.window(since), dashboards.window(since)
        counts, cpu = collector_counts(serve), cpu_seconds(pid)
        stored = counts["spans_stored"]
        row = {
            "minute": round((time.monotonic() - started) / 60, 2), "phase": phase,
            "rss_mib": round(rss, 1), "open_files": files,
            "parts_on_disk": sum(1 for p in table_dir.iterdir() if p.name.startswith("all_")) if table_dir.is_dir() else -1,
            "stored": stored,
            "lookup_p50_ms": round(percentile(look, 0.5), 1), "lookup_p99_ms": round(percentile(look, 0.99), 1),
            "dashboard_p50_ms": round(percentile(dash, 0.5), 1), "dashboard_p99_ms": round(percentile(dash, 0.99), 1),
            "ingest_p50_ms": round(percentile(latencies, 0.5), 1), "ingest_p99_ms": round(percentile(latencies, 0.99), 1),
            "lookups": len(look), "cpu_s": round(cpu - last["cpu"], 2),
            "requests": counts["requests"] - last["requests"], "inserts": counts["inserts"] - last["inserts"],
            "cpu_us_per_record": round(1e6 * (cpu - last["cpu"]) / (stored - last["stored"]), 1) if stored > last["stored"] else None,
        }  # fmt: skip
        last.update(stored=stored, cpu=cpu, requests=counts["requests"], inserts=counts["inserts"])
        rows.append(row)
        print(json.dumps(row), flush=True)

    end = started + minutes * 60
    try:
        next_row = started + window
        while time.monotonic() < end:
            time.sleep(max(0.0, min(next_row, end) - time.monotonic()))
            measure_window(next_row - window, "ingest")
            next_row += window
        stop.touch()
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
        # The pause: nothing is ingested, the lookups and dashboard queries go on.
        paused = time.monotonic()
        counts = collector_counts(serve)
        last.update(stored=counts["spans_stored"], cpu=cpu_seconds(pid), requests=counts["requests"], inserts=counts["inserts"])
        pause_rss = proc_figures(pid)[0]
        next_row = paused + window
        while time.monotonic() < paused + pause_minutes * 60:
            time.sleep(max(0.0, min(next_row, paused + pause_minutes * 60) - time.monotonic()))
            measure_window(next_row - window, "pause")
            next_row += window
    finally:
        stop.touch()
        lookups.stopping.set()
        dashboards.stopping.set()
    # In slices: the endpoint answers at most a million rows (max_result_rows), and a 30-minute
    # run acknowledges more exporter spans than that.
    exporter_ids: set[str] = set()
    for part in range(ID_SLICES):
        exporter_ids.update(ch(serve, f"SELECT DISTINCT SpanId FROM otel_traces WHERE ProcessingActivityId = '{exporter_activity}' "
                                      f"AND cityHash64(SpanId) % {ID_SLICES} = {part} FORMAT TabSeparated").split())  # fmt: skip
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
        "rss_mib_end": round(rss, 1), "open_files_end": files, "rss_mib_pause_start": round(pause_rss, 1),
    }  # fmt: skip
    print(json.dumps(summary), flush=True)
    warmup = min(5.0, minutes / 6) if warmup_minutes is None else warmup_minutes
    found = measures(rows, summary, lookups.samples, started, minutes, warmup)
    for line in found:
        print(f"{line['measure']}: {line['value']} (target {line['target']}): {'met' if line['met'] else 'MISSED'}", flush=True)
    result = {"rows": rows, "summary": summary, "measures": found}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        out.with_suffix(".svg").write_text(svg(rows, summary))
    return result


def measures(
    rows: list[dict[str, Any]],
    summary: dict[str, Any],
    samples: list[tuple[float, float, bool]],
    started: float,
    minutes: float,
    warmup_minutes: float,
) -> list[dict[str, Any]]:
    """Issue #20's soak measures from the rows and the lookups' samples (see the module docstring)."""
    ingest = [r for r in rows if r["phase"] == "ingest"]
    pause = [r for r in rows if r["phase"] == "pause"]
    found: list[dict[str, Any]] = []

    def add(measure: str, value: str, target: str, met: bool) -> None:
        found.append({"measure": measure, "value": value, "target": target, "met": bool(met)})

    warm = [r for r in ingest if r["minute"] <= warmup_minutes + 1e-6]
    after = [r for r in ingest if r["minute"] > warmup_minutes + 1e-6]
    if warm and after:
        start = warm[-1]
        grown = max(r["rss_mib"] for r in after) - start["rss_mib"]
        millions = (after[-1]["stored"] - start["stored"]) / 1e6
        per_million = grown / millions if millions > 0 else float("inf")
        add("RSS growth after warm-up per million records stored",
            f"{per_million:.1f} MiB ({grown:+.1f} MiB over {millions:.2f} M records, from {start['rss_mib']:.0f} MiB at minute {start['minute']})",
            "<= 100 MiB", per_million <= 100)  # fmt: skip
    if pause:
        grown = pause[-1]["rss_mib"] - summary["rss_mib_pause_start"]
        add("RSS growth while ingest pauses", f"{grown:+.1f} MiB over {len(pause)} window(s)", "<= 16 MiB (none)", grown <= 16)
    third = len(ingest) // 3
    if third:
        middle, final = ingest[third : 2 * third], ingest[2 * third :]
        top_middle, top_last = max(r["open_files"] for r in middle), max(r["open_files"] for r in final)
        add("open files: most in the last third / most in the middle third", f"{top_last} / {top_middle} = {top_last / top_middle:.2f}",
            "<= 1.1 (a plateau)", top_last <= 1.1 * top_middle)  # fmt: skip
    windows = [r for r in after if r["lookups"]]
    if windows:
        worst = max(windows, key=lambda r: r["lookup_p99_ms"] / r["lookup_p50_ms"])
        held = sum(1 for r in windows if r["lookup_p99_ms"] <= 2 * r["lookup_p50_ms"])
        add("lookup p99 / p50 per window after warm-up",
            f"held in {held} of {len(windows)} windows; worst {worst['lookup_p99_ms'] / worst['lookup_p50_ms']:.2f}x "
            f"(minute {worst['minute']}: p50 {worst['lookup_p50_ms']} ms, p99 {worst['lookup_p99_ms']} ms)",
            "<= 2x in every window", held == len(windows))  # fmt: skip
    span = minutes * 60 / 3
    first = [ms for t, ms, ok in samples if ok and t - started < span]
    last = [ms for t, ms, ok in samples if ok and 2 * span <= t - started < 3 * span]
    if first and last:
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            ratio = percentile(last, q) / percentile(first, q)
            add(f"lookup {name}, last third / first third",
                f"{percentile(last, q):.1f} / {percentile(first, q):.1f} ms = {ratio:.2f}x", "<= 1.2x", ratio <= 1.2)
    add("acknowledged records lost", str(summary["lost"]), "0", summary["lost"] == 0)
    return found


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
    parser.add_argument("--pause-minutes", type=float, default=2.0, help="minutes without ingest at the end (memory must stay put)")
    parser.add_argument("--warmup-minutes", type=float, default=None, help="default: a sixth of the run, at most 5")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "soak", help="writes <out>.json and <out>.svg")
    args = parser.parse_args()
    result = run(args.minutes, args.rate, args.sdk_senders, args.exporter_senders, args.window, args.out,
                 pause_minutes=args.pause_minutes, warmup_minutes=args.warmup_minutes)  # fmt: skip
    sys.exit(1 if result["summary"]["lost"] else 0)


if __name__ == "__main__":
    main()
