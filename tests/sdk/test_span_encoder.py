"""The one-pass span encoder (records.SpanEncoder) writes exactly what the generic pipeline writes.

The runtime spools an ordinary span through SpanEncoder and everything else through the generic
pipeline (span_to_record, pseudonymise_subject, guard_bsn, check_and_fix, RecordEncoder). For
every span below the encoder either declines (None) or gives the generic pipeline's text for a
record that pipeline would not change; the ordinary spans must not be declined. Real
OpenTelemetry SDK spans, real spools.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_logboek.pseudonym import contains_bsn, pseudonymise
from ldv_logboek.validation import check_record
from ldv_sdk import records as rec
from ldv_sdk.errors import LoggingFailed
from ldv_sdk.pseudonyms import Pseudonymiser
from ldv_sdk.runtime import SCOPE_NAME, SCOPE_VERSION
from tests.sdk.conftest import KEY, make_config

BSN = "123456782"
ARABIC_BSN = BSN.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
ACTIVITY = "https://register.example/activiteiten/huurtoeslag"
PSEUDONYM = pseudonymise(BSN, KEY)
RESOURCE = {attr.SERVICE_NAME: "svc", attr.ORGANISATION: "org"}
SCOPE = [SCOPE_NAME, SCOPE_VERSION]
DUMPS: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}
ORDINARY = {attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID: PSEUDONYM, attr.DATA_SUBJECT_ID_TYPE: "BSN"}
PARENT = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0x00F067AA0BA902B7, is_remote=True, trace_flags=TraceFlags(1))


class _Keep(SpanProcessor):
    """A span processor that keeps the finished spans (what the runtime's processor receives)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def _finished(
    attributes: dict[str, Any] | None = None,
    *,
    name: str = "huurtoeslag berekenen",
    status: Status | None = None,
    parent: SpanContext | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    event: bool = False,
    scope: tuple[str, str] = (SCOPE_NAME, SCOPE_VERSION),
    after: Callable[[Any], None] | None = None,
) -> ReadableSpan:
    keep = _Keep()
    provider = TracerProvider()
    provider.add_span_processor(keep)
    tracer = provider.get_tracer(*scope)
    ctx = set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
    span = tracer.start_span(name, context=ctx, kind=kind, attributes=dict(ORDINARY if attributes is None else attributes))
    if event:
        span.add_event("stap", {"n": 1})
    if status is not None:
        span.set_status(status)
    if after is not None:
        after(span)
    span.end()
    return keep.spans[0]


def _with(**changes: Any) -> dict[str, Any]:
    out = dict(ORDINARY)
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


ORDINARY_SPANS: dict[str, Callable[[], ReadableSpan]] = {
    "ordinary": lambda: _finished(),
    "with parent": lambda: _finished(parent=PARENT, kind=SpanKind.SERVER),
    "trace state": lambda: _finished(
        parent=SpanContext(PARENT.trace_id, PARENT.span_id, True, TraceFlags(1), TraceState([("ldv", "urn:ldv:application:a%3Ab")]))
    ),
    "ok": lambda: _finished(status=Status(StatusCode.OK)),
    "error": lambda: _finished(
        _with(**{"exception.type": "ValueError", "exception.message": 'bad "input"\n'}),
        status=Status(StatusCode.ERROR, "ValueError"),
    ),
    "odd name": lambda: _finished(name='quote " backslash \\ nul \x00 é ✓ \u2028'),
    "scalars": lambda: _finished(_with(**{"dpl.ext.n": 3, "dpl.ext.big": 2**62, "dpl.ext.r": 0.25, "dpl.ext.nan": float("nan"), "dpl.ext.f": True})),
    "no subject": lambda: _finished({attr.PROCESSING_ACTIVITY_ID: ACTIVITY}),
    "nothing": lambda: _finished({}),
    "foreign span id": lambda: _finished(_with(**{attr.FOREIGN_OPERATION_SPAN_ID: "123456782abcdef0"})),
    "processor": lambda: _finished(_with(**{attr.FOREIGN_OPERATION_PROCESSOR: "urn:ldv:application:a:b"})),
    "short digit runs": lambda: _finished(_with(**{"dpl.ext.zaak": "2024-000123, 12345 6789"})),
    "subject set later": lambda: _finished(
        {attr.PROCESSING_ACTIVITY_ID: ACTIVITY},
        after=lambda s: (s.set_attribute(attr.DATA_SUBJECT_ID, PSEUDONYM), s.set_attribute(attr.DATA_SUBJECT_ID_TYPE, "BSN")),
    ),
}

