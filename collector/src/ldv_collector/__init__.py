"""ldv_collector: the OTLP (HTTP and gRPC) collector of the Logboek Dataverwerkingen.

It receives OpenTelemetry spans, keeps those that are LDV records (at least one `dpl.`
attribute), checks them against the standard, pseudonymises clear-BSN subject ids, and
stores them in group commits, acknowledging only what is stored.
"""

from ldv_collector._app import TRACES_PATH, Collector, create_app
from ldv_collector._grpc_server import create_grpc_server
from ldv_collector._metrics import CollectorMetrics
from ldv_collector._senders import SenderSettings, token_sha256
from ldv_collector._uvicorn_tls import ClientCertificateHTTP
from ldv_collector._writer import GroupCommitWriter
from ldv_collector.errors import CollectorError, WriterStopped
from ldv_collector.settings import CollectorSettings, WitnessSettings

__all__ = [
    "TRACES_PATH",
    "ClientCertificateHTTP",
    "Collector",
    "CollectorError",
    "CollectorMetrics",
    "CollectorSettings",
    "GroupCommitWriter",
    "SenderSettings",
    "WitnessSettings",
    "WriterStopped",
    "create_app",
    "create_grpc_server",
    "token_sha256",
]
