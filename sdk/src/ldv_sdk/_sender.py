"""The background sender: spool -> OTLP/HTTP protobuf -> collector, until acknowledged.

The spool holds each record as the OTLP protobuf it is sent as, an `ExportTraceServiceRequest`
of one span (OpenTelemetry's encoder, `ldv_sdk._runtime.encode`); a request is those bytes
joined (serialised messages concatenate into one), never decoded and encoded again. The
sender's thread suppresses OpenTelemetry instrumentation (as OpenTelemetry's own span
processors do while exporting), so an instrumented `requests` does not trace the delivery.

Retry rules (OTLP/HTTP specification, and the LDV rule that nothing is lost):
- 2xx: delivered. An `ExportTraceServiceResponse.partial_success` with rejected spans means
  the collector refused those spans as invalid: they become dead letters in the spool with
  the collector's message as the reason, the rest is acknowledged. OTLP does not say which
  spans were rejected; when the collector's message names them (`<trace_id>/<span_id>` in
  hex, as ldv_collector does) those are taken, otherwise the batch is split in halves and
  resent until the rejected spans are found (resent spans are duplicates the Logboek
  shows once).
- 400 for a batch: split until single records; a single record refused with 400 is a dead letter.
- 413: split the batch.
- 429, 502, 503, 504, other 5xx, connection errors and time-outs: retried forever with
  exponential back-off and jitter, honouring Retry-After (seconds or an HTTP date).
- 401, 403, 404 and other 4xx: a configuration problem, not a bad record: retried with the
  longest back-off and a warning each time, so fixing the configuration resumes delivery.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import logging
import random
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import requests
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ldv_sdk._spool import Spool, Spooled
from ldv_sdk.settings import LdvConfig

try:  # present whenever an OpenTelemetry instrumentor is: without one there is nothing to suppress
    from opentelemetry.instrumentation.utils import suppress_instrumentation
except ImportError:  # pragma: no cover - depends on what the application installed
    from contextlib import nullcontext as suppress_instrumentation  # type: ignore[assignment]

log = logging.getLogger("ldv_sdk")

_SPAN_REF = re.compile(r"\b([0-9a-f]{32})/([0-9a-f]{16})\b")
MAX_REASON_CHARS = 2000
MIN_BACKOFF_S = 0.25  # retry n waits up to MIN_BACKOFF_S * 2**n seconds (at most max_backoff), with jitter


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the collector said about one request."""

    status: int  # HTTP status, or 0 when there was no answer
    rejected: int = 0
    message: str = ""
    retry_after: float | None = None


