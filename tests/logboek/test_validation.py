from __future__ import annotations

import dataclasses

import pytest

from ldv_logboek import Status, check_record
from ldv_logboek import attributes as attr
from ldv_logboek._otlp import status_of
from ldv_logboek._validation import is_uri
from tests.conftest import make_record


def rules(record) -> set[str]:
    return {v.rule for v in check_record(record)}


def test_valid_record_has_no_violations() -> None:
    assert check_record(make_record()) == []


def test_record_without_subject_is_valid() -> None:
    assert check_record(make_record(subject=None)) == []


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("trace_id", b"\x01" * 15, "trace-id"),
        ("trace_id", bytes(16), "trace-id"),
        ("span_id", b"\x01" * 9, "span-id"),
        ("span_id", bytes(8), "span-id"),
        ("parent_span_id", b"\x01" * 4, "parent-span-id"),
        ("name", "", "name"),
        ("name", "   ", "name"),
        ("start_time_ns", 0, "start-time"),
        ("end_time_ns", 0, "end-time"),
        ("status", "Fine", "status"),
    ],
)
def test_field_rules(field: str, value: object, rule: str) -> None:
    record = dataclasses.replace(make_record(), **{field: value})
    assert rule in rules(record)


def test_end_before_start() -> None:
    record = make_record()
    record.end_time_ns = record.start_time_ns - 1
    assert "end-time" in rules(record)


def test_activity_must_be_uri() -> None:
    assert "processing-activity-uri" in rules(make_record(activity="huurtoeslag"))


def test_subject_and_type_come_together() -> None:
    record = make_record()
    del record.attributes[attr.DATA_SUBJECT_ID_TYPE]
    violations = check_record(record)
    assert [v.rule for v in violations] == ["data-subject-pair"]
    assert attr.DATA_SUBJECT_ID_TYPE in violations[0].message

    record = make_record()
    del record.attributes[attr.DATA_SUBJECT_ID]
    assert rules(record) == {"data-subject-pair"}


def test_subject_needs_activity() -> None:
    assert rules(make_record(activity=None)) == {"data-subject-needs-activity"}


def test_foreign_processor_and_read_api_are_uris() -> None:
    record = make_record(**{"dpl__core__foreign_operation__processor": "not a uri"})
    assert "uri" in rules(record)
    record = make_record(**{"dpl__read__externalReadAPI_id": "https://belastingdienst.example/lezenapi/v1"})
    assert check_record(record) == []


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://register.example/pa/1", True),
        ("urn:nl:register:pa:1", True),
        ("http://", False),
        ("https:// spaces.example", False),
        ("", False),
        ("/relative/path", False),
    ],
)
def test_is_uri(value: str, ok: bool) -> None:
    assert is_uri(value) is ok


def test_status_from_otlp() -> None:
    assert [status_of(c) for c in (0, 1, 2)] == [Status.UNSET, Status.OK, Status.ERROR]
    assert status_of(3) is None and status_of(-1) is None
