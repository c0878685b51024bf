"""The record pipeline in one call, and its one fast path.

`process(record, policy)` is the full path: `protect` under the policy, `check_record`, and
the OTLP encoding. `OrdinaryRecords(policy)` is its fast path for the records a processing
makes again and again: when a record's shape (all but its ids, times and pseudonymised
subject id; `ldv_logboek._otlp.shape_key`) has been seen to pass the full path unchanged and
unrefused, the record is encoded straight from the shape's cached bytes. The verdict of a
shape is the full path's own, worked out on the shape once, so no rule is written twice here;
tests/logboek/test_pipeline_properties.py holds the two paths equal over generated records.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ldv_logboek import attributes as attr
from ldv_logboek._otlp import Shape, encode_resource_spans, shape_bytes, shape_key, varying_parts
from ldv_logboek._protect import Policy, Protection, protect
from ldv_logboek._pseudonym import PSEUDONYM_PREFIX, is_pseudonym
from ldv_logboek._record import LogRecord
from ldv_logboek._validation import SPAN_ID_BYTES, TRACE_ID_BYTES, Violation, check_record

_SUBJECT = attr.DATA_SUBJECT_ID
_MAX_SHAPES = 256
# Stand-ins while a shape's verdict is worked out: ids and times that pass, a pseudonym.
_PLACEHOLDER_SUBJECT = PSEUDONYM_PREFIX + "0" * 64
_ZERO_TRACE_ID = bytes(TRACE_ID_BYTES)
_ZERO_SPAN_ID = bytes(SPAN_ID_BYTES)
_TIME_LIMIT = 1 << 64  # OTLP times are fixed64


@dataclass(slots=True)
class Processed:
    """What the full path made of a record: its bytes, what `protect` did, what breaks the standard."""

    body: bytes
    protection: Protection
    violations: list[Violation]


def process(record: LogRecord, policy: Policy) -> Processed:
    """The full path: protect `record` in place under `policy`, check it, encode it."""
    protection = protect(record, policy)
    violations = protection.violations + check_record(record)
    return Processed(encode_resource_spans(record), protection, violations)


def _unchanged(protection: Protection) -> bool:
    return not (protection.pseudonymised or protection.clear_bsn_at or protection.repaired or protection.violations)


class OrdinaryRecords:
    """The fast path of `process`: the bytes of a record it would pass unchanged, or None.

    A record qualifies when it has no events or links, its subject id (if any) already is a
    pseudonym, its ids have their sizes and are not zero, its times are set and in order
    (what `check_record` asks of ids and times), and its shape passed the full path unchanged.
    Anything else answers None: the caller takes `process`, which names what it did.
    """

    __slots__ = ("_policy", "_shapes")

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        # Shape key -> the shape's bytes when it passes unchanged, else None (up to 256 shapes, then afresh).
        self._shapes: dict[tuple[Any, ...], Shape | None] = {}

    def __call__(self, record: LogRecord) -> bytes | None:
        return self.encode(self.shape(record), *varying_parts(record))

    def shape(self, record: LogRecord) -> Shape | None:
        """The bytes of the record's shape when the shape passes the full path unchanged, else None.

        For a caller that knows by its own key which records share a shape (the SDK, by its
        spans): it may keep the answer and `encode` the next records of that shape directly.
        """
        if record.events or record.links:
            return None
        key = shape_key(record)
        shapes = self._shapes
        try:
            return shapes[key]
        except KeyError:
            shape = shape_bytes(record) if self._passes_unchanged(record) else None
            if len(shapes) >= _MAX_SHAPES:
                shapes.clear()
            shapes[key] = shape
            return shape

    @staticmethod
    def encode(
        shape: Shape | None, trace_id: bytes, span_id: bytes, parent: bytes, start_ns: int, end_ns: int, subject: str | None
    ) -> bytes | None:
        """The bytes of the record of `shape` with these ids, times and subject, or None when the
        full path must decide (no passing shape, a subject that is no pseudonym, ids or times
        `check_record` would refuse, or times the encoding cannot hold)."""
        if shape is None or (subject is not None and not is_pseudonym(subject)):
            return None
        if len(trace_id) != TRACE_ID_BYTES or trace_id == _ZERO_TRACE_ID or len(span_id) != SPAN_ID_BYTES or span_id == _ZERO_SPAN_ID:
            return None
        if parent and (len(parent) != SPAN_ID_BYTES or parent == _ZERO_SPAN_ID):
            return None
        if not 0 < start_ns <= end_ns < _TIME_LIMIT:
            return None
        return shape.encode_usual(trace_id, span_id, parent, start_ns, end_ns, None if subject is None else subject.encode())

    def _passes_unchanged(self, record: LogRecord) -> bool:
        """The full path's verdict on the record's shape (ids, times and subject stood in for)."""
        sample = copy.deepcopy(record)
        sample.trace_id, sample.span_id = b"\x01" * TRACE_ID_BYTES, b"\x01" * SPAN_ID_BYTES
        sample.parent_span_id = b"\x01" * SPAN_ID_BYTES if record.parent_span_id else b""
        sample.start_time_ns = sample.end_time_ns = 1
        if _SUBJECT in sample.attributes:
            sample.attributes[_SUBJECT] = _PLACEHOLDER_SUBJECT
        before = copy.deepcopy(sample)
        processed = process(sample, self._policy)
        return _unchanged(processed.protection) and not processed.violations and sample == before
