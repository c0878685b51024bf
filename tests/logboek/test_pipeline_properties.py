"""The record pipeline's fast paths equal its full paths, and its rules hold, over generated records.

Property-based (hypothesis): valid and invalid records with odd ids, missing attributes,
clear BSNs in every written form and place, unicode and huge values.
"""

from __future__ import annotations

import copy
import hashlib
import hmac

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

from ldv_logboek import attributes as attr
from ldv_logboek._otlp import (
    encode_resource_spans,
    encode_shaped,
    records_of,
    request_bytes,
    resource_spans_of,
    shape_bytes,
    shape_key,
)
from ldv_logboek._pipeline import OrdinaryRecords, process
from ldv_logboek._protect import CLEAR_BSN_RULE, Policy, _may_hold_candidate, clear_bsn_locations, protect
from ldv_logboek._pseudonym import (
    BSN_CANDIDATE,
    PSEUDONYM_PREFIX,
    Pseudonymiser,
    contains_bsn,
    is_pseudonym,
    pseudonymise,
)
from ldv_logboek._record import LogRecord
from tests.logboek.strategies import bsns, ids, pseudonyms, records, span_ids, texts, times, written

KEY = b"property-test-key-0123456789"
PSEUDONYMISER = Pseudonymiser(KEY)
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
SLOW = settings(max_examples=300, deadline=None, suppress_health_check=_HEALTH)
QUICK = settings(deadline=None, suppress_health_check=_HEALTH)


def _texts_outside_subject(record: LogRecord) -> list[str]:
    out = [record.name, record.status_message, record.trace_state]
    out += [v for k, v in record.attributes.items() if k != attr.DATA_SUBJECT_ID]
    out += list(record.resource_attributes.values())
    for event in record.events:
        out += [event.name, *event.attributes.values()]
    for link in record.links:
        out += list(link.attributes.values())
    return out


# -- encoding -------------------------------------------------------------------------------------


@SLOW
@given(
    records(),
    st.lists(
        st.tuples(ids, span_ids, st.one_of(st.just(b""), span_ids), times, times, st.one_of(texts, pseudonyms)),
        max_size=4,
    ),
)
def test_encoding_from_the_shape_equals_the_full_encoding(record: LogRecord, variants: list) -> None:
    record.events, record.links = [], []  # records with events or links have no shape
    shape = shape_bytes(record)
    for trace_id, span_id, parent, start, end, subject in [
        (record.trace_id, record.span_id, record.parent_span_id, record.start_time_ns, record.end_time_ns, None),
        *variants,
    ]:
        r = copy.deepcopy(record)
        r.trace_id, r.span_id, r.parent_span_id, r.start_time_ns, r.end_time_ns = trace_id, span_id, parent, start, end
        if subject is not None and attr.DATA_SUBJECT_ID in r.attributes:
            r.attributes[attr.DATA_SUBJECT_ID] = subject
        assert shape_key(r) == shape_key(record)
        assert ResourceSpans.FromString(encode_shaped(r, shape)) == resource_spans_of(r)
        assert ResourceSpans.FromString(encode_shaped(r, shape)) == ResourceSpans.FromString(encode_resource_spans(r))


@SLOW
@given(records())
def test_a_record_reads_back_from_its_encoding_unchanged(record: LogRecord) -> None:
    (back,) = records_of(ResourceSpans.FromString(encode_resource_spans(record)))
    assert back == record


@SLOW
@given(st.lists(records(with_events=False), max_size=4))
def test_a_request_of_spooled_bytes_is_the_request_of_the_records(batch: list[LogRecord]) -> None:
    body = request_bytes(encode_resource_spans(r) for r in batch)
    assert ExportTraceServiceRequest.FromString(body) == ExportTraceServiceRequest(
        resource_spans=[resource_spans_of(r) for r in batch]
    )


# -- pseudonyms -----------------------------------------------------------------------------------


@QUICK
@given(texts)
def test_the_keyed_hmac_is_hmac_sha256_of_the_stripped_id(subject: str) -> None:
    expected = (
        subject
        if is_pseudonym(subject)
        else PSEUDONYM_PREFIX + hmac.new(KEY, subject.strip().encode(), hashlib.sha256).hexdigest()
    )
    assert PSEUDONYMISER(subject) == pseudonymise(subject, KEY) == expected


@QUICK
@given(bsns(), st.integers(0, 7))
def test_every_written_form_of_a_bsn_gets_the_one_pseudonym_of_its_nine_digits(bsn: str, form: int) -> None:
    assert PSEUDONYMISER.subject(written(bsn, form), "BSN") == pseudonymise(bsn, KEY)


