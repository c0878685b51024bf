"""Benchmark of the SDK: cost per processing against the same span exported by plain OpenTelemetry.

    .venv/bin/python bench/sdk.py [--n 20000] [--rounds 5]

A processing here is: `@verwerking` + 1 data subject + pseudonymisation (HMAC) + BSN guard +
the standard's checks + OpenTelemetry's OTLP encoding + the durable spool write (one write()
of a CRC-framed record to the append-only segment file: in the page cache, so SIGKILL-safe,
when the processing returns). The baseline, in the same run and interleaved round by round,
is what a service pays today for an exported OpenTelemetry span: `tracer.start_as_current_span`
with the same three attributes on an OpenTelemetry SDK TracerProvider with the usual
BatchSpanProcessor, whose exporter encodes each batch with the official OTLP encoder
(`opentelemetry-exporter-otlp-proto-common`'s `encode_spans`, as the OTLP exporters do) and
sends nothing; each round ends with `force_flush`, inside the timing, so every span is encoded.
The bare span without a processor is printed for reference.

Every figure is the median over the rounds of (time for `--n` calls) / n, measured both as
CPU time of the process (time.process_time: all threads, so the BatchSpanProcessor's worker
counts) and as elapsed time (time.perf_counter). The machine is shared, so CPU time is the
figure the targets are judged on. Targets: a processing logged durably costs no more than the
exported span (CPU); a spool of at least 20k records/s on one core.

The breakdown section runs the same decorated function with parts of the pipeline swapped
out (diagnostics only, never part of a real processing) to show where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_sdk import Spool

KEY = b"bench-organisation-key-0123456789"
BSN = "123456782"
ACTIVITY = "https://register.example/verwerkingsactiviteiten/huurtoeslag"


class _EncodeOtlp(SpanExporter):
    """What an OTLP exporter does to a batch before it sends: the official protobuf encoding."""

    def __init__(self) -> None:
        self.bytes = 0

    def export(self, spans):  # type: ignore[no-untyped-def]
        self.bytes += len(encode_spans(spans).SerializeToString())
        return SpanExportResult.SUCCESS


def per_call_us(fn: Callable[[], object], n: int, after: Callable[[], object] | None = None) -> tuple[float, float]:
    """(CPU time, elapsed time) per call of `fn`, in microseconds, over `n` calls (and `after` once, timed)."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    if after is not None:
        after()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return cpu / n * 1e6, wall / n * 1e6


