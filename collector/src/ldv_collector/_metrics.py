"""The collector's counters, exposed by prometheus_client on /metrics and as a dict for /healthz."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

_HELP: dict[str, str] = {
    "requests": "OTLP export requests received",
    "requests_unauthenticated": "export requests refused because they did not come from a configured sender",
    "spans_received": "spans received in decoded requests",
    "spans_stored": "LDV records stored (committed in the Logboek)",
    "spans_rejected": "spans not stored because they break the LDV standard or hold a clear BSN",
    "spans_ignored": "spans without any dpl. attribute (not LDV records), dropped",
    "spans_pseudonymised": "clear-BSN subject ids pseudonymised by the collector",
    "spans_failed": "valid records not stored because the store was unavailable or refused them (their requests got an error)",
    "inserts": "group-commit inserts into the store",
    "insert_failures": "inserts that failed (a failed group commit is then tried request by request)",
    "store_not_enough_space": "inserts that failed because the store's disk is full (answered: retry later)",
    "checkpoints": "signed checkpoints of the transparency log stored",
    "witness_failures": "checkpoints a witness did not cosign (refused or unreachable)",
}


class CollectorMetrics(Collector):
    """Monotonic counters, safe to bump from the event loop and the writer thread.

    The counts live here (one lock, so /healthz and /metrics see one consistent snapshot);
    prometheus_client renders them, as `ldv_collector_<name>_total` counters, from a registry
    of this collector's own (several collectors in one process do not share counters).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter({name: 0 for name in _HELP})
        self._responses: Counter[int] = Counter()
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def add(self, **increments: int) -> None:
        """Add to named counters, e.g. `add(spans_stored=512, inserts=1)`."""
        with self._lock:
            for name, value in increments.items():
                if name not in _HELP:
                    raise KeyError(f"unknown counter {name!r}")
                self._counts[name] += value

    def response(self, status: int) -> None:
        """Count one HTTP response on /v1/traces by status code."""
        with self._lock:
            self._responses[status] += 1

    def snapshot(self) -> dict[str, int]:
        """Counter values by name (responses as `responses_<code>`)."""
        with self._lock:
            out = dict(self._counts)
            out.update({f"responses_{code}": n for code, n in sorted(self._responses.items())})
            return out

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The counters as Prometheus metric families (called by the registry)."""
        with self._lock:
            counts, responses = dict(self._counts), dict(self._responses)
        for name, help_text in _HELP.items():
            yield CounterMetricFamily(f"ldv_collector_{name}", help_text, value=counts[name])
        by_code = CounterMetricFamily("ldv_collector_responses", "responses on /v1/traces by HTTP status", labels=["code"])
        for code, n in sorted(responses.items()):
            by_code.add_metric([str(code)], n)
        yield by_code

    def prometheus(self) -> str:
        """The counters in the Prometheus text exposition format (version 0.0.4)."""
        return generate_latest(self.registry).decode()
