"""The per-record shortcuts give exactly what the plain paths give.

Each shortcut of the record pipeline (keyed-once pseudonyms, the conservative validity check,
the JSON encoder, the resource checked once) is held equal to the code it stands in for:
ldv_logboek's pseudonymise and check_record, and json.dumps.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_logboek.pseudonym import pseudonymise
from ldv_logboek.validation import check_record
from ldv_sdk import records as rec
from ldv_sdk.pseudonyms import Pseudonymiser
from ldv_sdk.spool import Spool
from ldv_sdk.testing import capture_ldv
from tests.sdk.conftest import make_config

KEY = b"fast-path-test-key-0123456789"
BSN = "123456782"
ACTIVITY = "https://register.example/activiteiten/huurtoeslag"
DUMPS: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}


def base_record() -> rec.Record:
    return {
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "span_id": "b7ad6b7169203331",
        "parent_span_id": "",
        "name": "huurtoeslag berekenen",
        "kind": "Internal",
        "trace_state": "",
        "start_time_ns": 1_700_000_000_000_000_000,
        "end_time_ns": 1_700_000_000_000_500_000,
        "status": "Unset",
        "status_message": "",
        "attributes": {
            attr.PROCESSING_ACTIVITY_ID: ACTIVITY,
            attr.DATA_SUBJECT_ID: pseudonymise(BSN, KEY),
            attr.DATA_SUBJECT_ID_TYPE: "BSN",
        },
        "resource": {attr.SERVICE_NAME: "svc", attr.ORGANISATION: "org"},
        "scope": ["ldv_sdk", "0.1.0"],
        "events": [],
    }


@pytest.mark.parametrize(
    "subject",
    [BSN, f"  {BSN} ", "A-12 ß/é", "x" * 300, pseudonymise(BSN, KEY), "hmac-sha256:short"],
)
def test_pseudonymiser_gives_the_core_pseudonym(subject: str) -> None:
    assert Pseudonymiser(KEY)(subject) == pseudonymise(subject, KEY)


def test_pseudonymiser_is_reusable_and_refuses_an_empty_key() -> None:
    p = Pseudonymiser(KEY)
    assert [p(BSN), p("111222333"), p(BSN)] == [pseudonymise(BSN, KEY), pseudonymise("111222333", KEY), pseudonymise(BSN, KEY)]
    with pytest.raises(ValueError):
        Pseudonymiser(b"")


def _broken_variants() -> list[tuple[str, rec.Record]]:
    """One record per way to break (or nearly break) a rule of the standard."""
    changes: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("valid", {}, {}),
        ("zero trace id", {"trace_id": "0" * 32}, {}),
        ("short trace id", {"trace_id": "ab" * 8}, {}),
        ("zero span id", {"span_id": "0" * 16}, {}),
        ("zero parent", {"parent_span_id": "0" * 16}, {}),
        ("short parent", {"parent_span_id": "abcd"}, {}),
        ("valid parent", {"parent_span_id": "00f067aa0ba902b7"}, {}),
        ("blank name", {"name": "  "}, {}),
        ("bad status", {"status": "Kapot"}, {}),
        ("no start", {"start_time_ns": 0}, {}),
        ("no end", {"end_time_ns": 0}, {}),
        ("end before start", {"end_time_ns": 1}, {}),
        ("end equals start", {"end_time_ns": 1_700_000_000_000_000_000}, {}),
        ("activity no URI", {}, {attr.PROCESSING_ACTIVITY_ID: "huurtoeslag"}),
        ("activity empty", {}, {attr.PROCESSING_ACTIVITY_ID: ""}),
        ("activity int", {}, {attr.PROCESSING_ACTIVITY_ID: 5}),
        ("subject without type", {}, {attr.DATA_SUBJECT_ID_TYPE: None}),
        ("type without subject", {}, {attr.DATA_SUBJECT_ID: None}),
        ("subject false", {}, {attr.DATA_SUBJECT_ID: False}),
        ("subject without activity", {}, {attr.PROCESSING_ACTIVITY_ID: None}),
        ("no subject no activity", {}, {attr.PROCESSING_ACTIVITY_ID: None, attr.DATA_SUBJECT_ID: None, attr.DATA_SUBJECT_ID_TYPE: None}),
        ("processor URI", {}, {attr.FOREIGN_OPERATION_PROCESSOR: "urn:ldv:application:a:b"}),
        ("processor no URI", {}, {attr.FOREIGN_OPERATION_PROCESSOR: "dienst a"}),
        ("read api no URI", {}, {attr.EXTERNAL_READ_API_ID: "api"}),
        ("read api URI", {}, {attr.EXTERNAL_READ_API_ID: "https://api.example/ldv"}),
        ("read api list", {}, {attr.EXTERNAL_READ_API_ID: ["https://api.example/ldv"]}),
    ]
    out = []
    for label, fields, attributes in changes:
        record = base_record()
        record.update(fields)
        for key, value in attributes.items():
            if value is None:
                record["attributes"].pop(key, None)
            else:
                record["attributes"][key] = value
        out.append((label, record))
    return out


@pytest.mark.parametrize(("label", "record"), _broken_variants(), ids=[label for label, _ in _broken_variants()])
def test_quick_check_agrees_with_the_core(label: str, record: rec.Record) -> None:
    if rec.plainly_valid(record):  # the shortcut never passes what the core refuses
        assert check_record(rec.to_log_record(record)) == [], label
    _fixed, problems = rec.check_and_fix(record)  # fixes what it can (a blank name, a lone subject type) first
    assert problems == check_record(rec.to_log_record(record))  # then the core's own verdict
    assert bool(problems) == (label not in ("valid", "valid parent", "end equals start", "processor URI", "read api URI", "no subject no activity", "blank name", "type without subject")), label


def test_quick_check_passes_the_ordinary_records() -> None:
    # The point of the shortcut: a normal record does not pay for the full check.
    assert rec.plainly_valid(base_record())
    with_parent = base_record() | {"parent_span_id": "00f067aa0ba902b7", "status": "Error"}
    assert rec.plainly_valid(with_parent)


def _records_to_encode() -> list[rec.Record]:
    odd = base_record()
    odd["name"] = 'quote " backslash \\ newline \n tab \t nul \x00 é ✓ \u2028'
    odd["trace_state"] = "ldv=urn:ldv:application:a%3Ab,other=1"
    odd["status"] = "Error"
    odd["status_message"] = "ValueError"
    odd["attributes"].update(
        {
            "exception.message": "bad \"input\"\r\n",
            "dpl.ext.count": 3,
            "dpl.ext.ratio": 0.25,
            "dpl.ext.big": 2**70,
            "dpl.ext.flag": True,
            "dpl.ext.nan": float("nan"),
            "dpl.ext.list": ["a", "b\n"],
            "dpl.ext.ints": [1, 2],
        }
    )
    odd["events"] = [{"time_ns": 5, "name": "exception", "attributes": {"exception.type": "ValueError", "n": 1}}]
    other_resource = base_record()
    other_resource["resource"] = {attr.SERVICE_NAME: "ander", "extra": "é"}
    other_scope = base_record()
    other_scope["scope"] = ["other", ""]
    odd_times = base_record()
    odd_times["start_time_ns"] = True  # not an int: the fallback
    odd_id = base_record()
    odd_id["span_id"] = 'b7ad6b71"9203331'  # would break unescaped JSON: the fallback
    extra_key = base_record()
    extra_key["extra"] = 1
    return [base_record(), odd, other_resource, other_scope, odd_times, odd_id, extra_key]


@pytest.mark.parametrize("record", _records_to_encode())
def test_record_encoder_writes_what_json_dumps_writes(record: rec.Record) -> None:
    encode = rec.RecordEncoder({attr.SERVICE_NAME: "svc", attr.ORGANISATION: "org"}, ["ldv_sdk", "0.1.0"])
    text = encode(record)
    assert text == json.dumps(record, **DUMPS)
    assert json.loads(text).keys() == record.keys()


@pytest.mark.parametrize("record", _records_to_encode())
def test_encoding_a_built_record_writes_what_json_dumps_writes(record: rec.Record) -> None:
    # The runtime's path: `built` trusts span_to_record's ids and times, and falls back when the
    # resource or scope is not the runtime's own.
    encode = rec.RecordEncoder({attr.SERVICE_NAME: "svc", attr.ORGANISATION: "org"}, ["ldv_sdk", "0.1.0"])
    for untouched in (True, False):
        made_by_span_to_record = type(record.get("start_time_ns")) is int and all(
            c in "0123456789abcdef" for c in str(record.get("span_id"))
        )
        if untouched and (
            record.get("resource") != {attr.SERVICE_NAME: "svc", attr.ORGANISATION: "org"} or not made_by_span_to_record
        ):
            continue  # the runtime only says "untouched" for its own records, with its own resource
        assert encode.built(record, resource_untouched=untouched) == json.dumps(record, **DUMPS)


def test_spooled_body_is_the_json_of_the_captured_record(tmp_path: Path) -> None:
    """The spool's text and the test sink's dict are one record: same pipeline, same content."""

    @ldv_sdk.verwerking(ACTIVITY, "huurtoeslag berekenen", subject="bsn")
    def bereken(bsn: str) -> None:
        ldv_sdk.current().set_attribute("dpl.ext.opmerking", 'aanvraag "spoed"\n')  # type: ignore[union-attr]

    runtime = ldv_sdk.configure(make_config(tmp_path, start_sender=False))
    bereken(BSN)
    bereken(BSN)
    assert runtime.spool is not None
    bodies = [item.body for item in runtime.spool.peek(10)]
    ldv_sdk.shutdown(timeout=0)
    assert len(bodies) == 2
    for body in bodies:
        record = json.loads(body)
        assert body == json.dumps(record, **DUMPS)
        assert record["attributes"][attr.DATA_SUBJECT_ID] == pseudonymise(BSN, make_config(tmp_path).pseudonym_key)
        assert record["attributes"]["dpl.ext.opmerking"] == 'aanvraag "spoed"\n'
        assert record["resource"] == {attr.SERVICE_NAME: "bijstand-api", attr.ORGANISATION: "gemeente-amsterdam"}
        assert BSN not in body
    reopened = Spool(tmp_path / "spool.sqlite3")  # what a restart finds: the same two records
    assert [item.body for item in reopened.peek(10)] == bodies and len(reopened) == 2
    reopened.close()


def test_a_bsn_in_the_configured_resource_is_still_redacted(caplog: pytest.LogCaptureFixture) -> None:
    # The resource is searched once at start; one that holds a nine-digit run takes the full guard.
    with (
        caplog.at_level(logging.WARNING, logger="ldv_sdk"),
        capture_ldv(service_name=f"dienst {BSN}") as records,
        ldv_sdk.verwerking(ACTIVITY, "iets"),
    ):
        pass
    assert records[0]["resource"][attr.SERVICE_NAME] == f"dienst {rec.REDACTED}"
    assert "resource.service.name" in caplog.text
    assert BSN not in caplog.text


def test_a_nine_digit_run_that_is_no_bsn_in_the_resource_is_kept() -> None:
    with capture_ldv(service_name="dienst 123456789") as records, ldv_sdk.verwerking(ACTIVITY, "iets"):  # fails the elfproef
        pass
    assert records[0]["resource"][attr.SERVICE_NAME] == "dienst 123456789"


def test_attributes_are_read_from_the_finished_span_as_the_public_view_gives_them() -> None:
    tracer = TracerProvider().get_tracer("t")
    span = tracer.start_span("n", attributes={"a": "1", "b": (1, 2), "c": True})
    span.end()
    readable = span._readable_span()  # what a span processor receives
    assert rec._attribute_dict(readable) == dict(readable.attributes)
    # The shortcut really applies on the installed OpenTelemetry SDK (else the benchmark says so too).
    assert type(readable._attributes._dict) is dict  # type: ignore[attr-defined]
    record = rec.span_to_record(readable, {})
    assert record["attributes"] == {"a": "1", "b": [1, 2], "c": True}


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (f"aanvraag {BSN}", True),
        (f"aanvraag {BSN.translate(str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩'))}", True),  # Arabic-Indic digits: still a BSN
        ("12345 6789 en 1234", False),  # nine digits, but no run of nine
        ("zaak 2024-000123", False),
        ("ref 123456789", False),  # a run of nine that fails the elfproef
    ],
)
def test_guard_shortcut_misses_no_bsn(text: str, redacted: bool) -> None:
    record = base_record()
    record["attributes"]["dpl.ext.opmerking"] = text
    found = rec.guard_bsn(record, resource_clean=True)
    assert (found == ["attributes.dpl.ext.opmerking"]) is redacted
    assert (rec.REDACTED in record["attributes"]["dpl.ext.opmerking"]) is redacted
