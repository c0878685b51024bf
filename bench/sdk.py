"""Benchmark of the SDK: cost per processing against a bare OpenTelemetry span, and spool throughput.

    .venv/bin/python bench/sdk.py [--n 20000] [--rounds 5]

A processing here is: `@verwerking` + 1 data subject + pseudonymisation (HMAC) + BSN guard +
the standard's checks + the durable spool write (SQLite WAL, one commit per record). The
baseline, in the same run and interleaved round by round, is `tracer.start_as_current_span`
with the same three attributes on an OpenTelemetry SDK TracerProvider, both with no span
processor and with the usual BatchSpanProcessor (its exporter does nothing). Targets: at most
2x the bare span; a spool of at least 20k records/s on one core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ldv_logboek import attributes as attr
from ldv_logboek.pseudonym import pseudonymise
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import ldv_sdk
from ldv_sdk.spool import Spool

KEY = b"bench-organisation-key-0123456789"
BSN = "123456782"
ACTIVITY = "https://register.example/verwerkingsactiviteiten/huurtoeslag"


class _Discard(SpanExporter):
    def export(self, spans):  # type: ignore[no-untyped-def]
        return SpanExportResult.SUCCESS


def per_call_us(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ldv-bench-"))

    runtime = ldv_sdk.configure(
        organisation="dienst-toeslagen",
        service_name="bench",
        pseudonym_key=KEY,
        spool_path=tmp / "spool.sqlite3",
        spool_max_records=10 * args.n * args.rounds,
        start_sender=False,  # measure the processing's own cost; the sender runs on its own thread
    )

    @ldv_sdk.verwerking(ACTIVITY, "huurtoeslag berekenen", subject="bsn")
    def verwerk(bsn: str) -> None:
        return None

    same_attributes = {
        attr.PROCESSING_ACTIVITY_ID: ACTIVITY,
        attr.DATA_SUBJECT_ID: pseudonymise(BSN, KEY),
        attr.DATA_SUBJECT_ID_TYPE: "BSN",
    }
    plain = TracerProvider().get_tracer("bench")
    batch_provider = TracerProvider()
    batch_provider.add_span_processor(BatchSpanProcessor(_Discard(), max_queue_size=10 * args.n))
    batched = batch_provider.get_tracer("bench")

    def bare() -> None:
        with plain.start_as_current_span("huurtoeslag berekenen", attributes=same_attributes):
            pass

    def bare_batch() -> None:
        with batched.start_as_current_span("huurtoeslag berekenen", attributes=same_attributes):
            pass

    def ldv() -> None:
        verwerk(BSN)

    results: dict[str, list[float]] = {"bare span": [], "bare span + BatchSpanProcessor": [], "ldv processing": []}
    for fn in (bare, bare_batch, ldv):  # warm-up
        per_call_us(fn, 1000)
    for _ in range(args.rounds):
        results["bare span"].append(per_call_us(bare, args.n))
        results["bare span + BatchSpanProcessor"].append(per_call_us(bare_batch, args.n))
        results["ldv processing"].append(per_call_us(ldv, args.n))
    batch_provider.shutdown()
    spooled = len(runtime.spool) if runtime.spool is not None else 0
    ldv_sdk.shutdown(timeout=0)

    median = {k: statistics.median(v) for k, v in results.items()}
    print(f"cost per processing (median of {args.rounds} rounds x {args.n} calls, one thread)")
    for name, us in median.items():
        print(f"  {name:34s} {us:8.2f} us")
    ratio_bare = median["ldv processing"] / median["bare span"]
    ratio_batch = median["ldv processing"] / median["bare span + BatchSpanProcessor"]
    print(f"  ratio ldv / bare span                {ratio_bare:8.2f}x")
    print(f"  ratio ldv / bare span + batch        {ratio_batch:8.2f}x   (target <= 2x)")
    print(f"  records spooled durably              {spooled}")

    body = (
        '{"trace_id":"' + "a" * 32 + '","span_id":"' + "b" * 16 + '","parent_span_id":"","name":"huurtoeslag berekenen",'
        '"kind":"Internal","trace_state":"","start_time_ns":1,"end_time_ns":2,"status":"Unset","status_message":"",'
        '"attributes":{"dpl.core.processing_activity_id":"' + ACTIVITY + '","dpl.core.data_subject_id":"hmac-sha256:'
        + "c" * 64 + '","dpl.core.data_subject_id_type":"BSN"},"resource":{"service.name":"bench",'
        '"dpl.suite.organisation":"dienst-toeslagen"},"scope":["ldv_sdk","0.1.0"],"events":[]}'
    )
    spool = Spool(tmp / "throughput.sqlite3", max_records=10**9)
    n = args.n * 2
    t0 = time.perf_counter()
    for _ in range(n):
        spool.put(body)
    single = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(n // 500):
        spool.put_many([body] * 500)
    batched_rate = (n // 500) * 500 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    drained = 0
    while True:
        items = spool.peek(512)
        if not items:
            break
        spool.ack(item.seq for item in items)
        drained += len(items)
    drain = drained / (time.perf_counter() - t0)
    spool.close()
    print("spool throughput (SQLite WAL, synchronous=NORMAL, one core)")
    print(f"  put, one commit per record           {single:10,.0f} records/s   (target >= 20,000)")
    print(f"  put_many, 500 per commit             {batched_rate:10,.0f} records/s")
    print(f"  peek + ack (the sender's side)       {drain:10,.0f} records/s")
    ok = ratio_batch <= 2.0 and single >= 20_000
    print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
