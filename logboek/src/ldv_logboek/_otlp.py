"""OTLP protobuf <-> LDV log records: the one conversion between the wire and the record.

Reading (`span_to_record`): attribute values become strings the way the OpenTelemetry
Collector's ClickHouse exporter writes them: strings as they are, booleans `true`/`false`,
numbers in decimal, bytes in base64, and arrays and key-value lists as compact JSON
(`value_to_str`; `attribute_text` gives the same string for a Python value an OpenTelemetry
SDK span holds). Writing (`record_to_span`, `encode_resource_spans`): a record as an OTLP
`Span`, with its resource and scope as one `ResourceSpans`. The collector reads with it, the
SDK writes with it; `encode_shaped` writes a record from the cached bytes of its shape, for
the one fast path of the pipeline (`ldv_logboek._pipeline.OrdinaryRecords`; held equal to
`encode_resource_spans` by tests/logboek/test_pipeline_properties.py).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.proto.trace.v1.trace_pb2 import Status as OtlpStatus

from ldv_logboek import attributes as attr
from ldv_logboek._record import Event, Link, LogRecord, Status

# OTLP Span.SpanKind numbers to the names the ClickHouse exporter stores.
SPAN_KINDS: tuple[str, ...] = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_KIND_NUMBERS = {name: number for number, name in enumerate(SPAN_KINDS)}
_STATUS: tuple[Status, ...] = (Status.UNSET, Status.OK, Status.ERROR)
_STATUS_CODES = {status: code for code, status in enumerate(_STATUS)}


# -- reading ------------------------------------------------------------------------------------


def _raw(value: AnyValue) -> Any:
    """An AnyValue as a JSON-ready Python value (for arrays and kvlists)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "bool_value":
        return value.bool_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":
        return [_raw(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def value_to_str(value: AnyValue) -> str:
    """One attribute value as the string the store keeps."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return str(value.int_value)
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "double_value":
        return str(value.double_value)
    if which == "array_value":
        return _json([_raw(v) for v in value.array_value.values])
    if which == "kvlist_value":
        return _json({kv.key: _raw(kv.value) for kv in value.kvlist_value.values})
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return ""


def attribute_text(value: Any) -> str:
    """`value_to_str` of the AnyValue an OpenTelemetry SDK encodes a Python attribute value as.

    str, bool, int and float, and sequences of them (OpenTelemetry's attribute types); bytes
    in base64. Anything else is written as its str().
    """
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, (list, tuple)):
        return _json([_plain(v) for v in value])
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def attributes_to_dict(attributes: Any) -> dict[str, str]:
    """Repeated KeyValue to {key: string}; a repeated key keeps its last value."""
    out: dict[str, str] = {}
    kv: KeyValue
    for kv in attributes:
        value = kv.value
        # Most LDV attributes are strings: test that case before the generic dispatch.
        if value.HasField("string_value"):
            out[kv.key] = value.string_value
        else:
            out[kv.key] = value_to_str(value)
    return out


def span_kind(kind: int) -> str:
    """The ClickHouse exporter's name of an OTLP span kind; unknown numbers are Unspecified."""
    return SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else "Unspecified"


def status_of(code: int) -> Status | None:
    """The LDV status of an OTLP status code, or None for a code OTLP does not define."""
    return _STATUS[code] if 0 <= code < len(_STATUS) else None


def span_to_record(
    span: Span,
    attributes: dict[str, str],
    resource_attributes: dict[str, str],
    scope_name: str,
    scope_version: str,
    status: Status,
) -> LogRecord:
    """Build the record of `span` from its already converted attributes and status."""
    return LogRecord(
        trace_id=span.trace_id,
        span_id=span.span_id,
        name=span.name,
        start_time_ns=span.start_time_unix_nano,
        end_time_ns=span.end_time_unix_nano,
        status=status,
        attributes=attributes,
        parent_span_id=span.parent_span_id,
        resource_attributes=resource_attributes,
        status_message=span.status.message,
        kind=span_kind(span.kind),
        trace_state=span.trace_state,
        scope_name=scope_name,
        scope_version=scope_version,
        events=[Event(e.time_unix_nano, e.name, attributes_to_dict(e.attributes)) for e in span.events]
        if span.events
        else [],
        links=[
            Link(link.trace_id, link.span_id, link.trace_state, attributes_to_dict(link.attributes))
            for link in span.links
        ]
        if span.links
        else [],
    )


def records_of(resource_spans: ResourceSpans) -> list[LogRecord]:
    """Every span of one ResourceSpans as a record (an undefined status code reads as Unset)."""
    resource = attributes_to_dict(resource_spans.resource.attributes)
    out = []
    for scope_spans in resource_spans.scope_spans:
        scope = scope_spans.scope
        for span in scope_spans.spans:
            status = status_of(span.status.code) or Status.UNSET
            out.append(
                span_to_record(
                    span, attributes_to_dict(span.attributes), dict(resource), scope.name, scope.version, status
                )
            )
    return out


# -- writing ------------------------------------------------------------------------------------


def _key_values(values: Mapping[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in values.items()]


def record_to_span(record: LogRecord) -> Span:
    """One record as an OTLP Span (attribute values as the strings the record holds)."""
    status = record.status
    return Span(
        trace_id=record.trace_id,
        span_id=record.span_id,
        parent_span_id=record.parent_span_id,
        trace_state=record.trace_state,
        name=record.name,
        kind=_KIND_NUMBERS.get(record.kind, 0),  # type: ignore[arg-type]
        start_time_unix_nano=record.start_time_ns,
        end_time_unix_nano=record.end_time_ns,
        attributes=_key_values(record.attributes),
        events=[
            Span.Event(time_unix_nano=e.time_ns, name=e.name, attributes=_key_values(e.attributes))
            for e in record.events
        ],
        links=[
            Span.Link(
                trace_id=k.trace_id, span_id=k.span_id, trace_state=k.trace_state, attributes=_key_values(k.attributes)
            )
            for k in record.links
        ],
        status=OtlpStatus(code=_STATUS_CODES.get(status, 0), message=record.status_message),  # type: ignore[arg-type]
    )


def resource_spans_of(record: LogRecord) -> ResourceSpans:
    """One record with its resource and scope, as a ResourceSpans of one span."""
    return ResourceSpans(
        resource=Resource(attributes=_key_values(record.resource_attributes)),
        scope_spans=[
            ScopeSpans(
                scope=InstrumentationScope(name=record.scope_name, version=record.scope_version),
                spans=[record_to_span(record)],
            )
        ],
    )


def encode_resource_spans(record: LogRecord) -> bytes:
    """The protobuf bytes of `resource_spans_of(record)`: the SDK's spooled form of a record."""
    return resource_spans_of(record).SerializeToString()


def request_bytes(resource_spans: Iterable[bytes]) -> bytes:
    """An ExportTraceServiceRequest made of encoded ResourceSpans, without decoding them.

    `resource_spans` (field 1, repeated) is the request's only field, so the request is
    the concatenation of its ResourceSpans, each framed as that field.
    """
    return b"".join(_field(1, body) for body in resource_spans)


def encode_request(records: Iterable[LogRecord]) -> ExportTraceServiceRequest:
    """One request holding `records`, one ResourceSpans per record (what the SDK sends)."""
    return ExportTraceServiceRequest(resource_spans=[resource_spans_of(r) for r in records])


# -- writing from a record's shape -----------------------------------------------------------------


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_VARINTS = tuple(_encode_varint(n) for n in range(1 << 14))  # every length of an ordinary field


def _varint(n: int) -> bytes:
    return _SMALL_VARINTS[n] if n < 16384 else _encode_varint(n)


def _field(number: int, body: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(body)) + body


_SUBJECT = attr.DATA_SUBJECT_ID
_SUBJECT_KEY = _field(1, _SUBJECT.encode())
# Fields 7 and 8 of a Span (start_time_unix_nano, end_time_unix_nano), both fixed64, in one pack.
_TIMES = struct.Struct("<BQBQ")
_START_TAG, _END_TAG = 0x39, 0x41


class Shape:
    """The fixed bytes of a record shape (`shape_bytes`), and the frames around its varying fields.

    `parts` are the ResourceSpans' resource field, the scope field, the span's fields up to
    the subject attribute, and its fields after it. A frame (everything before the trace id,
    with both message lengths, and the subject field's own head) depends only on whether
    there is a parent and on the subject's length, so it is worked out once for each.
    """

    __slots__ = ("parts", "_after", "_without_parent", "_with_parent")

    def __init__(self, head: bytes, scope: bytes, before: bytes, after: bytes) -> None:
        self.parts = (head, scope, before, after)
        self._after = after
        # Subject size (-1: none) -> frame, for records without and with a parent.
        self._without_parent: dict[int, tuple[bytes, bytes]] = {}
        self._with_parent: dict[int, tuple[bytes, bytes]] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Shape) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    def __repr__(self) -> str:
        return f"Shape{self.parts!r}"

    def _frame(self, has_parent: bool, subject_size: int) -> tuple[bytes, bytes]:
        """(bytes up to the trace id's value, bytes from the end time to the subject's value) for
        a 16-byte trace id, an 8-byte span id, an 8-byte parent or none, a subject of this size
        (-1: none)."""
        head, scope, before, after = self.parts
        subject_field = b"" if subject_size < 0 else _subject_field(bytes(subject_size))
        subject_head = subject_field[: len(subject_field) - max(subject_size, 0)]  # the value is written per record
        span_size = 18 + 10 + (10 if has_parent else 0) + 18 + len(before) + len(subject_head) + max(subject_size, 0) + len(after)
        scope_spans_size = len(scope) + 1 + len(_varint(span_size)) + span_size
        prefix = head + b"\x12" + _varint(scope_spans_size) + scope + b"\x12" + _varint(span_size) + b"\x0a\x10"
        frame = (prefix, before + subject_head)
        frames = self._with_parent if has_parent else self._without_parent
        if len(frames) < 32:  # a shape sees few subject sizes (a pseudonym has one)
            frames[subject_size] = frame
        return frame

    def encode(self, trace_id: bytes, span_id: bytes, parent: bytes, start_ns: int, end_ns: int, subject: str | None) -> bytes:
        """`encode_resource_spans` of the record of this shape with these ids, times and subject id."""
        subject_bytes = None if subject is None else subject.encode()
        if len(trace_id) == 16 and len(span_id) == 8 and len(parent) in (0, 8) and 0 <= start_ns < 1 << 64 and 0 <= end_ns < 1 << 64:
            return self.encode_usual(trace_id, span_id, parent, start_ns, end_ns, subject_bytes)
        return _encode_generally(self.parts, trace_id, span_id, parent, start_ns, end_ns, subject_bytes)

    def encode_usual(
        self, trace_id: bytes, span_id: bytes, parent: bytes, start_ns: int, end_ns: int, subject: bytes | None
    ) -> bytes:
        """`encode` of a usual record, in one join around a frame worked out once: the caller
        makes sure of a 16-byte trace id, an 8-byte span id, an 8-byte parent or none, and
        times in 0 .. 2**64-1 (`encode` checks; the pipeline's fast path checks more)."""
        size = -1 if subject is None else len(subject)
        frame = (self._with_parent if parent else self._without_parent).get(size) or self._frame(bool(parent), size)
        return b"".join(
            (
                frame[0],
                trace_id,
                b"\x12\x08",  # field 2 (span_id), 8 bytes
                span_id,
                b"\x22\x08" + parent if parent else b"",  # field 4 (parent_span_id)
                _TIMES.pack(_START_TAG, start_ns, _END_TAG, end_ns),
                frame[1],
                subject or b"",
                self._after,
            )
        )


def _subject_field(subject: bytes) -> bytes:
    """The span's attribute field (9) that holds the data subject id."""
    return _field(9, _SUBJECT_KEY + _field(2, _field(1, subject)))


def _encode_generally(
    parts: tuple[bytes, bytes, bytes, bytes], trace_id: bytes, span_id: bytes, parent: bytes, start_ns: int, end_ns: int, subject: bytes | None
) -> bytes:
    """`Shape.encode` for ids of any size (what `encode_resource_spans` writes for them too)."""
    head, scope, before, after = parts
    span = b"".join(
        (
            _field(1, trace_id) if trace_id else b"",
            _field(2, span_id) if span_id else b"",
            _field(4, parent) if parent else b"",
            b"\x39" + struct.pack("<Q", start_ns) if start_ns else b"",
            b"\x41" + struct.pack("<Q", end_ns) if end_ns else b"",
            before,
            b"" if subject is None else _subject_field(subject),
            after,
        )
    )
    # ResourceSpans { resource = 1; scope_spans = 2 { scope = 1; spans = 2 } }
    scope_spans = scope + b"\x12" + _varint(len(span)) + span
    return head + b"\x12" + _varint(len(scope_spans)) + scope_spans


def encode_shaped(record: LogRecord, shape: Shape) -> bytes:
    """`encode_resource_spans(record)` from the bytes of its shape (`shape_bytes` of a record of its shape_key).

    Records of one processing differ only in their ids, times and data subject; everything
    else (name, kind, status, trace state, the other attributes, resource and scope) is their
    shape. The varying fields are written around the shape's bytes (protobuf reads fields in
    any order, so the message parses to the same `ResourceSpans`). Not for records with
    events or links (they have no shape).
    """
    return shape.encode(*varying_parts(record))


def varying_parts(record: LogRecord) -> tuple[bytes, bytes, bytes, int, int, str | None]:
    """What records of one shape differ in: trace id, span id, parent, start, end, subject id."""
    return (
        record.trace_id,
        record.span_id,
        record.parent_span_id,
        record.start_time_ns,
        record.end_time_ns,
        record.attributes.get(_SUBJECT),
    )


def encode_parts(
    shape: Shape, trace_id: bytes, span_id: bytes, parent: bytes, start_ns: int, end_ns: int, subject: str | None
) -> bytes:
    """`encode_shaped` of the record of `shape` with these ids, times and subject id."""
    return shape.encode(trace_id, span_id, parent, start_ns, end_ns, subject)


def shape_key(record: LogRecord) -> tuple[Any, ...]:
    """What a record shares with the other records of its processing: all but ids, times and subject id.

    (Events and links are not in it: records with those have no shape.)
    """
    attributes: dict[str, str | None] = record.attributes  # type: ignore[assignment]
    if _SUBJECT in attributes:
        attributes = attributes.copy()
        attributes[_SUBJECT] = None  # keeps its place among the keys: the shape says where it goes
    return (
        record.name,
        record.kind,
        record.status,
        record.status_message,
        record.trace_state,
        tuple(attributes.items()),
        tuple(record.resource_attributes.items()),
        record.scope_name,
        record.scope_version,
    )


def shape_bytes(record: LogRecord) -> Shape:
    """The fixed bytes of a record's shape: (the ResourceSpans' resource field, the scope field,
    the span's fields up to the subject attribute, and its fields after it)."""
    attributes = record.attributes
    names = list(attributes)
    cut = names.index(_SUBJECT) if _SUBJECT in attributes else len(names)
    plain = LogRecord(
        trace_id=b"",
        span_id=b"",
        name=record.name,
        start_time_ns=0,
        end_time_ns=0,
        status=record.status,
        status_message=record.status_message,
        kind=record.kind,
        trace_state=record.trace_state,
    )
    fields = record_to_span(plain).SerializeToString()  # no ids, times or attributes: all zero or empty

    def attribute(key: str) -> bytes:
        return _field(9, KeyValue(key=key, value=AnyValue(string_value=attributes[key])).SerializeToString())

    before = b"".join(attribute(k) for k in names[:cut])
    after = b"".join(attribute(k) for k in names[cut + 1 :])
    resource = Resource(attributes=_key_values(record.resource_attributes)).SerializeToString()
    scope = InstrumentationScope(name=record.scope_name, version=record.scope_version).SerializeToString()
    return Shape(_field(1, resource), _field(1, scope), fields + before, after)