class Sender:
    """Delivers spooled records in batches on a daemon thread, as `config` says (endpoint, headers,
    batch size, time-out and back-off); `stop()` ends it."""

    def __init__(self, spool: Spool, config: LdvConfig) -> None:
        self.spool = spool
        self.config = config
        self._session = requests.Session()
        self._session.headers.update(
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **config.collector_headers}
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ldv-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the request in flight; what is not delivered stays in the spool."""
        self._stop.set()
        with self.spool._changed:  # wake the loop if it waits for records
            self.spool._changed.notify_all()
        self._thread.join(timeout)
        self._session.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        with suppress_instrumentation():
            while not self._stop.is_set():
                try:
                    batch = self.spool.peek(self.config.batch_size)
                    if not batch:
                        self.spool.wait_for_records(timeout=0.5)
                        continue
                    self._deliver(batch)
                except Exception:  # noqa: BLE001 - the sender must outlive any single failure
                    log.exception("LDV sender: unexpected failure; retrying")
                    self._stop.wait(1.0)

    def _deliver(self, batch: Sequence[Spooled]) -> None:
        """Deliver `batch` until each record is acknowledged or dead-lettered, or the sender stops."""
        refs: list[list[tuple[str, str]]] = []
        good: list[Spooled] = []
        unreadable: list[tuple[int, str]] = []
        for item in batch:
            try:
                request = ExportTraceServiceRequest.FromString(item.body)
                spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
            except DecodeError:
                unreadable.append((item.seq, "unreadable spool entry (not an OTLP ExportTraceServiceRequest)"))
                continue
            refs.append([(s.trace_id.hex(), s.span_id.hex()) for s in spans])
            good.append(item)
        self.spool.dead_letter(unreadable)
        if not good:
            return
        attempt = 0
        while not self._stop.is_set():
            result = self._post([item.body for item in good])
            if 200 <= result.status < 300:
                self._settle(good, refs, result)
                return
            if result.status in (400, 413) and len(good) > 1:
                mid = len(good) // 2
                self._deliver(good[:mid])
                self._deliver(good[mid:])
                return
            if result.status == 400:
                self.spool.dead_letter([(good[0].seq, _reason(f"HTTP 400: {result.message}"))])
                return
            attempt += 1
            delay = self._backoff(attempt, result)
            log.warning(
                "LDV sender: collector answered %s; retry %d in %.1f s", result.status or "nothing", attempt, delay
            )
            self._stop.wait(delay)

    def _settle(self, good: Sequence[Spooled], refs: Sequence[list[tuple[str, str]]], result: Delivery) -> None:
        if result.rejected <= 0:
            self.spool.ack(item.seq for item in good)
            return
        reason = _reason(
            f"rejected by the collector: {result.message}" if result.message else "rejected by the collector"
        )
        named = {(m.group(1), m.group(2)) for m in _SPAN_REF.finditer(result.message)}
        hits = [any(ref in named for ref in spans) for spans in refs]
        if sum(hits) >= result.rejected or result.rejected >= len(good):
            if result.rejected >= len(good):
                hits = [True] * len(good)
            self.spool.dead_letter((item.seq, reason) for item, hit in zip(good, hits) if hit)
            self.spool.ack(item.seq for item, hit in zip(good, hits) if not hit)
            return
        # The collector did not say which: split and resend until single records tell.
        mid = len(good) // 2
        self._deliver(good[:mid])
        self._deliver(good[mid:])

    def _backoff(self, attempt: int, result: Delivery) -> float:
        if result.retry_after is not None:
            return min(max(result.retry_after, 0.0), self.config.max_retry_after)
        if result.status and 400 <= result.status < 500 and result.status != 429:
            return self.config.max_backoff
        ceiling = min(self.config.max_backoff, MIN_BACKOFF_S * 2 ** min(attempt, 20))
        return random.uniform(ceiling / 2, ceiling)

    def _post(self, bodies: Sequence[bytes]) -> Delivery:
        body = gzip.compress(b"".join(bodies), compresslevel=1)
        try:
            response = self._session.post(self.config.endpoint, data=body, timeout=self.config.export_timeout)
        except requests.RequestException as exc:
            return Delivery(status=0, message=type(exc).__name__)
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        if 200 <= response.status_code < 300:
            rejected, message = _partial_success(response.content, response.headers.get("Content-Type", ""))
            return Delivery(status=response.status_code, rejected=rejected, message=message)
        return Delivery(status=response.status_code, message=_error_text(response), retry_after=retry_after)


def _reason(text: str) -> str:
    return text[:MAX_REASON_CHARS]


def _partial_success(content: bytes, content_type: str) -> tuple[int, str]:
    if not content:
        return 0, ""
    if "json" in content_type:
        try:
            ps = json.loads(content).get("partialSuccess") or {}
            return int(ps.get("rejectedSpans", 0)), str(ps.get("errorMessage", ""))
        except (ValueError, AttributeError, TypeError):
            return 0, ""
    response = ExportTraceServiceResponse()
    try:
        response.ParseFromString(content)
    except Exception:  # noqa: BLE001 - an unreadable 2xx body still means "accepted"
        log.warning("LDV sender: could not read the collector's response body; taking it as accepted")
        return 0, ""
    return response.partial_success.rejected_spans, response.partial_success.error_message


def _error_text(response: requests.Response) -> str:
    try:
        if "protobuf" in response.headers.get("Content-Type", ""):
            from google.rpc.status_pb2 import Status as RpcStatus

            status = RpcStatus()
            status.ParseFromString(response.content)
            return status.message
        return response.text[:500]
    except Exception:  # noqa: BLE001
        return ""


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
