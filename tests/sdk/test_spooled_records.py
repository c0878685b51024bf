"""What the SDK spools: the OTLP protobuf it sends, guarded and pseudonymised by the core's rules.

Real runtime, real spool; records read back with the core's OTLP reader.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_logboek import records_of
from ldv_logboek._protect import REDACTED
from ldv_logboek._pseudonym import Pseudonymiser, pseudonymise
from ldv_logboek._record import LogRecord
from ldv_sdk._runtime import record_of
from ldv_sdk._spool import Spool
from ldv_sdk.errors import LoggingFailed
from ldv_sdk.testing import capture_ldv
from tests.sdk.conftest import KEY, make_config

BSN = "123456782"
ACTIVITY = "https://register.example/activiteiten/huurtoeslag"


def _read(body: bytes) -> LogRecord:
    (record,) = records_of(body)
    return record


def test_the_spool_holds_the_otlp_of_each_record_and_a_restart_finds_it(tmp_path: Path) -> None:
    @ldv_sdk.verwerking(ACTIVITY, "huurtoeslag berekenen", subject="bsn")
    def bereken(bsn: str) -> None:
        ldv_sdk.current().set_attribute("dpl.ext.opmerking", 'aanvraag "spoed"\n')  # type: ignore[union-attr]

    runtime = ldv_sdk.configure(make_config(tmp_path, start_sender=False))
    bereken(BSN)
    bereken("1234.56.782")  # the same citizen, written as on a passport
    assert runtime.spool is not None
    bodies = [item.body for item in runtime.spool.peek(10)]
    ldv_sdk.shutdown(timeout=0)
    records = [_read(body) for body in bodies]
    assert [r.data_subject_id for r in records] == [pseudonymise(BSN, KEY)] * 2
    for record, body in zip(records, bodies, strict=True):
        assert record.attributes["dpl.ext.opmerking"] == 'aanvraag "spoed"\n'
        assert record.resource_attributes == {
            attr.SERVICE_NAME: "bijstand-api",
            attr.ORGANISATION: "gemeente-amsterdam",
        }
        assert (record.scope_name, record.name, record.processing_activity_id) == (
            "ldv_sdk",
            "huurtoeslag berekenen",
            ACTIVITY,
        )
        assert BSN.encode() not in body
    reopened = Spool(tmp_path / "spool.sqlite3")  # what a restart finds: the same two records
    assert [item.body for item in reopened.peek(10)] == bodies and len(reopened) == 2
    reopened.close()


def test_a_bsn_that_reaches_the_runtime_is_redacted_in_the_spool(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = ldv_sdk.configure(make_config(tmp_path, start_sender=False))
    with caplog.at_level(logging.WARNING, logger="ldv_sdk"):
        with ldv_sdk.verwerking("huurtoeslag", "gewoon") as v:
            v.add_subject(BSN)
        with ldv_sdk.verwerking("huurtoeslag", "opmerking") as v:
            v.add_subject(BSN)
            v.set_attribute("dpl.ext.opmerking", f"aanvraag van {BSN}")
        with ldv_sdk.verwerking("huurtoeslag", "rauw") as v:
            v.set_attribute(attr.DATA_SUBJECT_ID, "123 456 782")  # a raw id: pseudonymised on the way, as its 9 digits
            v.set_attribute(attr.DATA_SUBJECT_ID_TYPE, "BSN")
    assert runtime.spool is not None
    bodies = [item.body for item in runtime.spool.peek(10)]
    ldv_sdk.shutdown(timeout=0)
    assert len(bodies) == 3 and all(BSN.encode() not in body for body in bodies)
    records = [_read(body) for body in bodies]
    assert [r.data_subject_id for r in records] == [pseudonymise(BSN, KEY)] * 3
    assert records[1].attributes["dpl.ext.opmerking"] == f"aanvraag van {REDACTED}"
    assert "dpl.ext.opmerking" in caplog.text and BSN not in caplog.text


def test_a_bsn_in_the_configured_resource_is_still_redacted(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="ldv_sdk"),
        capture_ldv(service_name=f"dienst {BSN}") as records,
        ldv_sdk.verwerking(ACTIVITY, "iets"),
    ):
        pass
    assert records[0]["resource"][attr.SERVICE_NAME] == f"dienst {REDACTED}"
    assert "service.name" in caplog.text and BSN not in caplog.text


def test_a_nine_digit_run_that_is_no_bsn_in_the_resource_is_kept() -> None:
    with (
        capture_ldv(service_name="dienst 123456789") as records,
        ldv_sdk.verwerking(ACTIVITY, "iets"),
    ):  # fails the elfproef
        pass
    assert records[0]["resource"][attr.SERVICE_NAME] == "dienst 123456789"


def test_a_record_the_core_refuses_still_fails_closed_through_the_spool(tmp_path: Path) -> None:
    ldv_sdk.configure(make_config(tmp_path, start_sender=False, failure_policy="closed"))
    with pytest.raises(LoggingFailed, match="breaks the standard"), ldv_sdk.verwerking("huurtoeslag", "lezen") as v:
        v.set_attribute(attr.EXTERNAL_READ_API_ID, "geen uri")


def test_attributes_are_read_from_the_finished_span_as_the_public_view_gives_them() -> None:
    tracer = TracerProvider().get_tracer("t")
    span = tracer.start_span("n", attributes={"a": "1", "b": (1, 2), "c": True})
    span.end()
    readable = span._readable_span()  # what a span processor receives
    assert type(readable._attributes._dict) is dict  # type: ignore[attr-defined]  # the shortcut applies
    assert record_of(readable, {}).attributes == {"a": "1", "b": "[1,2]", "c": "true"}


def test_the_keyed_hmac_is_the_standard_librarys_hmac_sha256_of_the_subject() -> None:
    pseudonymiser = Pseudonymiser(KEY)
    for subject in (BSN, f" {BSN} ", "A-12 ß/é"):
        expected = "hmac-sha256:" + hmac.new(KEY, subject.strip().encode(), hashlib.sha256).hexdigest()
        assert pseudonymiser(subject) == pseudonymise(subject, KEY) == expected
    assert pseudonymiser(expected) == expected  # a pseudonym stays as it is
    with pytest.raises(ValueError):
        Pseudonymiser(b"")