UNUSUAL_SPANS: dict[str, Callable[[], ReadableSpan]] = {
    "bsn in name": lambda: _finished(name=f"aanvraag {BSN}"),
    "bsn in attribute": lambda: _finished(_with(**{"dpl.ext.opmerking": f"voor {BSN}"})),
    "arabic-indic bsn": lambda: _finished(_with(**{"dpl.ext.opmerking": f"voor {ARABIC_BSN}"})),
    "bsn in status message": lambda: _finished(status=Status(StatusCode.ERROR, f"kapot {BSN}")),
    "nine digits no bsn": lambda: _finished(_with(**{"dpl.ext.ref": "ref 123456789"})),
    "bsn as foreign span id": lambda: _finished(_with(**{attr.FOREIGN_OPERATION_SPAN_ID: BSN})),
    "raw subject": lambda: _finished(_with(**{attr.DATA_SUBJECT_ID: BSN})),
    "raw subject no digits": lambda: _finished(_with(**{attr.DATA_SUBJECT_ID: "A-12"})),
    "empty subject with type": lambda: _finished(_with(**{attr.DATA_SUBJECT_ID: ""})),
    "type without subject": lambda: _finished(_with(**{attr.DATA_SUBJECT_ID: None})),
    "subject without type": lambda: _finished(_with(**{attr.DATA_SUBJECT_ID_TYPE: None})),
    "subject without activity": lambda: _finished(_with(**{attr.PROCESSING_ACTIVITY_ID: None})),
    "activity no uri": lambda: _finished(_with(**{attr.PROCESSING_ACTIVITY_ID: "huurtoeslag"})),
    "activity int": lambda: _finished(_with(**{attr.PROCESSING_ACTIVITY_ID: 5})),
    "processor no uri": lambda: _finished(_with(**{attr.FOREIGN_OPERATION_PROCESSOR: "dienst a"})),
    "read api no uri": lambda: _finished(_with(**{attr.EXTERNAL_READ_API_ID: "api"})),
    "sequence attribute": lambda: _finished(_with(**{"dpl.ext.lijst": ["a", "b"]})),
    "bsn in sequence": lambda: _finished(_with(**{"dpl.ext.lijst": ["a", BSN]})),
    "blank name": lambda: _finished(name="  "),
    "event": lambda: _finished(event=True),
    "other scope": lambda: _finished(scope=("ander", "1")),
}


def _generic(span: ReadableSpan) -> tuple[str, bool]:
    """The generic pipeline's text of `span`, and whether that pipeline changed or questioned the record."""
    record = rec.span_to_record(span, RESOURCE)
    before = json.dumps(record, **DUMPS)
    pseudonymised = rec.pseudonymise_subject(record, Pseudonymiser(KEY))
    found = rec.guard_bsn(record, resource_clean=True)
    fixed, problems = rec.check_and_fix(record)
    text = rec.RecordEncoder(RESOURCE, SCOPE).built(record, resource_untouched=True)
    assert text == json.dumps(record, **DUMPS)
    untouched = not (pseudonymised or found or fixed or problems) and text == before
    return text, untouched


@pytest.mark.parametrize("make", ORDINARY_SPANS.values(), ids=ORDINARY_SPANS.keys())
def test_an_ordinary_span_takes_the_one_pass_path_and_gets_the_generic_text(make: Callable[[], ReadableSpan]) -> None:
    span = make()
    text, untouched = _generic(span)
    assert untouched
    assert rec.SpanEncoder(RESOURCE, SCOPE)(span) == text


@pytest.mark.parametrize("make", UNUSUAL_SPANS.values(), ids=UNUSUAL_SPANS.keys())
def test_an_unusual_span_is_left_to_the_generic_pipeline(make: Callable[[], ReadableSpan]) -> None:
    span = make()
    assert rec.SpanEncoder(RESOURCE, SCOPE)(span) is None


@pytest.mark.parametrize(
    "make", [*ORDINARY_SPANS.values(), *UNUSUAL_SPANS.values()], ids=[*ORDINARY_SPANS.keys(), *UNUSUAL_SPANS.keys()]
)
def test_the_one_pass_path_answers_only_what_the_generic_pipeline_would_write_unchanged(make: Callable[[], ReadableSpan]) -> None:
    span = make()
    text, untouched = _generic(span)
    fast = rec.SpanEncoder(RESOURCE, SCOPE)(span)
    if fast is not None:
        assert untouched and fast == text
        record = json.loads(fast)
        assert check_record(rec.to_log_record(record)) == []  # the core's own verdict agrees
        assert not contains_bsn(fast)  # no clear BSN standing on its own anywhere in the text


def test_the_encoder_is_reusable_across_spans_and_scopes() -> None:
    encode = rec.SpanEncoder(RESOURCE, SCOPE)
    first, other, second = _finished(), _finished(scope=("ander", "1")), _finished(parent=PARENT)
    assert encode(first) == _generic(first)[0]
    assert encode(other) is None  # the scope remembered by identity is not taken on trust for another one
    assert encode(second) == _generic(second)[0]


