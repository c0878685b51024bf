"""Checking spans: validation into partial-success messages, non-LDV spans, the BSN guard."""

from __future__ import annotations

import os

import pytest

from ldv_collector._ingest import Ingester
from ldv_collector.settings import CollectorSettings
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from tests.collector.helpers import (
    ACTIVITY,
    ORGANISATION,
    VALID_BSN,
    ldv_attributes,
    make_request,
    make_span,
)

DEFAULT_KEY = "default-key-0123456789"
ORG_KEY = "toeslagen-key-0123456789"


def ingest(spans: list, settings: CollectorSettings | None = None, **request_kwargs: object):
    return Ingester(settings or CollectorSettings()).ingest(make_request(spans, **request_kwargs))


def test_spans_without_dpl_attributes_are_ignored_not_rejected() -> None:
    result = ingest([make_span({"http.method": "GET"}), make_span({}), make_span()])
    assert (result.received, result.ignored, len(result.records), result.rejections) == (3, 2, 1, [])


def test_invalid_spans_are_rejected_with_their_ids_names_and_rules() -> None:
    good = make_span()
    no_subject_type = make_span({attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID: "hmac-sha256:" + "0" * 64})
    bad_uri = make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: "not a uri"}), name="opvragen")
    zero_trace = make_span(trace_id=bytes(16))
    ends_early = make_span(duration_ns=-5)
    bad_status = make_span(status_code=7)

    result = ingest([good, no_subject_type, bad_uri, zero_trace, ends_early, bad_status])

    assert [r.span_id for r in result.records] == [good.span_id]
    assert len(result.rejections) == 5
    message = result.error_message(8192)
    lines = message.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"span {no_subject_type.trace_id.hex()}/{no_subject_type.span_id.hex()} ('huurtoeslag berekenen'): ")
    assert "data-subject-pair" in lines[0]
    assert f"/{bad_uri.span_id.hex()} ('opvragen'): processing-activity-uri" in lines[1]
    assert "trace-id: trace_id must be 16 bytes (32 hex digits), not all zeros; got 16 bytes" in lines[2]
    assert "end-time" in lines[3]
    assert "status: status code must be 0 (Unset), 1 (Ok) or 2 (Error), got 7" in lines[4]


def test_error_message_is_capped_and_counts_the_rest() -> None:
    spans = [make_span(ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: "x" * 300})) for _ in range(100)]
    result = ingest(spans)
    message = result.error_message(2000)
    assert len(result.rejections) == 100
    assert len(message) <= 2000
    listed = message.count("processing-activity-uri")
    assert 1 <= listed < 100
    assert message.endswith(f"... and {100 - listed} more rejected spans not listed")
    # Even one very long line is cut, not dropped.
    assert len(ingest(spans[:1]).error_message(300)) <= 300


@pytest.mark.parametrize(
    "where, span_kwargs, resource_extra, expected_location",
    [
        ("attribute", {"attributes": ldv_attributes(**{"url.query": f"bsn={VALID_BSN}"})}, {}, "attribute 'url.query'"),
        ("activity", {"attributes": ldv_attributes(**{attr.PROCESSING_ACTIVITY_ID: f"urn:x:{VALID_BSN}"})}, {}, attr.PROCESSING_ACTIVITY_ID),
        ("name", {"name": f"opvragen {VALID_BSN}"}, {}, "the span name"),
        ("resource", {}, {"host.name": f"host-{VALID_BSN}"}, "resource attribute 'host.name'"),
    ],
)
def test_clear_bsn_outside_the_subject_id_is_rejected_without_echoing_it(
    where: str, span_kwargs: dict, resource_extra: dict, expected_location: str
) -> None:
    span = make_span(**span_kwargs)
    resource = {attr.SERVICE_NAME: "svc", attr.ORGANISATION: ORGANISATION, **resource_extra}
    settings = CollectorSettings(pseudonymisation_key=DEFAULT_KEY)  # a key does not excuse a stray BSN
    result = ingest([span], settings, resource=resource)
    assert result.records == []
    message = result.error_message(8192)
    assert "clear-bsn" in message and expected_location in message
    assert VALID_BSN not in message


