"""`LdvPropagator`: the processing's action and the `ldv` tracestate entry as an OpenTelemetry propagator.

Beside `ldv_sdk._propagation` (the W3C rules) and `ldv_sdk._processing` (the current
processing), which it both needs: neither of them imports this module.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    DefaultGetter,
    DefaultSetter,
    Getter,
    Setter,
    TextMapPropagator,
)

from ldv_sdk._processing import current
from ldv_sdk._propagation import INCOMING_KEY, extract_incoming, inject_headers

_FIELDS = ("traceparent", "tracestate")


class LdvPropagator(TextMapPropagator):
    """The `ldv` tracestate entry and the LDV action as parent, as an OpenTelemetry propagator.

    Compose it after the W3C TraceContext propagator: inside a processing its `inject`
    replaces `traceparent`/`tracestate` with the processing's action (sampled) and this
    application's `ldv` entry, so the callee's records link to the caller's record whatever
    span an instrumentor made in between; outside a processing it writes nothing. `extract`
    puts the caller (its span context and `ldv` entry) in the returned context.
    """

    def extract(self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = DefaultGetter()) -> Context:  # type: ignore[assignment]
        context = context if context is not None else Context()
        headers = {name: ",".join(values) for name in _FIELDS if (values := getter.get(carrier, name))}
        call = extract_incoming(headers)
        return otel_context.set_value(INCOMING_KEY, call, context) if call is not None else context

    def inject(self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = DefaultSetter()) -> None:  # type: ignore[assignment]
        v = current()
        if v is None or v.span is None or v._runtime is None:
            return
        headers: dict[str, str] = {}
        inject_headers(v.span.get_span_context(), v._runtime.config.application, headers)
        for name, value in headers.items():
            setter.set(carrier, name, value)

    @property
    def fields(self) -> set[str]:
        return set(_FIELDS)
