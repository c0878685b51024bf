"""From a finished OpenTelemetry span to an LDV record: a plain dict, checked and guarded.

The dict is the one form a record has inside the SDK: the spool stores it as JSON, the
sender encodes it as OTLP protobuf, and `ldv_sdk.testing` hands it to the user's tests.
Its keys:

    trace_id, span_id, parent_span_id   lowercase hex ("" when there is no parent)
    name, kind ("Internal", "Server", "Client", ...), trace_state
    start_time_ns, end_time_ns           nanoseconds since the epoch
    status ("Unset" / "Ok" / "Error"), status_message
    attributes                           span attributes (dpl.*, exception.*)
    resource                             resource attributes (service.name, dpl.suite.organisation)
    scope                                [instrumentation scope name, version]
    events                               [{"time_ns", "name", "attributes"}]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ldv_logboek import attributes as attr
# BSN_CANDIDATE is the core's own pattern, so the SDK and the collector see the same candidates.
from ldv_logboek.pseudonym import BSN_CANDIDATE, contains_bsn, is_bsn, is_pseudonym, pseudonymise
from ldv_logboek.record import LogRecord, Status
from ldv_logboek.validation import Violation, check_record
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

log = logging.getLogger("ldv_sdk")

Record = dict[str, Any]
DEFAULT_NAME = "verwerking"
REDACTED = "[redacted: looks like a BSN]"
_SPAN_ID = re.compile(r"[0-9a-f]{16}")

_STATUS = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}
_KIND = {
    SpanKind.INTERNAL: "Internal",
    SpanKind.SERVER: "Server",
    SpanKind.CLIENT: "Client",
    SpanKind.PRODUCER: "Producer",
    SpanKind.CONSUMER: "Consumer",
}


def _plain(value: Any) -> Any:
    # OTel keeps sequence attributes as tuples; JSON and the OTLP encoder want lists.
    return list(value) if isinstance(value, tuple) else value


def span_to_record(span: ReadableSpan, resource: Mapping[str, Any]) -> Record:
    """The record dict of a finished span (no checks yet)."""
    ctx = span.context
    parent = span.parent
    status = span.status
    scope = span.instrumentation_scope
    events = span.events
    state = ctx.trace_state
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent is not None and parent.is_valid else "",
        "name": span.name,
        "kind": _KIND.get(span.kind, "Internal"),
        "trace_state": state.to_header() if state else "",
        "start_time_ns": span.start_time or 0,
        "end_time_ns": span.end_time or 0,
        "status": _STATUS[status.status_code],
        "status_message": status.description or "",
        "attributes": {k: list(v) if type(v) is tuple else v for k, v in (span.attributes or {}).items()},
        "resource": dict(resource),
        "scope": [scope.name, scope.version or ""] if scope is not None else ["", ""],
        "events": [
            {"time_ns": e.timestamp, "name": e.name, "attributes": {k: _plain(v) for k, v in (e.attributes or {}).items()}}
            for e in events
        ]
        if events
        else [],
    }


def _redact(text: str) -> str:
    return BSN_CANDIDATE.sub(lambda m: REDACTED if is_bsn(m.group()) else m.group(), text)


def _exempt(key: str, value: object) -> bool:
    # Values that are ids by construction: hex digits can hold nine decimal digits in a row
    # that pass the elfproef by chance, and redacting them would corrupt the id.
    if key == attr.DATA_SUBJECT_ID:
        return isinstance(value, str) and is_pseudonym(value)
    if key == attr.FOREIGN_OPERATION_SPAN_ID:
        return isinstance(value, str) and _SPAN_ID.fullmatch(value) is not None
    return False


def _guard_mapping(values: dict[str, Any], where: str, found: list[str]) -> None:
    for key, value in values.items():
        if _exempt(key, value):
            continue
        if isinstance(value, str):
            if contains_bsn(value):
                values[key] = _redact(value)
                found.append(f"{where}.{key}")
        elif isinstance(value, list) and any(isinstance(v, str) and contains_bsn(v) for v in value):
            values[key] = [_redact(v) if isinstance(v, str) else v for v in value]
            found.append(f"{where}.{key}")


def _texts(record: Record) -> Iterator[str]:
    yield record["name"]
    yield record["status_message"]
    yield record["trace_state"]
    for mapping in (record["attributes"], record["resource"]):
        for key, value in mapping.items():
            if isinstance(value, str):
                if not _exempt(key, value):
                    yield value
            elif isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
    for event in record["events"]:
        yield event["name"]
        yield from (v for v in event["attributes"].values() if isinstance(v, str))
        yield from (s for v in event["attributes"].values() if isinstance(v, list) for s in v if isinstance(s, str))


def guard_bsn(record: Record) -> list[str]:
    """Replace every clear BSN (9 digits passing the elfproef) anywhere in `record` in place.

    Returns where one was found (field or attribute names, never the values), so the
    caller can warn. The data subject id is pseudonymised before this runs, so a hit here
    is personal data the developer put somewhere it does not belong.
    """
    # Fast path: most records hold no run of nine digits at all.
    if BSN_CANDIDATE.search("\x00".join(_texts(record))) is None:
        return []
    found: list[str] = []
    for key in ("name", "status_message", "trace_state"):
        if contains_bsn(record[key]):
            record[key] = _redact(record[key])
            found.append(key)
    _guard_mapping(record["attributes"], "attributes", found)
    _guard_mapping(record["resource"], "resource", found)
    for event in record["events"]:
        if contains_bsn(event["name"]):
            event["name"] = _redact(event["name"])
            found.append("events.name")
        _guard_mapping(event["attributes"], "events.attributes", found)
    return found


def pseudonymise_subject(record: Record, key: bytes) -> bool:
    """Make sure the subject id is a pseudonym (a safety net for ids set as raw attributes)."""
    subject = record["attributes"].get(attr.DATA_SUBJECT_ID)
    if isinstance(subject, str) and subject and not is_pseudonym(subject):
        record["attributes"][attr.DATA_SUBJECT_ID] = pseudonymise(subject, key)
        return True
    return False


def to_log_record(record: Record) -> LogRecord:
    """The core's LogRecord of a record dict, to run the standard's checks on."""
    try:
        status = Status(record["status"])
    except ValueError:
        status = record["status"]
    return LogRecord(
        trace_id=bytes.fromhex(record["trace_id"]),
        span_id=bytes.fromhex(record["span_id"]),
        parent_span_id=bytes.fromhex(record["parent_span_id"]),
        name=record["name"],
        start_time_ns=record["start_time_ns"],
        end_time_ns=record["end_time_ns"],
        status=status,
        attributes={k: v if isinstance(v, str) else str(v) for k, v in record["attributes"].items()},
        resource_attributes={k: str(v) for k, v in record["resource"].items()},
        status_message=record["status_message"],
        kind=record["kind"],
        trace_state=record["trace_state"],
    )


def check_and_fix(record: Record) -> tuple[list[str], list[Violation]]:
    """Apply the standard's checks; fix what can be fixed without guessing.

    Returns (what was fixed, what is still wrong). Fixes: an empty name gets a default
    (rule 9); a subject type without a subject is dropped.
    """
    fixed: list[str] = []
    if not record["name"] or not str(record["name"]).strip():
        record["name"] = DEFAULT_NAME
        fixed.append("name")
    attrs = record["attributes"]
    if attrs.get(attr.DATA_SUBJECT_ID_TYPE) and not attrs.get(attr.DATA_SUBJECT_ID):
        del attrs[attr.DATA_SUBJECT_ID_TYPE]
        fixed.append(attr.DATA_SUBJECT_ID_TYPE)
    return fixed, check_record(to_log_record(record))
