"""W3C Trace Context across services and organisations, and the caller's identity.

The caller's application URI travels in a `tracestate` entry with key `ldv` (W3C Trace
Context, section 3.3: vendors may add their own entry). Its value is the URI with the
characters tracestate forbids in values (`,`, `=`, space, and anything outside printable
ASCII) percent-encoded, e.g. `ldv=urn:ldv:application:dienst-toeslagen:huurtoeslag`.
The receiving side records it as `dpl.core.foreign_operation.processor` and the caller's
span id as `dpl.core.foreign_operation.span_id`. No baggage is used or sent.

`LdvPropagator` (`ldv_sdk._propagator`) is that rule as an OpenTelemetry `TextMapPropagator`, to compose with the
W3C one (`OTEL_PROPAGATORS=tracecontext,baggage,ldv`, or `set_global_textmap`), so that the
official instrumentors (`opentelemetry-instrumentation-httpx`, `-requests`, `-asgi`,
`-fastapi`) carry it: injecting inside a processing, it names the processing's action as the
parent (sampled) and adds the `ldv` entry; extracting, it keeps the caller in the context, where
the request's processings find it (`current_incoming_call`). `LdvMiddleware` and
`ldv_sdk.clients` are thin conveniences over the same two functions for services without
the instrumentors.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from opentelemetry import context as otel_context
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACESTATE_KEY = "ldv"
_W3C = TraceContextTextMapPropagator()
# Characters allowed in a tracestate value, minus the ones quote() must escape: 0x20-0x7E except , and =
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ",=%")


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """The remote action that called this service: its span context and, when it said so, its application."""

    span_context: SpanContext
    processor: str | None


# The incoming call of the request being handled, as the server middleware sets it (`incoming_request`).
INCOMING_CALL: contextvars.ContextVar[IncomingCall | None] = contextvars.ContextVar("ldv_incoming_call", default=None)
INCOMING_KEY = otel_context.create_key("ldv_incoming_call")


def current_incoming_call(context: otel_context.Context | None = None) -> IncomingCall | None:
    """The incoming call the current request continues: set by the server middleware, or found
    by `LdvPropagator.extract` in the context an instrumentor made current for the request
    (`context`: that current OpenTelemetry context, when the caller has it at hand)."""
    call = INCOMING_CALL.get()
    if call is None:
        found = otel_context.get_value(INCOMING_KEY, context)
        call = found if isinstance(found, IncomingCall) else None
    return call


def extract_incoming(headers: Mapping[str, str]) -> IncomingCall | None:
    """Parse `traceparent`/`tracestate` from lower-case request headers; None when absent or invalid.

    A `traceparent` with sampled=0 is continued all the same: LDV records are never sampled.
    """
    if "traceparent" not in headers:
        return None
    ctx = _W3C.extract(headers)
    span_context = get_current_span(ctx).get_span_context()
    if not span_context.is_valid:
        return None
    raw = span_context.trace_state.get(TRACESTATE_KEY)
    return IncomingCall(span_context=span_context, processor=unquote(raw or "") or None)


def inject_headers(span_context: SpanContext, application_uri: str, carrier: MutableMapping[str, str]) -> None:
    """Write `traceparent` and `tracestate` (with this application's `ldv` entry) into `carrier`.

    The sampled flag is always set: the callee must log its part of the processing too.
    """
    state = span_context.trace_state
    value = quote(application_uri, safe=_SAFE)  # the URI as a tracestate value
    try:
        state = state.update(TRACESTATE_KEY, value) if TRACESTATE_KEY in state else state.add(TRACESTATE_KEY, value)
    except ValueError:
        state = TraceState([(TRACESTATE_KEY, value)])
    sent = SpanContext(
        trace_id=span_context.trace_id,
        span_id=span_context.span_id,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=state,
    )
    _W3C.inject(carrier, context=set_span_in_context(NonRecordingSpan(sent)))
