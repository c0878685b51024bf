"""Benchmark: citizen lookups idle and while a sender ingests, with and without reader connections.

    .venv/bin/python bench/readers.py [--records 200000] [--days 365] [--lookups 300] [--readers 4]

For each mode, on a fresh embedded store filled with the same `records` records of `subjects`
citizens spread over `days` days (inserted before timing, in 10,000-record batches):

- `readers=0`: every read shares the writer's connection and lock (the store before reads
  got connections of their own: one chDB handle for the collector and the APIs);
- `readers=N`: reads take one of N reader connections, the writer has its own.

It times `lookups` subject lookups (`LogStore.find`, one citizen's first page of 100, a random
citizen each time) idle, then again while one sender thread keeps inserting `batch`-record
batches (the collector's group commit) at up to `rate` records per second, and prints p50/p95
of each, the ratio under ingest to idle, and how many records the sender stored per second
meanwhile (an insert must not slow down either). The lookups and the sender share this
process and its GIL, as the APIs and the collector do in `ldv serve`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, RecordQuery

ACTIVITY = "https://register.example/processing-activities/huurtoeslag"
RESOURCE = {attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: "dienst-toeslagen"}
_NS_PER_DAY = 86_400 * 1_000_000_000


def subject(n: int) -> str:
    return f"hmac-sha256:{n:064x}"


def records(count: int, subjects: int, days: int, rng: random.Random, *, now_ns: int) -> list[LogRecord]:
    """`count` records of random citizens at random times over the last `days` days."""
    out = []
    for _ in range(count):
        start = now_ns - rng.randrange(days * _NS_PER_DAY)
        out.append(
            LogRecord(
                trace_id=os.urandom(16),
                span_id=os.urandom(8),
                name="huurtoeslag berekenen",
                start_time_ns=start,
                end_time_ns=start + 2_000_000,
                attributes={
                    attr.PROCESSING_ACTIVITY_ID: ACTIVITY,
                    attr.DATA_SUBJECT_ID: subject(rng.randrange(subjects)),
                    attr.DATA_SUBJECT_ID_TYPE: "BSN",
                },
                resource_attributes=RESOURCE,
            )
        )
    return out


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class ModeResult:
    readers: int
    idle: list[float]
    busy: list[float]
    ingested_per_s: float


def lookups(store: LogStore, count: int, subjects: int, rng: random.Random) -> list[float]:
    latencies = []
    for _ in range(count):
        query = RecordQuery(data_subject_id=subject(rng.randrange(subjects)), limit=100)
        started = time.perf_counter()
        store.find(query)
        latencies.append(time.perf_counter() - started)
    return latencies


def run_mode(readers: int, args: argparse.Namespace, data_dir: Path) -> ModeResult:
    rng = random.Random(11)  # the same records, citizens and lookups in every mode
    now_ns = time.time_ns()
    store = LogStore.open(f"chdb://{data_dir}", readers=readers)
    try:
        store.migrate()
        for start in range(0, args.records, 10_000):
            store.insert(records(min(10_000, args.records - start), args.subjects, args.days, rng, now_ns=now_ns))
        # The sender's batches are made before timing: what is measured is the store, not record building.
        sender_batches = [records(args.batch, args.subjects, 1, rng, now_ns=now_ns) for _ in range(8)]
        lookups(store, 20, args.subjects, rng)  # warm: open the readers, load the marks
        idle = lookups(store, args.lookups, args.subjects, rng)

        stop = threading.Event()
        stored = [0]

        def send() -> None:
            interval = args.batch / args.rate
            i = 0
            while not stop.is_set():
                due = time.perf_counter() + interval
                store.insert(sender_batches[i % len(sender_batches)])
                stored[0] += args.batch
                i += 1
                time.sleep(max(0.0, due - time.perf_counter()))

        sender = threading.Thread(target=send)
        sender_started = time.perf_counter()
        sender.start()
        time.sleep(0.2)  # the sender is inserting
        busy = lookups(store, args.lookups, args.subjects, rng)
        stop.set()
        sender.join()
        ingested_per_s = stored[0] / (time.perf_counter() - sender_started)
        return ModeResult(readers, idle, busy, ingested_per_s)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--readers", type=int, default=4, help="reader connections of the 'after' mode")
    parser.add_argument("--batch", type=int, default=2_000, help="records per insert of the sender")
    parser.add_argument("--rate", type=float, default=20_000, help="records per second the sender tries to insert")
    args = parser.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory(prefix="ldv-bench-readers-") as tmp:
        for readers in (0, args.readers):
            results.append(run_mode(readers, args, Path(tmp) / f"readers-{readers}"))

    print(
        f"{args.records} records, {args.subjects} citizens over {args.days} days; {args.lookups} lookups per figure; "
        f"sender: {args.batch}-record inserts, up to {args.rate:,.0f}/s; {os.cpu_count()} cores"
    )
    print(f"{'':24}{'idle p50':>10}{'p95':>8}{'ingest p50':>12}{'p95':>8}{'p95 ratio':>11}{'stored/s':>10}")
    for r in results:
        label = "readers=0 (shared)" if r.readers == 0 else f"readers={r.readers}"
        idle50, idle95 = percentile(r.idle, 50) * 1000, percentile(r.idle, 95) * 1000
        busy50, busy95 = percentile(r.busy, 50) * 1000, percentile(r.busy, 95) * 1000
        print(
            f"{label:24}{idle50:>8.1f}ms{idle95:>6.1f}ms{busy50:>10.1f}ms{busy95:>6.1f}ms"
            f"{busy95 / idle95:>10.2f}x{r.ingested_per_s:>10,.0f}"
        )
    before, after = results
    print(
        f"under ingest, p95 with readers vs shared: {percentile(after.busy, 95) / percentile(before.busy, 95):.2f}x; "
        f"target p95 under ingest <= 1.5x idle: "
        f"{'met' if percentile(after.busy, 95) <= 1.5 * percentile(after.idle, 95) else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