# -- the BSN guard ------------------------------------------------------------------------------


@QUICK
@given(texts)
def test_the_digit_count_shortcut_answers_as_the_regex(text: str) -> None:
    assert _may_hold_candidate(text) == (BSN_CANDIDATE.search(text) is not None)


@SLOW
@given(records())
def test_locations_are_found_exactly_where_a_bsn_is(record: LogRecord) -> None:
    assert bool(clear_bsn_locations(record)) == any(contains_bsn(t) for t in _texts_outside_subject(record))


@SLOW
@given(records())
def test_at_the_source_every_subject_is_pseudonymised_and_every_stray_bsn_redacted(record: LogRecord) -> None:
    had_subject = bool(record.attributes.get(attr.DATA_SUBJECT_ID))
    outcome = protect(record, Policy.at_source(PSEUDONYMISER))
    assert outcome.violations == []
    assert not any(contains_bsn(t) for t in _texts_outside_subject(record))
    if had_subject:
        assert is_pseudonym(record.attributes[attr.DATA_SUBJECT_ID])
    assert record.name.strip()


@SLOW
@given(records(), st.booleans())
def test_the_collector_rejects_what_the_source_would_redact_and_accepts_what_it_sends(
    record: LogRecord, keyed: bool
) -> None:
    at_collector = Policy.at_collector(PSEUDONYMISER if keyed else None)
    received = copy.deepcopy(record)
    outcome = protect(received, at_collector)
    stray = any(contains_bsn(t) for t in _texts_outside_subject(record))
    assert stray == any(v.rule == CLEAR_BSN_RULE and "was found in" in v.message for v in outcome.violations)
    assert _texts_outside_subject(received) == _texts_outside_subject(record)  # rejecting changes nothing
    # What the SDK sends passes the collector's guard and keeps its pseudonym.
    protect(record, Policy.at_source(PSEUDONYMISER))
    sent = copy.deepcopy(record)
    assert protect(sent, at_collector).violations == [] and sent == record


# -- the fast path of the whole pipeline -------------------------------------------------------------


@SLOW
@given(records(), st.lists(st.tuples(ids, span_ids, times, times, pseudonyms), max_size=3), st.booleans())
def test_ordinary_records_get_exactly_what_the_full_path_gives(record: LogRecord, variants: list, pseudonymous: bool) -> None:
    if pseudonymous and attr.DATA_SUBJECT_ID in record.attributes:
        record.attributes[attr.DATA_SUBJECT_ID] = PSEUDONYMISER(record.attributes[attr.DATA_SUBJECT_ID])
    policy = Policy.at_source(PSEUDONYMISER)
    fast = OrdinaryRecords(policy)
    for trace_id, span_id, start, end, subject in [(record.trace_id, record.span_id, record.start_time_ns, record.end_time_ns, None), *variants]:
        r = copy.deepcopy(record)
        r.trace_id, r.span_id, r.start_time_ns, r.end_time_ns = trace_id, span_id, start, end
        if subject is not None and attr.DATA_SUBJECT_ID in r.attributes:
            r.attributes[attr.DATA_SUBJECT_ID] = subject
        body = fast(copy.deepcopy(r))
        if body is None:
            continue  # the caller takes the full path
        full = copy.deepcopy(r)
        processed = process(full, policy)
        assert full == r  # the full path changes nothing
        assert processed.violations == [] and not processed.protection.clear_bsn_at and not processed.protection.repaired
        assert ResourceSpans.FromString(body) == ResourceSpans.FromString(processed.body)


def test_an_ordinary_record_takes_the_fast_path() -> None:
    record = LogRecord(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        name="huurtoeslag berekenen",
        start_time_ns=1,
        end_time_ns=2,
        attributes={
            attr.PROCESSING_ACTIVITY_ID: "https://register.example/a",
            attr.DATA_SUBJECT_ID: PSEUDONYMISER("123456782"),
            attr.DATA_SUBJECT_ID_TYPE: "BSN",
        },
        resource_attributes={attr.SERVICE_NAME: "svc", attr.ORGANISATION: "org"},
    )
    fast = OrdinaryRecords(Policy.at_source(PSEUDONYMISER))
    assert fast(record) is not None and fast(record) == fast(copy.deepcopy(record))
    record.attributes["dpl.demo.note"] = "aanvraag 123456782"  # a stray BSN: the full path redacts it
    assert fast(record) is None
