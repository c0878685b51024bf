from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldv_logboek import Event, LogRecord, Status, check_record
from ldv_logboek import attributes as attr
from ldv_logboek._otlp import status_of
from ldv_logboek.rule_columns import broken_rules, field_columns, record_fields
from ldv_logboek.rules import (
    COLLECTOR_RULES,
    RULES,
    SOURCE_RULES,
    AtMost,
    Rule,
    compile_checker,
    fields_of,
    is_uri,
    rule_map,
)
from tests.conftest import REPO_ROOT, make_record


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
    ],
)
def test_field_rules(field: str, value: object, rule: str) -> None:
    record = dataclasses.replace(make_record(), **{field: value})
    assert rule in rules(record)


def test_the_status_rule_applies_at_the_collector_only() -> None:
    """An SDK span's status is OpenTelemetry's enum; only a span from the wire can carry another code."""
    record = dataclasses.replace(make_record(), status="Fine")
    assert "status" not in rules(record)
    assert "status" in {v.rule for v in check_record(record, COLLECTOR_RULES)}
    assert all(r.code != "status" for r in SOURCE_RULES)


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


def test_rule_messages_come_from_the_table() -> None:
    record = make_record(activity="huurtoeslag")
    (violation,) = check_record(record)
    assert str(violation) == (
        "processing-activity-uri: dpl.core.processing_activity_id must be the URI of a processing activity "
        "in a register, got 'huurtoeslag'"
    )
    record = dataclasses.replace(make_record(), trace_id=bytes(16))
    assert [str(v) for v in check_record(record)] == ["trace-id: trace_id must be 16 bytes (32 hex digits), not all zeros; got 16 bytes"]


# -- the same table over Arrow columns (the collector's reading) ---------------------------------

_texts = st.one_of(st.none(), st.sampled_from(["", " ", "x", "https://register.example/pa/1", "urn:a:b", "not a uri"]))
_ids = st.sampled_from([b"", bytes(8), b"\x01" * 8, bytes(16), b"\x02" * 16, b"\x03" * 9])
_times = st.sampled_from([0, 1, 5, 2**63 - 1, 2**63, 2**64 - 1])


@st.composite
def _records(draw: st.DrawFn) -> LogRecord:
    record = make_record(
        activity=draw(_texts), subject=draw(_texts),
        **{"dpl__core__foreign_operation__processor": draw(_texts) or "https://a.example/"},
    )
    if (subject_type := draw(_texts)) is None:
        record.attributes.pop(attr.DATA_SUBJECT_ID_TYPE, None)
    else:
        record.attributes[attr.DATA_SUBJECT_ID_TYPE] = subject_type
    record.trace_id, record.span_id, record.parent_span_id = draw(_ids), draw(_ids), draw(_ids)
    record.name = draw(st.sampled_from(["", "  ", "aanvraag"]))
    record.start_time_ns, record.end_time_ns = draw(_times), draw(_times)
    record.status = draw(st.sampled_from([*Status, "Fine"]))
    record.events = [Event(t, "e") for t in draw(st.lists(_times, max_size=2))]
    return record


@settings(max_examples=60, deadline=None)
@given(st.lists(_records(), min_size=1, max_size=12))
def test_the_columns_break_the_same_rules_as_each_record(records: list[LogRecord]) -> None:
    """One table, two readings: over a request's columns the rules break exactly where they do per record."""
    fields = [fields_of(r) for r in records]
    by_field = record_fields(records)
    assert [{name: column[i] for name, column in by_field.items()} for i in range(len(records))] == fields
    columns = field_columns(by_field)
    by_row: list[list[str]] = [[] for _ in records]
    for rule, mask in broken_rules(columns, COLLECTOR_RULES):
        for i, broken in enumerate(mask.to_pylist()):
            if broken:
                by_row[i].append(rule.violation(fields[i]).rule)
    assert by_row == [[v.rule for v in check_record(r, COLLECTOR_RULES)] for r in records]


# -- the rule map -----------------------------------------------------------------------------------


def test_every_rule_code_is_written_once_per_field() -> None:
    keys = [(r.code, r.fields) for r in RULES]
    assert len(keys) == len(set(keys))


def test_the_rule_map_in_the_architecture_document_is_the_generated_one() -> None:
    text = Path(REPO_ROOT, "docs", "architecture.md").read_text()
    begin, end = "<!-- rule map: generated from ldv_logboek.rules.RULES -->\n", "<!-- end of the rule map -->"
    assert begin in text and end in text, "docs/architecture.md lacks the generated rule map's markers"
    assert text.split(begin, 1)[1].split(end, 1)[0] == rule_map()


SOURCE_TREES = ("logboek", "sdk", "collector", "inzicht_api", "dashboards", "cli")


def test_the_shown_once_rule_is_written_only_in_the_table() -> None:
    """Reads show a record once through the rule's fragments (`SHOWN_ONCE`, `count_once`), never a copy of them."""
    copies = []
    for tree in SOURCE_TREES:
        for path in sorted(Path(REPO_ROOT, tree, "src").rglob("*.py")):
            if path.name == "rules.py":
                continue
            text = path.read_text()
            for written in ("uniqExact(TraceId", "uniqExactIf((TraceId", "uniqExact(SpanId", "LIMIT 1 BY TraceId", "LIMIT 1 BY SpanId", "arrayExists((a, s, e)"):
                if written in text:
                    copies.append(f"{path.relative_to(REPO_ROOT)}: {written}")
    assert not copies, "\n".join(copies)


# -- the compiled checker: generated from the table ---------------------------------------------------


def test_the_checker_is_generated_from_the_table_and_checks_any_rule_of_it() -> None:
    """`compile_checker` writes one test per rule from its condition and fields: a rule made here,
    never written in the checker, is checked by it, and the source checker holds every source rule."""
    source = compile_checker(SOURCE_RULES).source  # type: ignore[attr-defined]
    assert [line.rsplit("# ", 1)[1] for line in source.splitlines() if line.startswith("    if not ")] == [
        r.code for r in SOURCE_RULES
    ]
    early = Rule("early", "starts by 3 ns", ("start_time_ns",), AtMost(3), "starts at {value}", frozenset())
    record = make_record()
    assert [str(v) for v in check_record(record, (early,))] == [f"early: starts at {record.start_time_ns}"]
    record.start_time_ns = 3
    assert check_record(record, (early,)) == []
    assert compile_checker((early, *SOURCE_RULES))(record) == []
    record.name = " "
    assert compile_checker((early, *SOURCE_RULES))(record) == [1 + [r.code for r in SOURCE_RULES].index("name")]
