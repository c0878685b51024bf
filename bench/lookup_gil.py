"""Benchmark: does the collector's Python work in the same process slow a lookup (the GIL)?

    .venv/bin/python bench/lookup_gil.py [--rows 200000] [--lookups 100]

In one process, on an embedded store holding `--rows` generated records (bench/lookup.py's
rows, ~10 per subject, 365 days): `LogStore.find` subject lookups (the read API's store call,
first-time subjects), taking turns lookup by lookup over these conditions:
- idle, at the interpreter switch interval of CPython (5 ms) and of `ldv serve` (1 ms);
- beside a thread running the collector's `Ingester` (decode and check 512-span OTLP bodies,
  as the collector's worker threads do), at 5, 1 and 0.5 ms;
- beside a process running the same `Ingester` (CPU contention without a shared GIL: what
  moving the decode and check into worker processes would leave).
Prints find's p50/p95 per condition and the ratios to idle. The engine releases the GIL
during a query; the rest of a lookup (binding, reading the rows, building the records) needs it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

from lookup import _GENERATED_ROWS, p  # bench/lookup.py
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ldv_collector import CollectorSettings
from ldv_collector._ingest import Ingester
from ldv_logboek.storage import LogStore, RecordQuery
from ldv_logboek.storage._schema import RECORDS_TABLE
from ldv_suite.synthetic import synthetic_bodies

# (switch interval in ms, where the ingest runs: None idle, "thread" in this process, "process" beside it)
CONDITIONS: list[tuple[float, str | None]] = [(5, None), (5, "thread"), (1, None), (1, "thread"), (0.5, "thread"), (5, "process")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="generated records in the store")
    parser.add_argument("--lookups", type=int, default=100, help="lookups per condition")
    args = parser.parse_args()
    store = LogStore.open(f"chdb://{tempfile.mkdtemp(prefix='lookup-gil')}", readers=2)
    store.migrate()
    store.client.command(_GENERATED_ROWS.format(rows=args.rows, subjects=max(1, args.rows // 10)))
    store.client.command(f"OPTIMIZE TABLE {RECORDS_TABLE} FINAL")
    subjects = [row[0] for row in store.client.query(
        f"SELECT DataSubjectId FROM {RECORDS_TABLE} GROUP BY DataSubjectId ORDER BY cityHash64(DataSubjectId) "
        f"LIMIT {len(CONDITIONS) * args.lookups}"
    ).result_rows]  # fmt: skip
    bodies = [ExportTraceServiceRequest.FromString(b).SerializeToString() for b in synthetic_bodies(5120, 512, seed=1, subjects=1000)]
    ingester = Ingester(CollectorSettings())
    if not len(ingester.ingest(ExportTraceServiceRequest.FromString(bodies[0]))):
        raise RuntimeError("the ingester stored none of the synthetic spans")

    in_thread, in_process, stop = threading.Event(), multiprocessing.get_context("fork").Event(), threading.Event()
    process_stop = multiprocessing.get_context("fork").Event()
    ingested = [0]

    def ingest_in_thread() -> None:
        i = 0
        while not stop.is_set():
            if in_thread.wait(0.05):
                ingester.ingest(ExportTraceServiceRequest.FromString(bodies[i % len(bodies)]))
                i += 1
                ingested[0] += 512

    def ingest_in_process() -> None:
        i = 0
        while not process_stop.is_set():
            if in_process.wait(0.05):
                ingester.ingest(ExportTraceServiceRequest.FromString(bodies[i % len(bodies)]))
                i += 1

    thread = threading.Thread(target=ingest_in_thread, daemon=True)
    thread.start()
    process = multiprocessing.get_context("fork").Process(target=ingest_in_process, daemon=True)
    process.start()
    ms: dict[tuple[float, str | None], list[float]] = {c: [] for c in CONDITIONS}
    try:
        for i, subject in enumerate(subjects):
            interval, where = condition = CONDITIONS[i % len(CONDITIONS)]
            sys.setswitchinterval(interval / 1000)
            (in_thread.set if where == "thread" else in_thread.clear)()
            (in_process.set if where == "process" else in_process.clear)()
            time.sleep(0.02)  # the ingest under way before the lookup starts
            start = time.perf_counter()
            page = store.find(RecordQuery(data_subject_id=subject))
            ms[condition].append((time.perf_counter() - start) * 1000)
            if not page.records:
                raise RuntimeError(f"no records for {subject}")
    finally:
        stop.set()
        process_stop.set()
        thread.join()
        process.join()
        store.close()
    print(f"{args.rows:,} records, {args.lookups} first-time subject lookups per condition, the ingest thread "
          f"checked {ingested[0]:,} spans; load {Path('/proc/loadavg').read_text().split()[0]} on 2 cores")  # fmt: skip
    for (interval, where), values in ms.items():
        idle = ms[(interval if (interval, None) in ms else 1, None)]
        ratio = "" if where is None else f" ({p(values, .5) / p(idle, .5):.2f}x, {p(values, .95) / p(idle, .95):.2f}x idle)"
        print(f"switch interval {interval:g} ms, {'idle' if where is None else 'ingest in a ' + where}: "
              f"find p50 {p(values, .5):.2f} ms, p95 {p(values, .95):.2f} ms{ratio}")  # fmt: skip


if __name__ == "__main__":
    main()