def test_clear_bsn_in_event_attribute_is_rejected() -> None:
    span = make_span()
    event = span.events.add(time_unix_nano=span.start_time_unix_nano, name="exception")
    event.attributes.add(key=attr.EXCEPTION_MESSAGE).value.string_value = f"no person {VALID_BSN}"
    result = ingest([span])
    assert result.records == []
    message = result.error_message(8192)
    assert f"attribute {attr.EXCEPTION_MESSAGE!r} of event 0" in message and VALID_BSN not in message


def test_clear_bsn_in_the_trace_state_is_rejected() -> None:
    span = make_span()
    span.trace_state = f"ldv=urn:ldv:application:x:y,vendor=k-{VALID_BSN}"
    result = ingest([span, make_span()])
    assert len(result.records) == 1  # the other span of the request is stored
    message = result.error_message(8192)
    assert "the trace state" in message and VALID_BSN not in message


def test_clear_bsn_in_a_links_trace_state_is_rejected() -> None:
    span = make_span()
    span.links.add(trace_id=os.urandom(16), span_id=os.urandom(8), trace_state=f"vendor=k-{VALID_BSN}")
    result = ingest([span, make_span()])
    assert len(result.records) == 1  # the other span of the request is stored
    message = result.error_message(8192)
    assert "the trace state of link 0" in message and VALID_BSN not in message


@pytest.mark.parametrize(
    "where, expected_location",
    [
        ("span attribute key", "the key of an attribute"),
        ("resource attribute key", "the key of a resource attribute"),
        ("event attribute key", "the key of an attribute of event 0"),
        ("link attribute key", "the key of an attribute of link 0"),
        ("scope name", "the scope name"),
        ("scope version", "the scope version"),
    ],
)
def test_clear_bsn_in_a_key_or_the_scope_is_rejected(where: str, expected_location: str) -> None:
    """Every text a record stores is searched, keys and the instrumentation scope too; the
    message names the place without the key (it holds the number)."""
    span = make_span(ldv_attributes(**({f"klant.{VALID_BSN}": "x"} if where == "span attribute key" else {})))
    if where == "event attribute key":
        event = span.events.add(time_unix_nano=span.start_time_unix_nano, name="opgevraagd")
        event.attributes.add(key=f"k{VALID_BSN}"[1:] + ".x").value.string_value = "x"
    if where == "link attribute key":
        link = span.links.add(trace_id=os.urandom(16), span_id=os.urandom(8))
        link.attributes.add(key=f"bsn {VALID_BSN}").value.string_value = "x"
    resource = {attr.SERVICE_NAME: "svc", attr.ORGANISATION: ORGANISATION}
    if where == "resource attribute key":
        resource[f"host {VALID_BSN}"] = "x"
    scope = {"scope name": (f"lib-{VALID_BSN}", "1"), "scope version": ("lib", f"1-{VALID_BSN}")}.get(
        where, ("lib", "1")
    )
    result = ingest([span], resource=resource, scope=scope)
    assert result.records == []
    message = result.error_message(8192)
    assert "clear-bsn" in message and expected_location in message
    assert VALID_BSN not in message


def test_nine_digits_failing_the_elfproef_are_not_a_bsn() -> None:
    result = ingest([make_span(ldv_attributes(**{"order.number": "123456789"}))])
    assert len(result.records) == 1


def test_clear_bsn_subject_is_pseudonymised_with_the_default_key() -> None:
    result = ingest([make_span(ldv_attributes(subject=VALID_BSN))], CollectorSettings(pseudonymisation_key=DEFAULT_KEY))
    [record] = result.records
    assert record.data_subject_id == pseudonymise(VALID_BSN, DEFAULT_KEY.encode())
    assert result.pseudonymised == 1


