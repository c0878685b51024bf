"""Selecting records: the query object, keyset cursors and the page it returns."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from ldv_logboek._record import LogRecord

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Cursor:
    """Position after the last record of a page: (start time, trace id, span id)."""

    timestamp_ns: int
    trace_id: str
    span_id: str

    def encode(self) -> str:
        raw = f"{self.timestamp_ns}:{self.trace_id}:{self.span_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor from a previous page; ValueError for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            ts, trace_id, span_id = raw.split(":")
            bytes.fromhex(trace_id), bytes.fromhex(span_id)
            if len(trace_id) != 32 or len(span_id) != 16:
                raise ValueError
            return cls(int(ts), trace_id, span_id)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise ValueError("cursor is not one this API handed out") from None


@dataclass(frozen=True)
class ActivityWindow:
    """Records of `activity_id` that started in [`start_ns`, `end_ns`) (None: open end), ns since epoch."""

    activity_id: str
    start_ns: int | None = None
    end_ns: int | None = None


@dataclass(frozen=True)
class RecordQuery:
    """Which records to read: every given field must match.

    Selectors: `trace_id`, `processing_activity_id`, `data_subject_id` and `data_subject_ids`
    (the record's subject is one of these ids; an empty tuple matches nothing). At least one
    is required: a time window alone is not a selector, because it would read every citizen's
    records. Restrictions that are not selectors: `organisation` (only records whose
    `Organisation` column, from the resource attribute `dpl.suite.organisation`, equals it)
    and `exclude` (records in any of these windows are left out, e.g. confidential activities).
    `data_subject_ids` is a selector because it names the subjects: a citizen's query
    restricted to their own pseudonyms may be a time window only.
    """

    trace_id: bytes | None = None
    processing_activity_id: str | None = None
    data_subject_id: str | None = None
    start_time_ms: int | None = None
    end_time_ms: int | None = None
    limit: int = 100
    after: Cursor | None = None
    organisation: str | None = None
    data_subject_ids: tuple[str, ...] | None = None
    exclude: tuple[ActivityWindow, ...] = ()

    def __post_init__(self) -> None:
        if (
            self.trace_id is None
            and not self.processing_activity_id
            and not self.data_subject_id
            and self.data_subject_ids is None
        ):
            raise ValueError(
                "give at least one of traceId, dpl.core.processing_activity_id or dpl.core.data_subject_id"
            )
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if self.organisation is not None and not self.organisation:
            raise ValueError("organisation must not be empty (None: every organisation)")
        if self.data_subject_ids is not None and not isinstance(self.data_subject_ids, tuple):
            raise TypeError("data_subject_ids must be a tuple of ids")

    @property
    def matches_nothing(self) -> bool:
        """True when the query cannot match any record (an empty `data_subject_ids`)."""
        return self.data_subject_ids == ()


@dataclass
class Page:
    """Records in (start time, trace id, span id) order, each once; `next_cursor` when more follow."""

    records: list[LogRecord] = field(default_factory=list)
    next_cursor: str | None = None