def test_one_encoder_gives_the_generic_text_for_every_span_again_and_again() -> None:
    # One encoder for all spans, three times over: the second and third rounds answer from the
    # shapes worked out in the first, for new ids, times and pseudonyms.
    encode = rec.SpanEncoder(RESOURCE, SCOPE)
    makers = [(make, True) for make in ORDINARY_SPANS.values()] + [(make, False) for make in UNUSUAL_SPANS.values()]
    for _ in range(3):
        for make, ordinary in makers:
            span = make()
            assert encode(span) == (_generic(span)[0] if ordinary else None)


@pytest.mark.parametrize(
    "values",
    [(1, True, 1.0), (0.0, -0.0), (2**62, 2**62 + 1), ("a", "b")],
    ids=["int bool float", "zero and minus zero", "ints", "texts"],
)
def test_equal_keys_of_other_types_or_texts_are_not_one_shape(values: tuple[Any, ...]) -> None:
    encode = rec.SpanEncoder(RESOURCE, SCOPE)
    for _ in range(2):
        for value in values:
            span = _finished(_with(**{"dpl.ext.waarde": value}))
            assert encode(span) == _generic(span)[0]


def test_other_pseudonyms_fill_the_same_shape() -> None:
    encode = rec.SpanEncoder(RESOURCE, SCOPE)
    for subject in ("111222333", BSN, "A-12", 'met "quote"'):
        span = _finished(_with(**{attr.DATA_SUBJECT_ID: pseudonymise(subject, KEY)}))
        assert encode(span) == _generic(span)[0]
    odd = "hmac-sha256:" + '"\\' + "x" * 62  # a pseudonym by its form, with characters JSON escapes
    span = _finished(_with(**{attr.DATA_SUBJECT_ID: odd}))
    assert encode(span) == _generic(span)[0]
    assert len(encode._shapes) == 1


def test_the_shapes_are_bounded() -> None:
    encode = rec.SpanEncoder(RESOURCE, SCOPE)
    for n in range(rec._MAX_SHAPES + 20):
        span = _finished(name=f"stap {n}")
        assert encode(span) == _generic(span)[0]
        assert len(encode._shapes) <= rec._MAX_SHAPES
    span = _finished(name="stap 3")  # forgotten when the shapes were cleared: worked out again
    assert encode(span) == _generic(span)[0]


def test_a_bsn_that_reaches_the_runtime_is_redacted_in_the_spool(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Through a real runtime and spool: ordinary records go the fast way, the rest the generic way."""
    runtime = ldv_sdk.configure(make_config(tmp_path, start_sender=False))
    with caplog.at_level(logging.WARNING, logger="ldv_sdk"):
        with ldv_sdk.verwerking("huurtoeslag", "gewoon") as v:
            v.add_subject(BSN)
        with ldv_sdk.verwerking("huurtoeslag", "opmerking") as v:
            v.add_subject(BSN)
            v.set_attribute("dpl.ext.opmerking", f"aanvraag van {BSN}")
        with ldv_sdk.verwerking("huurtoeslag", "rauw") as v:
            v.set_attribute(attr.DATA_SUBJECT_ID, BSN)  # a raw id: pseudonymised on the way
            v.set_attribute(attr.DATA_SUBJECT_ID_TYPE, "BSN")
    assert runtime.spool is not None
    bodies = [item.body for item in runtime.spool.peek(10)]
    ldv_sdk.shutdown(timeout=0)
    assert len(bodies) == 3
    assert all(BSN not in body for body in bodies)
    records = [json.loads(body) for body in bodies]
    key = make_config(tmp_path).pseudonym_key
    assert [r["attributes"][attr.DATA_SUBJECT_ID] for r in records] == [pseudonymise(BSN, key)] * 3
    assert records[1]["attributes"]["dpl.ext.opmerking"] == f"aanvraag van {rec.REDACTED}"
    assert "attributes.dpl.ext.opmerking" in caplog.text and BSN not in caplog.text
    assert all(body == json.dumps(r, **DUMPS) for body, r in zip(bodies, records, strict=True))


def test_a_record_the_core_refuses_still_fails_closed_through_the_spool(tmp_path: Path) -> None:
    ldv_sdk.configure(make_config(tmp_path, start_sender=False, failure_policy="closed"))
    with pytest.raises(LoggingFailed, match="breaks the standard"), ldv_sdk.verwerking("huurtoeslag", "lezen") as v:
        v.set_external_read_api("https://api.example/ldv")
        v.set_attribute(attr.EXTERNAL_READ_API_ID, "geen uri")


def test_the_pseudonymiser_gives_the_same_pseudonym_with_and_without_the_inner_mac() -> None:
    fast = Pseudonymiser(KEY)
    assert type(fast._keyed).__name__ == "HMAC" and not isinstance(fast._keyed, hmac.HMAC)  # the shortcut applies here
    wrapper = Pseudonymiser(KEY)
    wrapper._keyed = hmac.new(KEY, digestmod=hashlib.sha256)  # the path without the inner object
    for subject in (BSN, f" {BSN} ", "A-12 ß/é", PSEUDONYM):
        assert fast(subject) == wrapper(subject) == pseudonymise(subject, KEY)
