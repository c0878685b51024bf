"""The SDK's runtime: its own TracerProvider (ALWAYS_ON), an always-on processor, the spool exporter.

The application's global TracerProvider is never touched: LDV records are not subject to
the application's sampling, and the application's traces do not end up in the Logboek.

The path of a record: a processing ends its span; `RecordProcessor` hands it, on the thread
that ends it, to `SpoolExporter`, which makes the core's `LogRecord` of it (through the span's
public API) and runs the core's rules (`protect` under `Policy.at_source`, then
`check_record`), and appends to the spool the OTLP protobuf of the span as the rules left its
record (`span_of`): OpenTelemetry's own encoding (`encode_spans`), which `SpanEncoder` builds
for the usual record without its grouping. `ldv_sdk.testing.capture_ldv` swaps only the spool.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, SpanFlags
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as OtelEvent
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link as OtelLink
from opentelemetry.trace import Span, SpanContext, SpanKind, StatusCode, Tracer, TraceState
from opentelemetry.trace import Status as OtelStatus

from ldv_logboek import (
    Event,
    Link,
    LogRecord,
    Policy,
    Pseudonymiser,
    Status,
    attribute_text,
    check_record,
    protect,
)
from ldv_logboek import attributes as attr
from ldv_sdk._sender import Sender
from ldv_sdk._spool import Spool
from ldv_sdk.errors import ConfigurationError, LoggingFailed
from ldv_sdk.settings import LdvConfig, build_config

log = logging.getLogger("ldv_sdk")

SCOPE_NAME = "ldv_sdk"
SCOPE_VERSION = "0.1.0"

_STATUS = {code: Status[code.name] for code in StatusCode}  # UNSET, OK, ERROR
_KIND = {kind: kind.name.title() for kind in SpanKind}  # Internal, Server, Client, Producer, Consumer


class RecordSink(Protocol):
    """Where the spool exporter appends a record's bytes: the `Spool`, or a test's capture."""

    def put(self, body: bytes) -> None: ...


def _texts(values: Mapping[str, Any] | None) -> dict[str, str]:
    """The attribute values as text; a copy first (a span's `attributes` is a read-only view, slow to walk)."""
    return {k: v if type(v) is str else attribute_text(v) for k, v in values.copy().items()} if values else {}  # type: ignore[attr-defined]


def record_of(span: ReadableSpan, resource: dict[str, str]) -> LogRecord:
    """The core's record of a finished span of this SDK (no rules applied yet), through its public API."""
    ctx = span.context
    parent = span.parent
    status = span.status
    scope = span.instrumentation_scope
    state = ctx.trace_state
    return LogRecord(
        trace_id=ctx.trace_id.to_bytes(16, "big"),
        span_id=ctx.span_id.to_bytes(8, "big"),
        name=span.name,
        start_time_ns=span.start_time or 0,
        end_time_ns=span.end_time or 0,
        status=_STATUS[status.status_code],
        attributes=_texts(span.attributes),
        parent_span_id=parent.span_id.to_bytes(8, "big") if parent is not None and parent.is_valid else b"",
        resource_attributes=dict(resource),
        status_message=status.description or "",
        kind=_KIND.get(span.kind, "Internal"),
        trace_state=state.to_header() if state else "",
        scope_name=scope.name if scope is not None else "",
        scope_version=(scope.version or "") if scope is not None else "",
        events=[Event(e.timestamp, e.name, _texts(e.attributes)) for e in span.events],
        links=[
            Link(
                k.context.trace_id.to_bytes(16, "big"),
                k.context.span_id.to_bytes(8, "big"),
                k.context.trace_state.to_header() if k.context.trace_state else "",
                _texts(k.attributes),
            )
            for k in span.links
        ],
    )


def _with_trace_state(context: SpanContext, trace_state: str) -> SpanContext:
    """`context` with the trace state `trace_state` (a header), when `protect` redacted it."""
    if trace_state == (context.trace_state.to_header() if context.trace_state else ""):
        return context
    state = TraceState.from_header([trace_state]) if trace_state else TraceState()
    return SpanContext(context.trace_id, context.span_id, context.is_remote, context.trace_flags, state)


def span_of(record: LogRecord, span: ReadableSpan) -> ReadableSpan:
    """`span` as `protect` left its record: the record's texts in the span's place (a new span);
    a redacted trace state replaces the context's own, which must not reach the spool."""
    events = [OtelEvent(e.name, e.attributes, e.time_ns) for e in record.events]
    links = [
        OtelLink(_with_trace_state(k.context, new.trace_state), new.attributes)
        for k, new in zip(span.links, record.links)
    ]
    description = record.status_message or None
    context = _with_trace_state(span.context, record.trace_state)
    scope = span.instrumentation_scope
    if scope is not None and (scope.name, scope.version or "") != (record.scope_name, record.scope_version):
        scope = InstrumentationScope(record.scope_name, record.scope_version or None)
    return ReadableSpan(
        name=record.name,
        context=context,
        parent=span.parent,
        resource=Resource(record.resource_attributes),
        attributes=record.attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=OtelStatus(span.status.status_code, description if span.status.status_code is StatusCode.ERROR else None),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=scope,
    )


def encode(span: ReadableSpan) -> bytes:
    """The OTLP protobuf of one span as an ExportTraceServiceRequest, by OpenTelemetry's own encoder.

    Serialised requests concatenate into one request (`resource_spans` is its only field), so
    the sender joins spooled bodies without decoding them.
    """
    return encode_spans([span]).SerializeToString()


class _Reused:
    """A thread's request of one span for `SpanEncoder`, and what its span holds of the last record.

    `stable` (name, kind, flags, trace state, status) and the attributes' `texts` are compared
    before they are written: a record usually differs from the one before only in its ids, times
    and subject, and each field written costs a call into protobuf. Each is None while it is
    being written, so a write cut short by an exception is redone in full by the next call.
    """

    __slots__ = ("request", "span", "stable", "keys", "values", "texts")

    def __init__(self, frame: ResourceSpans) -> None:
        self.request = ExportTraceServiceRequest(resource_spans=[frame])
        self.span = self.request.resource_spans[0].scope_spans[0].spans.add()
        self.span.status.SetInParent()  # encode_spans always writes the status, an unset one too
        self.stable: tuple[Any, ...] | None = None
        self.keys: tuple[str, ...] | None = ()
        self.values: list[Any] = []  # the attribute value messages (AnyValue), in the keys' order
        self.texts: tuple[str, ...] | None = ()


class SpanEncoder:
    """`encode(span_of(record, span))` of the SDK's usual record, with its resource and scope
    encoded once (logfire's `_fast_span` beside `_span` is the model): OpenTelemetry's encoder
    groups every call's spans by resource and scope, which costs a single span twice what a span
    of a batch costs (docs/benchmarks.md). It builds the message `encode_spans` builds, with
    opentelemetry-proto's classes, from the record as the rules left it (its ids, texts and
    times; the kind, status code and parent's remoteness from the span), into one request per
    thread that holds the resource and scope as `encode_spans` made them for the first span, and
    one Span message that each call overwrites field by field (every field it builds, so nothing
    of the span before stays; protobuf does not serialise a field set to its default, so a field
    set to it equals one never set). A record it does not know how to build the same (events,
    links, dropped attributes, another resource or scope than the first, a resource or scope the
    rules changed) takes `encode`. tests/sdk/test_record_path.py holds the two equal. It decides no
    rule: it runs after them.
    """

    def __init__(self) -> None:
        self._frame: _Frame | None = None
        self._requests = threading.local()  # each thread's _Reused

    def __call__(self, record: LogRecord, span: ReadableSpan) -> bytes:
        frame = self._frame
        if frame is None:
            frame = self._frame = self._frame_of(span)
        if (
            span.resource is not frame[0]
            or span.instrumentation_scope is not frame[1]
            or record.resource_attributes != frame[3]
            or (record.scope_name, record.scope_version) != frame[4]
            or record.events
            or record.links
            or span.dropped_attributes
        ):
            return encode(span_of(record, span))
        mine: _Reused | None = getattr(self._requests, "mine", None)
        if mine is None:
            mine = self._requests.mine = _Reused(frame[2])
        pb = mine.span
        pb.trace_id = record.trace_id
        pb.span_id = record.span_id
        pb.parent_span_id = record.parent_span_id
        pb.start_time_unix_nano = record.start_time_ns
        pb.end_time_unix_nano = record.end_time_ns
        parent = span.parent
        flags = _FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS
        error = record.status is Status.ERROR
        stable = (record.name, span.kind, flags, record.trace_state, record.status, error and record.status_message)
        if stable != mine.stable:
            mine.stable = None
            pb.name = record.name
            pb.kind = _PB_KINDS[span.kind]  # type: ignore[assignment]
            pb.flags = flags
            pb.trace_state = record.trace_state
            pb.status.code = _PB_STATUS[record.status]  # type: ignore[assignment]
            pb.status.message = record.status_message if error else ""
            mine.stable = stable
        attributes = record.attributes
        keys = tuple(attributes)
        if keys != mine.keys:
            mine.keys = mine.texts = None
            del pb.attributes[:]
            add = pb.attributes.add
            mine.values = [add(key=key).value for key in keys]
            mine.keys = keys
        texts = tuple(attributes.values())
        before = mine.texts
        if texts != before:
            mine.texts = None
            if before is None:
                for message, text in zip(mine.values, texts):
                    message.string_value = text
            else:
                for message, text, old in zip(mine.values, texts, before):
                    if text != old:
                        message.string_value = text
            mine.texts = texts
        return mine.request.SerializeToString()

    @staticmethod
    def _frame_of(span: ReadableSpan) -> _Frame:
        """The resource and scope of `span` as `encode_spans` encodes them, without the span, and
        the resource's attributes and the scope as a record holds them: a record whose resource or
        scope the rules changed does not match them, and takes `encode`."""
        (resource_spans,) = encode_spans([span]).resource_spans
        (scope_spans,) = resource_spans.scope_spans
        del scope_spans.spans[:]
        scope = span.instrumentation_scope
        scope_texts = (scope.name, scope.version or "") if scope is not None else ("", "")
        return span.resource, scope, resource_spans, _texts(span.resource.attributes), scope_texts


# The frame of SpanEncoder: resource and scope (by identity), their encoding, and their texts.
_Frame = tuple[Resource, InstrumentationScope | None, ResourceSpans, dict[str, str], tuple[str, str]]
_PB_KINDS = {kind: kind.value + 1 for kind in SpanKind}  # OTLP numbers the kinds from 1 (0: unspecified)
_PB_STATUS = {Status.UNSET: 0, Status.OK: 1, Status.ERROR: 2}  # OTLP's StatusCode numbers
_FLAGS = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_FLAGS_REMOTE = _FLAGS | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK


class SpoolExporter:
    """Applies the core's rules to finished spans and appends their OTLP protobuf to a spool.

    `write(span)` raises when the record cannot be spooled, or (fail-closed) breaks the standard.
    """

    def __init__(self, config: LdvConfig, resource: dict[str, str], sink: RecordSink) -> None:
        self.config = config
        self.resource = resource
        self.sink = sink
        self.policy = Policy.at_source(Pseudonymiser(config.pseudonym_key))
        self.encode = SpanEncoder()

    def write(self, span: ReadableSpan) -> None:
        record = record_of(span, self.resource)
        protection = protect(record, self.policy)
        violations = protection.violations + check_record(record)
        ref = record.span_id.hex()
        if protection.clear_bsn_at:
            log.warning("LDV record %s: removed what looks like a clear BSN from %s", ref, ", ".join(protection.clear_bsn_at))
        if protection.repaired:
            log.warning("LDV record %s: filled in %s", ref, ", ".join(protection.repaired))
        if violations:
            rules = ", ".join(sorted({p.rule for p in violations}))
            if self.config.fail_closed:
                raise LoggingFailed(f"LDV record {ref} breaks the standard: {rules}")
            log.warning("LDV record %s breaks rules %s; sent anyway, the collector decides", ref, rules)
        self.sink.put(self.encode(record, span))


class RecordProcessor(SpanProcessor):
    """Hands every finished span of the SDK's provider to the exporter, on the thread that ends it.

    It never raises (a span processor must not): a failure is kept under the span's id until
    the processing that ended the span takes it (`take_failure`) to apply the failure policy.
    """

    def __init__(self, exporter: SpoolExporter) -> None:
        self.exporter = exporter
        # Span id -> the failure of its record, until taken; read without the lock it is a hint (empty: none).
        self.failures: dict[int, BaseException] = {}
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self.exporter.write(span)
        except BaseException as exc:  # noqa: BLE001 - reported through take_failure
            with self._lock:
                self.failures[span.context.span_id] = exc
            log.error(
                "LDV record %032x/%016x could not be logged durably: %s",
                span.context.trace_id,
                span.context.span_id,
                type(exc).__name__,
            )

    def take_failure(self, span: Span) -> BaseException | None:
        """The failure of logging `span` (just ended), if its record could not be logged (and forget it)."""
        if not self.failures:  # the usual case: no lock, and no span context to read
            return None
        with self._lock:
            return self.failures.pop(span.get_span_context().span_id, None)


class Runtime:
    """One configured SDK: provider, tracer, the always-on processor and its spool exporter."""

    def __init__(self, config: LdvConfig, *, sink: RecordSink | None = None) -> None:
        self.config = config
        self.fail_closed = config.fail_closed  # read on every processing
        resource = {attr.SERVICE_NAME: config.service_name, attr.ORGANISATION: config.organisation}
        self.pseudonymiser = Pseudonymiser(config.pseudonym_key)
        # Processing activity id -> its URI under this configuration (ldv_sdk._processing fills it).
        self.activity_uris: dict[str, str] = {}
        self.spool: Spool | None = None
        self.sender: Sender | None = None
        if sink is None:
            self.spool = Spool(
                config.spool_path,
                max_records=config.spool_max_records,
                full_policy=config.spool_full_policy,
                sync=config.spool_sync,
                disk_full_policy=config.spool_disk_full_policy,
                disk_full_wait=config.spool_disk_full_wait,
            )
            sink = self.spool
        self.exporter = SpoolExporter(config, resource, sink)
        # Resource(...) rather than Resource.create(...): no OTEL_RESOURCE_ATTRIBUTES or telemetry.sdk.*
        # in the Logboek, only what the developer configured.
        self.provider = TracerProvider(sampler=ALWAYS_ON, resource=Resource(resource))
        self.processor = RecordProcessor(self.exporter)
        self.provider.add_span_processor(self.processor)
        self.tracer: Tracer = self.provider.get_tracer(SCOPE_NAME, SCOPE_VERSION)
        if self.spool is not None and config.start_sender:
            self.sender = Sender(self.spool, config)
            self.sender.start()

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
