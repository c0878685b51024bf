"""The official OTLP/HTTP exporter in a process of its own, at a steady rate, for the soak run.

    python -m tests.faults.exporter_process ENDPOINT ACTIVITY RATE STOP_FILE OUT_DIR

Exports batches of 100 spans at RATE spans/s (the exporter's own retries; a batch whose retries
ran out is exported again) until STOP_FILE exists. Appends `monotonic_s latency_ms` per
acknowledged batch to OUT_DIR/latency.txt as it goes, and at the end writes the acknowledged
span ids to OUT_DIR/acked.txt and prints "ok".
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.faults.traffic import OtelExporterSender

endpoint, activity, rate, stop_file, out_dir = sys.argv[1:6]
out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)
size = 100
interval = size / float(rate)
maker = OtelExporterSender(lambda: endpoint, size=size, activity=activity)
exporter = OTLPSpanExporter(endpoint=endpoint, timeout=10)
acked: list[str] = []
stop = Path(stop_file)
started = time.monotonic()
sent = 0
with (out / "latency.txt").open("a", buffering=1) as latencies:
    while not stop.exists():
        spans = maker._spans()
        while not stop.exists():
            began = time.monotonic()
            if exporter.export(spans) == SpanExportResult.SUCCESS:
                latencies.write(f"{time.monotonic():.3f} {(time.monotonic() - began) * 1000:.2f}\n")
                acked += [f"{s.context.span_id:016x}" for s in spans]
                break
            time.sleep(0.2)
        sent += 1
        ahead = sent * interval - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
exporter.shutdown()
(out / "acked.txt").write_text("\n".join(acked) + "\n")
print(len(acked), "ok")
