"""The LDV log record: one action (span) about at most one data subject."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ldv_logboek import attributes as attr


class Status(str, enum.Enum):
    """Status of an action, as the standard (and OpenTelemetry) names it (OTLP codes: `ldv_logboek._otlp.status_of`)."""

    UNSET = "Unset"
    OK = "Ok"
    ERROR = "Error"


@dataclass(slots=True)
class Event:
    """A span event (for example an exception); kept for OpenTelemetry compatibility."""

    time_ns: int
    name: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Link:
    """A span link; kept for OpenTelemetry compatibility."""

    trace_id: bytes
    span_id: bytes
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class LogRecord:
    """One LDV log record.

    Ids are raw bytes (16 for a trace, 8 for a span) as on the wire; times are nanoseconds
    since the Unix epoch as in OTLP (the standard's milliseconds are derived on read).
    Attribute values are strings, because that is how the store keeps them.
    """

    trace_id: bytes
    span_id: bytes
    name: str
    start_time_ns: int
    end_time_ns: int
    status: Status = Status.UNSET
    attributes: dict[str, str] = field(default_factory=dict)
    parent_span_id: bytes = b""
    resource_attributes: dict[str, str] = field(default_factory=dict)
    status_message: str = ""
    kind: str = "Internal"
    trace_state: str = ""
    scope_name: str = ""
    scope_version: str = ""
    events: list[Event] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    @property
    def processing_activity_id(self) -> str:
        return self.attributes.get(attr.PROCESSING_ACTIVITY_ID, "")

    @property
    def data_subject_id(self) -> str:
        return self.attributes.get(attr.DATA_SUBJECT_ID, "")
