"""Synthetic but realistic LDV traffic as OTLP protobuf, for `ldv generate` and the benchmarks.

Each request holds whole traces: an action at one organisation with a child record per data
subject, as the standard's rule 6 asks, with pseudonymised subject ids and the attributes a
real service sends (service resource, organisation, activity URI, foreign processor, read API).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

from ldv_logboek import attributes as attr
from ldv_logboek import pseudonymise

ORGANISATIONS = {
    "dienst-toeslagen": ("toeslagen-berekening", "https://register.toeslagen.example/processing-activities/"),
    "gemeente-amsterdam": ("bijstand-aanvraag", "https://register.amsterdam.example/processing-activities/"),
    "belastingdienst": ("inkomensgegevens", "https://register.belastingdienst.example/processing-activities/"),
    "uwv": ("ww-uitkering", "https://register.uwv.example/processing-activities/"),
}
ACTIVITIES = ["huurtoeslag", "zorgtoeslag", "kinderopvangtoeslag", "bijstand", "inkomen-verstrekken", "ww"]
ACTIONS = ["aanvraag beoordelen", "inkomen opvragen", "toeslag berekenen", "besluit vastleggen"]


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def synthetic_request(
    spans: int,
    *,
    seed: int | None = None,
    subjects: int = 10_000,
    spread_seconds: int = 60,
    organisation: str | None = None,
    until_ns: int | None = None,
) -> ExportTraceServiceRequest:
    """One OTLP request with `spans` LDV spans, grouped by organisation (one ResourceSpans each).

    Start times lie within the `spread_seconds` before `until_ns` (default: now), as in live
    traffic to a collector. With `organisation`, every span is that organisation's.
    """
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    # Service name and register base URI per organisation: all of ORGANISATIONS, or only
    # `organisation` (a sender's token writes one organisation's records).
    organisations = ORGANISATIONS
    if organisation is not None:
        default = ("synthetic-load", f"https://register.{organisation}.example/processing-activities/")
        organisations = {organisation: ORGANISATIONS.get(organisation, default)}
    by_org: dict[str, list[Span]] = {org: [] for org in organisations}
    now = time.time_ns() if until_ns is None else until_ns
    made = 0
    while made < spans:
        org = rng.choice(list(organisations))
        _, register = organisations[org]
        trace_id = rng.randbytes(16)
        parent = rng.randbytes(8)
        activity = register + rng.choice(ACTIVITIES)
        start = now - rng.randrange(0, max(1, spread_seconds) * 10**9)
        # One action with one child record per data subject (rule 6), 1-3 subjects.
        per_trace = min(spans - made, rng.randint(1, 3))
        for _ in range(per_trace):
            bsn = f"{rng.randrange(subjects):09d}"
            span = Span(
                trace_id=trace_id,
                span_id=rng.randbytes(8),
                parent_span_id=parent,
                name=rng.choice(ACTIONS),
                kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=start,
                end_time_unix_nano=start + rng.randrange(1_000_000, 50_000_000),
                status=Status(code=Status.STATUS_CODE_OK if rng.random() > 0.02 else Status.STATUS_CODE_ERROR),
            )
            span.attributes.extend(
                [
                    _kv(attr.PROCESSING_ACTIVITY_ID, activity),
                    _kv(attr.DATA_SUBJECT_ID, pseudonymise(bsn, org.encode())),
                    _kv(attr.DATA_SUBJECT_ID_TYPE, attr.SUBJECT_TYPE_BSN),
                    _kv(attr.FOREIGN_OPERATION_PROCESSOR, "https://burger.example/portaal"),
                    _kv("http.request.method", "POST"),
                ]
            )
            by_org[org].append(span)
            made += 1
    for org, org_spans in by_org.items():
        if not org_spans:
            continue
        service, _ = organisations[org]
        resource_spans = ResourceSpans()
        resource_spans.resource.attributes.extend(
            [_kv(attr.SERVICE_NAME, service), _kv(attr.ORGANISATION, org), _kv("service.version", "1.4.2")]
        )
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "ldv-synthetic"
        scope_spans.spans.extend(org_spans)
        request.resource_spans.append(resource_spans)
    return request


def synthetic_bodies(
    records: int,
    per_request: int,
    seed: int = 7,
    spread_seconds: int = 60,
    organisation: str | None = None,
    subjects: int = 10_000,
    in_time_order: bool = False,
) -> Iterator[bytes]:
    """Pre-encodable OTLP protobuf bodies holding `records` spans in all, `per_request` each
    (the last one may hold fewer), about `subjects` BSNs; every request has fresh ids.

    Start times lie within the last `spread_seconds`: in every request, or with `in_time_order`
    each request in its own slice of that time, oldest first (a store filled as days pass)."""
    if records <= 0:
        return
    rng = random.Random(seed)
    left = records
    count = -(-records // per_request)
    now = time.time_ns()
    slice_ns = spread_seconds * 10**9 // count
    for i in range(count):
        n = min(per_request, left)
        request = synthetic_request(
            n,
            seed=rng.randrange(2**32),
            subjects=subjects,
            spread_seconds=max(1, slice_ns // 10**9) if in_time_order else spread_seconds,
            organisation=organisation,
            until_ns=now - (count - 1 - i) * slice_ns if in_time_order else None,
        )
        yield request.SerializeToString()
        left -= n
