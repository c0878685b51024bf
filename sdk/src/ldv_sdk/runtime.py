"""The SDK's runtime: its own TracerProvider (ALWAYS_ON), the record pipeline, spool and sender.

The application's global TracerProvider is never touched: LDV records are not subject to
the application's sampling, and the application's traces do not end up in the Logboek.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Span, Tracer

from ldv_logboek import attributes as attr
from ldv_sdk import records as rec
from ldv_sdk.errors import ConfigurationError, LoggingFailed
from ldv_sdk.pseudonyms import Pseudonymiser
from ldv_sdk.sender import Sender
from ldv_sdk.settings import LdvConfig, build_config
from ldv_sdk.spool import Spool

log = logging.getLogger("ldv_sdk")

SCOPE_NAME = "ldv_sdk"
SCOPE_VERSION = "0.1.0"

Sink = Callable[[rec.Record], None]


class _Outcome(threading.local):
    failure: BaseException | None = None


class _PipelineProcessor(SpanProcessor):
    """Hands every finished LDV span to the runtime's pipeline, on the thread that ends it.

    It never raises (a span processor must not); a failure is left in a thread-local slot
    that the processing reads right after `span.end()`, to apply the failure policy.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.outcome = _Outcome()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self.runtime.emit(span)
        except BaseException as exc:  # noqa: BLE001 - reported through the outcome slot
            self.outcome.failure = exc
            log.error(
                "LDV record %032x/%016x could not be logged durably: %s",
                span.context.trace_id,
                span.context.span_id,
                type(exc).__name__,
            )


class Runtime:
    """One configured SDK: provider, tracer, pipeline and where records go (spool or a test sink)."""

    def __init__(self, config: LdvConfig, *, sink: Sink | None = None) -> None:
        self.config = config
        self._resource_attrs: dict[str, Any] = {attr.SERVICE_NAME: config.service_name, attr.ORGANISATION: config.organisation}
        # Worked out once rather than per record: the resource is the same on every record.
        self._resource_clean = not rec.has_bsn_candidate(self._resource_attrs)
        self._encode = rec.RecordEncoder(self._resource_attrs, [SCOPE_NAME, SCOPE_VERSION])
        # The one-pass path of an ordinary span (only with a clean resource: it never redacts).
        self._encode_span = rec.SpanEncoder(self._resource_attrs, [SCOPE_NAME, SCOPE_VERSION]) if self._resource_clean else None
        self.pseudonymise = Pseudonymiser(config.pseudonym_key)
        # Processing activity id -> its URI under this configuration (ldv_sdk.processing fills it).
        self.activity_uris: dict[str, str] = {}
        # Resource(...) rather than Resource.create(...): no OTEL_RESOURCE_ATTRIBUTES or telemetry.sdk.*
        # in the Logboek, only what the developer configured.
        self.provider = TracerProvider(sampler=ALWAYS_ON, resource=Resource(self._resource_attrs))
        self.processor = _PipelineProcessor(self)
        self.provider.add_span_processor(self.processor)
        self.tracer: Tracer = self.provider.get_tracer(SCOPE_NAME, SCOPE_VERSION)
        self.spool: Spool | None = None
        self.sender: Sender | None = None
        if sink is None:
            self.spool = Spool(
                config.spool_path,
                max_records=config.spool_max_records,
                full_policy=config.spool_full_policy,
                sync=config.spool_sync,
            )
            self.sink: Sink = self._to_spool
            if config.start_sender:
                self.sender = Sender(
                    self.spool,
                    config.endpoint,
                    headers=config.collector_headers,
                    batch_size=config.batch_size,
                    timeout=config.export_timeout,
                    max_backoff=config.max_backoff,
                    max_retry_after=config.max_retry_after,
                )
                self.sender.start()
        else:
            self.sink = sink
            self._encode_span = None  # a test sink takes the record dict: the generic path

    def _to_spool(self, record: rec.Record) -> None:
        assert self.spool is not None
        self.spool.put(self._encode.built(record, resource_untouched=self._resource_clean))

    def emit(self, span: ReadableSpan) -> None:
        """Pseudonymise, guard, check and store one finished span. Raises when it cannot be stored
        (or, under the fail-closed policy, when the record breaks the standard)."""
        fast = self._encode_span
        if fast is not None:
            # An ordinary span: the same text the generic path below writes, in one pass.
            text = fast(span)
            if text is not None:
                self.spool.put(text)  # type: ignore[union-attr]  # a fast path only with a spool
                return
        record = rec.span_to_record(span, self._resource_attrs)
        rec.pseudonymise_subject(record, self.pseudonymise)
        found = rec.guard_bsn(record, resource_clean=self._resource_clean)
        if found:
            log.warning("LDV record %s: removed what looks like a clear BSN from %s", record["span_id"], ", ".join(found))
        fixed, problems = rec.check_and_fix(record)
        if fixed:
            log.warning("LDV record %s: filled in %s", record["span_id"], ", ".join(fixed))
        if problems:
            rules = ", ".join(sorted({p.rule for p in problems}))
            if self.config.fail_closed:
                raise LoggingFailed(f"LDV record {record['span_id']} breaks the standard: {rules}")
            log.warning("LDV record %s breaks rules %s; sent anyway, the collector decides", record["span_id"], rules)
        self.sink(record)

    def take_failure(self) -> BaseException | None:
        """The failure of the last span ended on this thread, if any (and clear it)."""
        outcome = self.processor.outcome
        failure = outcome.failure
        if failure is not None:  # a thread-local write only when there is something to clear
            outcome.failure = None
        return failure

    def can_log(self) -> bool:
        """False when a record written now would fail (spool full under the `fail` policy)."""
        return self.spool is None or self.config.spool_full_policy != "fail" or self.spool.has_room()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the sender delivered every pending record; False on timeout."""
        if self.spool is None:
            return True
        if self.sender is None or not self.sender.running:
            return len(self.spool) == 0
        return self.spool.wait_until_empty(timeout)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Try to deliver for up to `timeout` seconds, then stop; undelivered records stay spooled."""
        if self.sender is not None:
            self.flush(timeout)
            self.sender.stop()
        self.provider.shutdown()
        if self.spool is not None:
            self.spool.close()