def test_organisation_key_wins_over_the_default_key() -> None:
    settings = CollectorSettings(pseudonymisation_key=DEFAULT_KEY, organisation_keys={ORGANISATION: ORG_KEY})
    own = ingest([make_span(ldv_attributes(subject=VALID_BSN))], settings)
    other = ingest(
        [make_span(ldv_attributes(subject=VALID_BSN))], settings, resource={attr.ORGANISATION: "gemeente-amsterdam"}
    )
    assert own.records[0].data_subject_id == pseudonymise(VALID_BSN, ORG_KEY.encode())
    assert other.records[0].data_subject_id == pseudonymise(VALID_BSN, DEFAULT_KEY.encode())


def test_pseudonym_is_not_hashed_twice_and_other_subject_types_are_kept() -> None:
    settings = CollectorSettings(pseudonymisation_key=DEFAULT_KEY)
    pseudonym = pseudonymise(VALID_BSN, b"sdk-side-key-000000")
    staff = ldv_attributes(subject="P-0042")
    staff[attr.DATA_SUBJECT_ID_TYPE] = "urn:example:personeelsnummer"
    result = ingest([make_span(ldv_attributes(subject=pseudonym)), make_span(staff)], settings)
    assert [r.data_subject_id for r in result.records] == [pseudonym, "P-0042"]
    assert result.pseudonymised == 0


def test_clear_bsn_subject_without_key_is_rejected_unless_explicitly_allowed() -> None:
    span = make_span(ldv_attributes(subject=VALID_BSN))
    refused = ingest([span])
    assert refused.records == [] and "clear-bsn" in refused.error_message(8192)
    assert VALID_BSN not in refused.error_message(8192)
    allowed = ingest([span], CollectorSettings(store_clear_bsn=True))
    assert allowed.records[0].data_subject_id == VALID_BSN


def test_settings_from_environment_and_key_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_COLLECTOR_MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("LDV_ORGANISATION_KEYS", f'{{"{ORGANISATION}": "{ORG_KEY}"}}')
    monkeypatch.setenv("LDV_COLLECTOR_STORE_CLEAR_BSN", "true")
    settings = CollectorSettings()
    assert (settings.max_body_bytes, settings.store_clear_bsn) == (1234, True)
    assert settings.organisation_keys[ORGANISATION].get_secret_value() == ORG_KEY
    assert ORG_KEY not in repr(settings)  # keys are secrets
    with pytest.raises(ValueError, match="at least 16") as info:
        CollectorSettings(pseudonymisation_key="short")
    assert "short" not in str(info.value)
    with pytest.raises(ValueError, match="gemeente") as info:
        CollectorSettings(organisation_keys={"gemeente": "tiny"})
    assert "tiny" not in str(info.value)


def test_trace_with_many_spans_keeps_order() -> None:
    trace_id = os.urandom(16)
    spans = [make_span(trace_id=trace_id) for _ in range(20)]
    assert [r.span_id for r in ingest(spans).records] == [s.span_id for s in spans]


# Subject ids as other LDV implementations pseudonymise a BSN (none of them is ours).
FOREIGN_SUBJECTS = [
    "k9Xq2YzL0p1W8sV3nB6mT4rC7dF5gH9jK2lZ0xQ8wE4=",  # base64 of an encrypted id
    "Ed3fZ8_1x-9yQLr0TwPq",  # base64url
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # hex: another HMAC, an OPRF output
    "oprf:v1:5b2c0f6e8a1d4b7c9e3f2a1b0c9d8e7f",
    "HMAC-SHA512:" + "cd" * 64,
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
]


@pytest.mark.parametrize("settings", [CollectorSettings(), CollectorSettings(pseudonymisation_key=DEFAULT_KEY)])
def test_other_implementations_pseudonyms_are_stored_as_they_are(settings: CollectorSettings) -> None:
    # Neither refused as "a clear BSN" (no key) nor pseudonymised a second time (with a key); nor
    # flagged by the BSN guard on other attributes.
    spans = [make_span(ldv_attributes(subject=s, **{"app.peer_subject_id": s})) for s in FOREIGN_SUBJECTS]
    result = ingest(spans, settings)
    assert result.rejections == [] and result.pseudonymised == 0
    assert [r.data_subject_id for r in result.records] == FOREIGN_SUBJECTS