def rate_per_s(fn: Callable[[], int]) -> tuple[float, float]:
    """(records per CPU second, records per elapsed second) of `fn`, which returns how many it handled."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    done = fn()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return done / cpu, done / wall


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
    encoder = _EncodeOtlp()
    batch = BatchSpanProcessor(encoder, max_queue_size=10 * args.n)
    batch_provider.add_span_processor(batch)
    batched = batch_provider.get_tracer("bench")

    def bare() -> None:
        with plain.start_as_current_span("huurtoeslag berekenen", attributes=same_attributes):
            pass

    def bare_batch() -> None:
        with batched.start_as_current_span("huurtoeslag berekenen", attributes=same_attributes):
            pass

    def ldv() -> None:
        verwerk(BSN)

    def ldv_without_spool_write() -> None:
        verwerk(BSN)

    def ldv_without_pipeline() -> None:
        verwerk(BSN)

    cases: dict[str, tuple[Callable[[], None], Callable[[], object] | None]] = {
        "bare span": (bare, None),
        "span exported by OpenTelemetry": (bare_batch, batch.force_flush),
        "ldv processing": (ldv, None),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for fn, after in cases.values():  # warm-up
        per_call_us(fn, 1000, after)
    for _ in range(args.rounds):
        for name, (fn, after) in cases.items():
            results[name].append(per_call_us(fn, args.n, after))
    spooled = len(runtime.spool) if runtime.spool is not None else 0

    # Diagnostics: the same processing without the spool's append, then the whole record
    # pipeline (span -> record, protect, checks, OTLP protobuf, spool) replaced by nothing.
    breakdown: dict[str, list[tuple[float, float]]] = {"without the spool write": [], "without the record pipeline": []}
    spool_under_test = runtime.spool
    assert spool_under_test is not None
    exporter = runtime.exporter
    for _ in range(args.rounds):
        spool_under_test.put = lambda body: None  # type: ignore[method-assign]
        breakdown["without the spool write"].append(per_call_us(ldv_without_spool_write, args.n))
        exporter.write = lambda span: None  # type: ignore[method-assign]
        breakdown["without the record pipeline"].append(per_call_us(ldv_without_pipeline, args.n))
        del spool_under_test.put  # back to the class's method
        del exporter.write
    batch_provider.shutdown()

    def med(samples: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(c for c, _ in samples), statistics.median(w for _, w in samples)

    median = {k: med(v) for k, v in results.items()}
    parts = {k: med(v) for k, v in breakdown.items()}
    print(f"cost per processing (median of {args.rounds} rounds x {args.n} calls, one thread)")
    print(f"  {'':34s} {'CPU':>9s} {'elapsed':>9s}")
    for name, (cpu, wall) in median.items():
        print(f"  {name:34s} {cpu:6.2f} us {wall:6.2f} us")
    ldv_cpu, ldv_wall = median["ldv processing"]
    bare_cpu, bare_wall = median["bare span"]
    batch_cpu, batch_wall = median["span exported by OpenTelemetry"]
    ratio = ldv_cpu / batch_cpu
    print(f"  ratio ldv / exported span            {ratio:6.2f}x   {ldv_wall / batch_wall:6.2f}x     (target <= 1x, CPU)")
    print(f"  ratio ldv / bare span                {ldv_cpu / bare_cpu:6.2f}x   {ldv_wall / bare_wall:6.2f}x")
    print(f"  records spooled durably              {spooled}")
    no_spool, no_pipeline = parts["without the spool write"], parts["without the record pipeline"]
    print("where an ldv processing's time goes (CPU, by difference; diagnostics)")
    print(f"  span, context, subject (HMAC), finish  {no_pipeline[0]:6.2f} us   (the bare span is {bare_cpu:.2f} us)")
    print(f"  record: build, protect, checks, OTLP   {no_spool[0] - no_pipeline[0]:6.2f} us")
    print(f"  spool write (append to segment log)    {ldv_cpu - no_spool[0]:6.2f} us")

    body = spool_under_test.peek(1)[0].body  # what the SDK spooled for one processing
    spool = Spool(tmp / "throughput.sqlite3", max_records=10**9)  # + throughput.sqlite3.segments/
    n = args.n * 2

    def put_single() -> int:
        for _ in range(n):
            spool.put(body)
        return n

    def put_batched() -> int:
        for _ in range(n // 500):
            spool.put_many([body] * 500)
        return (n // 500) * 500

    def drain() -> int:
        drained = 0
        while True:
            items = spool.peek(512)
            if not items:
                return drained
            spool.ack(item.seq for item in items)
            drained += len(items)

    single, single_wall = rate_per_s(put_single)
    batched_rate, batched_wall = rate_per_s(put_batched)
    drain_rate, drain_wall = rate_per_s(drain)
    spool.close()
    ldv_sdk.shutdown(timeout=0)
    print("spool throughput (segment log, sync=normal, one thread), records per CPU second / elapsed second")
    print(f"  put, one write() per record          {single:10,.0f} {single_wall:10,.0f}   (target >= 20,000)")
    print(f"  put_many, 500 per write()            {batched_rate:10,.0f} {batched_wall:10,.0f}")
    print(f"  peek + ack (sender; 1 commit/batch)  {drain_rate:10,.0f} {drain_wall:10,.0f}")
    ok = ratio <= 1.0 and min(single, single_wall) >= 20_000
    print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
