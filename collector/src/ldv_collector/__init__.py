"""ldv_collector: the OTLP (HTTP and gRPC) collector of the Logboek Dataverwerkingen.

It receives OpenTelemetry spans, keeps those that are LDV records (at least one `dpl.`
attribute), checks them against the standard, pseudonymises clear-BSN subject ids, and
stores them in group commits, acknowledging only what is stored.
"""

from ldv_collector.app import TRACES_PATH, Collector, create_app
from ldv_collector.metrics import CollectorMetrics
from ldv_collector.settings import CollectorSettings
from ldv_collector.writer import GroupCommitWriter, WriterStopped

__all__ = [
    "TRACES_PATH",
    "Collector",
    "CollectorMetrics",
    "CollectorSettings",
    "GroupCommitWriter",
    "WriterStopped",
    "create_app",
]