@pytest.mark.parametrize("written", [VALID_BSN, "1234.56.782", "123 456 782", "123-456-782", " 123456782 "])
def test_a_clear_bsn_however_written_gets_the_one_pseudonym_of_its_nine_digits(written: str) -> None:
    result = ingest([make_span(ldv_attributes(subject=written))], CollectorSettings(pseudonymisation_key=DEFAULT_KEY))
    assert [r.data_subject_id for r in result.records] == [pseudonymise(VALID_BSN, DEFAULT_KEY.encode())]


def test_a_bsn_without_its_leading_zero_is_clear_too() -> None:
    result = ingest([make_span(ldv_attributes(subject="12345672"))], CollectorSettings(pseudonymisation_key=DEFAULT_KEY))
    assert [r.data_subject_id for r in result.records] == [pseudonymise("012345672", DEFAULT_KEY.encode())]


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (VALID_BSN, "holds a clear BSN (9 digits, elfproef)"),
        ("1234.56.782", "holds a clear BSN (9 digits with separators, elfproef)"),
        ("12345672", "holds a clear BSN (8 digits: a BSN without its leading zero, elfproef)"),
        (f"BSN {VALID_BSN}", "holds a clear BSN (a BSN amid other text)"),
    ],
)
def test_the_refusal_says_what_was_found_without_echoing_it(written: str, said: str) -> None:
    message = ingest([make_span(ldv_attributes(subject=written))]).error_message(8192)
    assert f"{attr.DATA_SUBJECT_ID} {said}" in message
    assert written.strip() not in message and VALID_BSN not in message and "12345672" not in message


def test_a_bsn_amid_other_text_is_refused_even_with_a_key() -> None:
    # It has no pseudonym of its own: pseudonymising the whole text would hide the citizen from the inzage.
    result = ingest([make_span(ldv_attributes(subject=f"bsn:{VALID_BSN}"))], CollectorSettings(pseudonymisation_key=DEFAULT_KEY))
    assert result.records == [] and "send the BSN alone" in result.error_message(8192)


def test_times_past_the_stores_range_are_refused_as_bad_input() -> None:
    # DateTime64(9) ends in 2262: such a span would make the insert (and the whole request) fail.
    late = make_span(start_ns=2**63 + 10)
    result = ingest([make_span(), late])
    assert len(result.records) == 1 and [r.span_id for r in result.rejections] == [late.span_id]
    assert "time-range" in result.error_message(8192) and "2262" in result.error_message(8192)


def _one_path_ingester() -> Ingester:
    return Ingester(CollectorSettings(pseudonymisation_key=DEFAULT_KEY, store_clear_bsn=False))


def test_a_large_request_keeps_every_rule_and_the_span_order() -> None:
    """Many ordinary spans, one clear BSN and one subject to pseudonymise among them: one path decides all."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    spans = [make_span() for _ in range(64)]
    spans[5].attributes.append(KeyValue(key="opmerking", value=AnyValue(string_value=f"bsn {VALID_BSN}")))
    spans[9] = make_span(ldv_attributes(subject=VALID_BSN))
    spans[20] = make_span(status_code=9)
    result = _one_path_ingester().ingest(make_request(spans))
    assert [r.span_id for r in result.rejections] == [spans[5].span_id, spans[20].span_id]
    message = result.error_message(8192)
    assert "clear-bsn" in message and "status: status code must be 0" in message and VALID_BSN not in message
    assert result.pseudonymised == 1
    stored = result.records
    assert [r.span_id for r in stored] == [s.span_id for i, s in enumerate(spans) if i not in (5, 20)]
    assert stored[8].data_subject_id == pseudonymise(VALID_BSN, DEFAULT_KEY.encode())


def test_a_clear_bsn_in_the_resource_refuses_every_span_of_it() -> None:
    spans = [make_span() for _ in range(40)]
    resource = {attr.SERVICE_NAME: "toeslagen-api", "host.name": f"pc-{VALID_BSN}"}
    result = _one_path_ingester().ingest(make_request(spans, resource=resource))
    assert len(result) == 0 and len(result.rejections) == len(spans)
    assert all("clear-bsn" in r.describe() and VALID_BSN not in r.describe() for r in result.rejections)
