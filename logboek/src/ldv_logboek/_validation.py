"""The rules of the LDV standard that a single log record must satisfy.

One function, `check_record`, shared by the SDK (before a record leaves the process) and the
collector (before a record is stored). Each rule has a stable code and a message a person
understands; the standard's rule numbers are cited in docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from ldv_logboek import attributes as attr
from ldv_logboek._record import LogRecord, Status

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: a stable code for machines and a sentence for people."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


@lru_cache(maxsize=4096)  # activity and application URIs repeat on nearly every record
def is_uri(value: str) -> bool:
    """An absolute URI: a scheme and something after it (`https://...`, `urn:...`)."""
    if not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. "https://host[x/...": an unbalanced IPv6 bracket (found by fuzzing)
        return False
    if not parts.scheme or not parts.scheme[0].isalpha():
        return False
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return bool(parts.netloc or parts.path)


def _check_id(value: bytes, size: int, what: str, rule: str, *, optional: bool = False) -> list[Violation]:
    if optional and not value:
        return []
    if len(value) != size:
        return [Violation(rule, f"{what} must be {size} bytes ({size * 2} hex digits), got {len(value)} bytes")]
    if value == bytes(size):
        return [Violation(rule, f"{what} must not be all zeros")]
    return []


def check_record(record: LogRecord) -> list[Violation]:
    """Return every rule of the standard that `record` breaks; empty when it is valid."""
    problems: list[Violation] = []
    problems += _check_id(record.trace_id, TRACE_ID_BYTES, "trace_id", "trace-id")
    problems += _check_id(record.span_id, SPAN_ID_BYTES, "span_id", "span-id")
    problems += _check_id(
        record.parent_span_id, SPAN_ID_BYTES, "parent_span_id", "parent-span-id", optional=True
    )
    if not record.name or not record.name.strip():
        problems.append(Violation("name", "name (a human readable name of the action) is required"))
    if not isinstance(record.status, Status):
        problems.append(Violation("status", f"status must be Unset, Ok or Error, got {record.status!r}"))
    if record.start_time_ns <= 0:
        problems.append(Violation("start-time", "start_time is required"))
    if record.end_time_ns <= 0:
        problems.append(Violation("end-time", "end_time is required"))
    elif record.end_time_ns < record.start_time_ns:
        problems.append(Violation("end-time", "end_time lies before start_time"))

    attrs = record.attributes
    activity = attrs.get(attr.PROCESSING_ACTIVITY_ID)
    subject = attrs.get(attr.DATA_SUBJECT_ID)
    subject_type = attrs.get(attr.DATA_SUBJECT_ID_TYPE)
    if activity is not None and not is_uri(activity):
        problems.append(
            Violation(
                "processing-activity-uri",
                f"{attr.PROCESSING_ACTIVITY_ID} must be the URI of a processing activity in a register, got {activity!r}",
            )
        )
    if bool(subject) != bool(subject_type):
        present, missing = (
            (attr.DATA_SUBJECT_ID, attr.DATA_SUBJECT_ID_TYPE)
            if subject
            else (attr.DATA_SUBJECT_ID_TYPE, attr.DATA_SUBJECT_ID)
        )
        problems.append(
            Violation("data-subject-pair", f"{present} is set but {missing} is missing: they come together")
        )
    if subject and not activity:
        problems.append(
            Violation(
                "data-subject-needs-activity",
                f"a record about a data subject must name its processing activity ({attr.PROCESSING_ACTIVITY_ID})",
            )
        )
    for key in (attr.FOREIGN_OPERATION_PROCESSOR, attr.EXTERNAL_READ_API_ID):
        value = attrs.get(key)
        if value is not None and not is_uri(value):
            problems.append(Violation("uri", f"{key} must be a URI, got {value!r}"))
    return problems