_lock = threading.RLock()
_runtime: Runtime | None = None
_env_failed = False


def configure(config: LdvConfig | None = None, **settings: Any) -> Runtime:
    """Configure the SDK once at service start: from an `LdvConfig`, keyword arguments and/or `LDV_*` variables.

    Keyword arguments are `LdvConfig` fields and win over the environment. Calling it again
    replaces the previous configuration (its sender is stopped; pending records stay in its spool).
    Raises ConfigurationError for missing or invalid settings.
    """
    global _runtime, _env_failed
    if config is not None and settings:
        config = config.with_changes(**settings)
    elif config is None:
        config = build_config(**settings)
    with _lock:
        if _runtime is not None:
            _runtime.shutdown(timeout=0)
            _runtime = None
        _runtime = Runtime(config)
        _env_failed = False
        return _runtime


def get_runtime() -> Runtime | None:
    """The configured runtime; configured from `LDV_*` variables on first use if `configure()` was not called.

    Returns None when neither worked (reported once, loudly); the caller applies the failure policy.
    """
    global _runtime, _env_failed
    runtime = _runtime
    if runtime is not None or _env_failed:
        return runtime
    with _lock:
        if _runtime is None and not _env_failed:
            try:
                _runtime = Runtime(build_config())
            except ConfigurationError as exc:
                _env_failed = True
                log.error("LDV SDK is not configured, processings are NOT logged: %s", exc)
        return _runtime


def install_runtime(runtime: Runtime | None) -> Runtime | None:
    """Swap the active runtime (used by ldv_sdk.testing); returns the previous one."""
    global _runtime
    with _lock:
        previous, _runtime = _runtime, runtime
        return previous


def shutdown(timeout: float = 5.0) -> None:
    """Deliver what can be delivered within `timeout` seconds and stop the SDK."""
    global _runtime
    with _lock:
        if _runtime is not None:
            _runtime.shutdown(timeout)
            _runtime = None


def flush(timeout: float = 10.0) -> bool:
    """Wait until every spooled record was delivered; False on timeout or when not configured."""
    runtime = _runtime
    return runtime.flush(timeout) if runtime is not None else False


atexit.register(lambda: shutdown(timeout=2.0))
