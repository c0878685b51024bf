"""From a finished OpenTelemetry span to an LDV record: a plain dict, checked and guarded.

The dict is the form a record has inside the SDK: the spool stores it as JSON, the sender
encodes it as OTLP protobuf, and `ldv_sdk.testing` hands it to the user's tests. (An ordinary
span skips the dict on its way to the spool: `SpanEncoder` writes the same JSON in one pass.)
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

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanKind, StatusCode

from ldv_logboek import attributes as attr

# BSN_CANDIDATE is the core's own pattern, so the SDK and the collector see the same candidates.
from ldv_logboek.pseudonym import BSN_CANDIDATE, PSEUDONYM_PREFIX, contains_bsn, is_bsn, is_pseudonym, pseudonymise
from ldv_logboek.record import LogRecord, Status
from ldv_logboek.validation import Violation, check_record, is_uri

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


# Keyed by id(): enum members are singletons, and Enum.__hash__ runs in Python on every lookup.
_STATUS_BY_ID = {id(code): name for code, name in _STATUS.items()}
_KIND_BY_ID = {id(kind): name for kind, name in _KIND.items()}


def _plain(value: Any) -> Any:
    # OTel keeps sequence attributes as tuples; JSON and the OTLP encoder want lists.
    return list(value) if isinstance(value, tuple) else value


def _attribute_dict(span: ReadableSpan) -> dict[str, Any]:
    """A copy of a finished span's attributes.

    `span.attributes` is a read-only view over the SDK's BoundedAttributes, and copying it
    item by item through the mapping ABC costs ~2.5 us for three attributes; the dict inside
    is copied in C. The inner dict is an SDK detail, so anything else takes the public view.
    A finished span's attributes no longer change (the SDK ignores set_attribute after end).
    """
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(inner) is dict:
        return dict(inner)
    return dict(span.attributes or {})


def span_to_record(span: ReadableSpan, resource: Mapping[str, Any]) -> Record:
    """The record dict of a finished span (no checks yet)."""
    ctx = span.context
    parent = span.parent
    status = span.status
    scope = span.instrumentation_scope
    # The SDK's `events` property copies its list into a tuple on every read; the list itself
    # is enough to see that there are none (the usual case). Anything else takes the property.
    events = getattr(span, "_events", None)
    if events is None or type(events).__name__ != "BoundedList":
        events = span.events
    state = ctx.trace_state
    attributes = _attribute_dict(span)
    for key, value in attributes.items():
        if type(value) is tuple:
            attributes[key] = list(value)
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent is not None and parent.is_valid else "",
        "name": span.name,
        "kind": _KIND_BY_ID.get(id(span.kind), "Internal"),
        "trace_state": state.to_header() if state else "",
        "start_time_ns": span.start_time or 0,
        "end_time_ns": span.end_time or 0,
        "status": _STATUS_BY_ID.get(id(status.status_code)) or _STATUS[status.status_code],
        "status_message": status.description or "",
        "attributes": attributes,
        "resource": dict(resource),
        "scope": [scope.name, scope.version or ""] if scope is not None else ["", ""],
        "events": [
            {"time_ns": e.timestamp, "name": e.name, "attributes": {k: _plain(v) for k, v in (e.attributes or {}).items()}}
            for e in events
        ]
        if events
        else [],
    }


_ASCII_DIGITS = b"0123456789"


def _may_hold_candidate(text: str) -> bool:
    """False only when `text` holds no nine-digit run that BSN_CANDIDATE could match."""
    if text.isascii():
        # Counting digits in C is several times cheaper than the regex's scan; a candidate
        # needs nine. (Not for other text: the regex's \d also takes non-ASCII digits.)
        raw = text.encode("ascii")
        if len(raw) - len(raw.translate(None, _ASCII_DIGITS)) < 9:
            return False
    return BSN_CANDIDATE.search(text) is not None


def has_bsn_candidate(values: Mapping[str, Any]) -> bool:
    """True when a text in `values` (strings, or lists of strings) holds a nine-digit run standing on its own."""
    texts: list[str] = []
    for value in values.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, (list, tuple)):
            texts.extend(v for v in value if isinstance(v, str))
    return _may_hold_candidate("\x00".join(texts))


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


def _texts(record: Record, *, resource: bool = True) -> list[str]:
    # Every text the guard looks at, in one list (one regex search over their join is the fast
    # path). The exemptions of _exempt are written out: this runs for every record.
    texts = [record["name"], record["status_message"], record["trace_state"]]
    for mapping in (record["attributes"], record["resource"]) if resource else (record["attributes"],):
        for key, value in mapping.items():
            if isinstance(value, str):
                if key == _SUBJECT_KEY and is_pseudonym(value):
                    continue
                if key == _FOREIGN_SPAN_KEY and _SPAN_ID.fullmatch(value) is not None:
                    continue
                texts.append(value)
            elif isinstance(value, list):
                texts.extend(v for v in value if isinstance(v, str))
    for event in record["events"]:
        texts.append(event["name"])
        texts.extend(v for v in event["attributes"].values() if isinstance(v, str))
        texts.extend(s for v in event["attributes"].values() if isinstance(v, list) for s in v if isinstance(s, str))
    return texts


_SUBJECT_KEY = attr.DATA_SUBJECT_ID
_FOREIGN_SPAN_KEY = attr.FOREIGN_OPERATION_SPAN_ID


def guard_bsn(record: Record, *, resource_clean: bool = False) -> list[str]:
    """Replace every clear BSN (9 digits passing the elfproef) anywhere in `record` in place.

    Returns where one was found (field or attribute names, never the values), so the
    caller can warn. The data subject id is pseudonymised before this runs, so a hit here
    is personal data the developer put somewhere it does not belong. `resource_clean=True`
    says the caller already knows the record's resource holds no nine-digit run (the
    runtime checks its resource once), so it is not searched again.
    """
    # Fast path: most records hold no run of nine digits at all.
    if not _may_hold_candidate("\x00".join(_texts(record, resource=not resource_clean))):
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


def pseudonymise_subject(record: Record, key: bytes | Callable[[str], str]) -> bool:
    """Make sure the subject id is a pseudonym (a safety net for ids set as raw attributes).

    `key` is the organisation's key, or a `ldv_sdk.pseudonyms.Pseudonymiser` made with it.
    """
    subject = record["attributes"].get(attr.DATA_SUBJECT_ID)
    if isinstance(subject, str) and subject and not is_pseudonym(subject):
        record["attributes"][attr.DATA_SUBJECT_ID] = key(subject) if callable(key) else pseudonymise(subject, key)
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
    if plainly_valid(record):
        return fixed, []
    return fixed, check_record(to_log_record(record))


_STATUSES = frozenset(_STATUS.values())
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16


def plainly_valid(record: Record) -> bool:
    """True only when `check_record(to_log_record(record))` finds nothing, for a record of `span_to_record`.

    A conservative shortcut of the core's rules (ldv_logboek.validation.check_record): each
    test below implies the core's test on the converted record, and anything unusual (a
    non-string value under a `dpl.core` key, a foreign id) answers False, so the caller runs
    the full check, which names the rules. The ids are hex by construction here (formatted
    from the span's ints), so only their length and zero-ness are left to look at.
    Held equal to the core's verdict in tests/sdk/test_fast_path.py.
    """
    trace_id = record["trace_id"]
    span_id = record["span_id"]
    parent = record["parent_span_id"]
    if len(trace_id) != 32 or trace_id == _ZERO_TRACE_ID or len(span_id) != 16 or span_id == _ZERO_SPAN_ID:
        return False
    if parent and (len(parent) != 16 or parent == _ZERO_SPAN_ID):
        return False
    name = record["name"]
    if type(name) is not str or not name.strip() or record["status"] not in _STATUSES:
        return False
    start = record["start_time_ns"]
    end = record["end_time_ns"]
    if type(start) is not int or type(end) is not int or not 0 < start <= end:
        return False
    return _attributes_plainly_valid(record["attributes"])


def _attributes_plainly_valid(attrs: Mapping[str, Any]) -> bool:
    """The attribute part of plainly_valid (shared with SpanEncoder)."""
    activity = attrs.get(attr.PROCESSING_ACTIVITY_ID)
    subject = attrs.get(attr.DATA_SUBJECT_ID)
    subject_type = attrs.get(attr.DATA_SUBJECT_ID_TYPE)
    processor = attrs.get(attr.FOREIGN_OPERATION_PROCESSOR)
    read_api = attrs.get(attr.EXTERNAL_READ_API_ID)
    for value in (activity, subject, subject_type, processor, read_api):
        if value is not None and type(value) is not str:
            return False  # the core compares str(value); leave that to it
    if activity is not None and not is_uri(activity):
        return False
    if bool(subject) != bool(subject_type) or (subject and not activity):
        return False
    return (processor is None or is_uri(processor)) and (read_api is None or is_uri(read_api))


# -- the spooled form ---------------------------------------------------------------------------

_DUMPS_OPTIONS: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False}


def _fragment_encoder() -> Callable[[Any], str]:
    """json.dumps(value, **_DUMPS_OPTIONS) as one reusable C encoder.

    json.dumps builds a new encoder object for every call with non-default options, which
    costs more than encoding a record's few attributes; this builds it once. Without the C
    accelerator (or if it ever answers differently) it is plain json.dumps.
    """
    dumps = json.JSONEncoder(**_DUMPS_OPTIONS)
    try:
        from json.encoder import c_make_encoder  # type: ignore[attr-defined]

        if c_make_encoder is None:
            return dumps.encode
        # The arguments JSONEncoder.iterencode passes; markers=None: attribute values hold no cycles.
        encoder = c_make_encoder(None, dumps.default, encode_basestring, None, ":", ",", False, False, True)

        def encode(value: Any) -> str:
            return "".join(encoder(value, 0))

        sample = {"a": "é\"\n", "b": [1, 2.5, True, None, "x"], "c": {"d": -3}, "e": float("nan")}
        if encode(sample) != dumps.encode(sample):
            return dumps.encode
        return encode
    except Exception:  # noqa: BLE001 - any surprise in the accelerator: the plain path
        return dumps.encode


_encode_fragment = _fragment_encoder()


class RecordEncoder:
    """Encodes a record as the spool's JSON: the same text as `json.dumps(record, separators=(",", ":"), ensure_ascii=False)`.

    The fixed keys are written directly (ids and enum names need no escaping), the texts with
    the json module's own string escaper, the attributes and events with one reusable C
    encoder, and the resource and scope of this runtime (the same on every record) are
    encoded once. A record of another shape falls back to json.dumps. Held byte-equal to
    json.dumps in tests/sdk/test_fast_path.py.
    """

    __slots__ = ("_resource", "_scope", "_tail")

    def __init__(self, resource: Mapping[str, Any], scope: Sequence[str]) -> None:
        self._resource = dict(resource)
        self._scope = list(scope)
        self._tail = ',"resource":' + _encode_fragment(self._resource) + ',"scope":' + _encode_fragment(self._scope)

    def built(self, record: Record, *, resource_untouched: bool) -> str:
        """`self(record)` for a record made by span_to_record with this encoder's resource and scope.

        The record pipeline (guard_bsn, check_and_fix, pseudonymise_subject) only changes the
        texts and the attributes, never the ids, kind, status or times span_to_record wrote (hex,
        enum names and ints), so they are written without the checks `__call__` makes. With
        `resource_untouched` (the guard knew the resource clean) the resource and scope are this
        runtime's own and their encoding is reused. Held equal to `__call__` in tests/sdk/test_fast_path.py.
        """
        if not resource_untouched or len(record) != _RECORD_KEYS or record["scope"] != self._scope:
            return self(record)
        events = record["events"]
        return (
            f'{{"trace_id":"{record["trace_id"]}","span_id":"{record["span_id"]}",'
            f'"parent_span_id":"{record["parent_span_id"]}",'
            f'"name":{encode_basestring(record["name"])},"kind":"{record["kind"]}",'
            f'"trace_state":{encode_basestring(record["trace_state"])},'
            f'"start_time_ns":{record["start_time_ns"]},"end_time_ns":{record["end_time_ns"]},'
            f'"status":"{record["status"]}",'
            f'"status_message":{encode_basestring(record["status_message"])},'
            f'"attributes":{_encode_fragment(record["attributes"])}{self._tail}'
        ) + (',"events":' + _encode_fragment(events) + "}" if events else ',"events":[]}')

    def __call__(self, record: Record) -> str:
        """The JSON text of a record in span_to_record's shape (key order included)."""
        if len(record) != _RECORD_KEYS:
            return json.dumps(record, **_DUMPS_OPTIONS)
        try:
            trace_id = record["trace_id"]
            span_id = record["span_id"]
            parent = record["parent_span_id"]
            kind = record["kind"]
            status = record["status"]
            start = record["start_time_ns"]
            end = record["end_time_ns"]
            # Written without escaping, so each must be letters and digits only (what
            # span_to_record makes: hex ids, enum names) and the times plain ints.
            if not (
                type(trace_id) is str
                and trace_id.isalnum()
                and type(span_id) is str
                and span_id.isalnum()
                and type(parent) is str
                and (not parent or parent.isalnum())
                and type(kind) is str
                and kind.isalnum()
                and type(status) is str
                and status.isalnum()
                and type(start) is int
                and type(end) is int
            ):
                return json.dumps(record, **_DUMPS_OPTIONS)
            head = (
                f'{{"trace_id":"{trace_id}","span_id":"{span_id}","parent_span_id":"{parent}",'
                f'"name":{encode_basestring(record["name"])},"kind":"{kind}",'
                f'"trace_state":{encode_basestring(record["trace_state"])},'
                f'"start_time_ns":{start},"end_time_ns":{end},"status":"{status}",'
                f'"status_message":{encode_basestring(record["status_message"])},'
                f'"attributes":{_encode_fragment(record["attributes"])}'
            )
            if record["resource"] == self._resource and record["scope"] == self._scope:
                tail = self._tail
            else:
                tail = ',"resource":' + _encode_fragment(record["resource"]) + ',"scope":' + _encode_fragment(record["scope"])
            events = record["events"]
        except (KeyError, TypeError):
            return json.dumps(record, **_DUMPS_OPTIONS)
        return head + tail + (',"events":' + _encode_fragment(events) + "}" if events else ',"events":[]}')


_RECORD_KEYS = 14  # the keys span_to_record writes, in its order


# -- the one-pass path for an ordinary span -------------------------------------------------------



# Stands in for the pseudonym while a span's shape is worked out: a pseudonym too (the guard
# exempts it, the checks see a non-empty string), so every verdict is the real pseudonym's.
_PLACEHOLDER = PSEUDONYM_PREFIX + "0" * 64
_SUBJECT_PAIR = encode_basestring(_SUBJECT_KEY) + ":" + encode_basestring(_PLACEHOLDER)
_MAX_SHAPES = 256
_PLAIN_TYPES = frozenset((str, int, float, bool))


class SpanEncoder:
    """The spool's JSON of an ordinary finished span in one pass, or None for anything else.

    `encoder(span)` returns exactly the text the generic pipeline gives for the same span
    (span_to_record, pseudonymise_subject, guard_bsn, check_and_fix, then RecordEncoder),
    without building the record dict. It only answers for spans that pipeline would pass
    unchanged: a pseudonymised (or no) subject, no nine-digit run standing on its own in any
    text the guard searches, nothing the standard's checks would fix or question, no events,
    only plain scalar attribute values, this runtime's scope and a resource known clean.
    Anything else answers None and takes the generic pipeline (which redacts, fixes, warns
    and gets the core's verdict).

    The guard's and the checks' verdicts and most of the text depend only on a span's shape:
    its name, status, trace state, kind and attributes with the pseudonym left out. Spans of
    one processing share their shape, so the verdict and the text around the ids, times and
    pseudonym are worked out once per shape (up to 256 shapes, then afresh). Float values are
    never cached (0.0 and -0.0 are equal keys but different texts). Held equal to the generic
    pipeline in tests/sdk/test_span_encoder.py.
    """

    __slots__ = ("_tail", "_scope", "_known_scope", "_shapes")

    def __init__(self, resource: Mapping[str, Any], scope: Sequence[str]) -> None:
        self._scope = (scope[0], scope[1])
        self._known_scope: object = None  # the tracer's scope object, once seen to be ours
        # Constant per configuration: written once, after the attributes (the record's key order).
        self._tail = (
            ',"resource":' + _encode_fragment(dict(resource)) + ',"scope":' + _encode_fragment(list(scope)) + ',"events":[]}'
        )
        self._shapes: dict[tuple[Any, ...], tuple[str, str, str] | None] = {}

    def __call__(self, span: ReadableSpan) -> str | None:
        attributes = getattr(getattr(span, "_attributes", None), "_dict", None)
        events = getattr(span, "_events", None)
        if type(attributes) is not dict or type(events) is not BoundedList or events:
            return None
        scope = span.instrumentation_scope
        if scope is not self._known_scope:
            if scope is None or (scope.name, scope.version or "") != self._scope:
                return None
            self._known_scope = scope  # one scope object per tracer: compared by identity from now on
        name = span.name
        status = span.status
        message = status.description or ""
        ctx = span.context
        state = ctx.trace_state
        trace_state = state.to_header() if state else ""
        if type(name) is not str or type(message) is not str:
            return None
        subject = attributes.get(_SUBJECT_KEY)
        if subject is None:
            shaped = attributes
            subject_text = ""
        elif type(subject) is str and is_pseudonym(subject):
            shaped = attributes.copy()
            shaped[_SUBJECT_KEY] = _PLACEHOLDER
            subject_text = encode_basestring(subject)
        else:
            return None  # a raw id (pseudonymised by the generic path) or anything odd
        types = tuple(map(type, shaped.values()))
        if not _PLAIN_TYPES.issuperset(types):
            return None  # sequences and anything unusual (unhashable too): the generic path
        key = (name, message, trace_state, id(status.status_code), id(span.kind), tuple(shaped.items()), types)
        shapes = self._shapes
        try:
            template = shapes[key]
        except KeyError:
            template = self._template(name, status, message, trace_state, span.kind, shaped)
            if float not in types:
                if len(shapes) >= _MAX_SHAPES:
                    shapes.clear()
                shapes[key] = template
        if template is None:
            return None
        # The checks on the ids and times (plainly_valid's; formatted from ints, so hex by construction).
        trace_id = "%032x" % ctx.trace_id
        span_id = "%016x" % ctx.span_id
        parent = span.parent
        parent_id = "%016x" % parent.span_id if parent is not None and parent.is_valid else ""
        if len(trace_id) != 32 or trace_id == _ZERO_TRACE_ID or len(span_id) != 16 or span_id == _ZERO_SPAN_ID:
            return None
        if parent_id and (len(parent_id) != 16 or parent_id == _ZERO_SPAN_ID):
            return None
        start = span.start_time
        end = span.end_time
        if type(start) is not int or type(end) is not int or not 0 < start <= end:
            return None
        head, middle, rest = template
        return (
            f'{{"trace_id":"{trace_id}","span_id":"{span_id}","parent_span_id":"{parent_id}",'
            f"{head}{start},\"end_time_ns\":{end}{middle}{subject_text}{rest}"
        )

    def _template(
        self, name: str, status: Any, message: str, trace_state: str, kind: SpanKind, shaped: dict[str, Any]
    ) -> tuple[str, str, str] | None:
        """The text of one shape around the start time, the end time and the pseudonym; None when not ordinary."""
        if not name.strip():
            return None
        # The guard's texts (guard_bsn's _texts, resource known clean), with its exemptions.
        texts = [name, message, trace_state]
        for key, value in shaped.items():
            value_type = type(value)
            if value_type is str:
                if key == _SUBJECT_KEY:
                    if is_pseudonym(value):
                        continue
                    return None  # cannot happen (only the placeholder is left here); declined all the same
                if key == _FOREIGN_SPAN_KEY and _SPAN_ID.fullmatch(value) is not None:
                    continue
                texts.append(value)
            elif value_type is not int and value_type is not float and value_type is not bool:
                return None  # sequences and anything unusual: the generic path
        if _may_hold_candidate("\x00".join(texts)):
            return None
        status_name = _STATUS_BY_ID.get(id(status.status_code))
        if status_name is None or not _attributes_plainly_valid(shaped):
            return None
        head = (
            f'"name":{encode_basestring(name)},"kind":"{_KIND_BY_ID.get(id(kind), "Internal")}",'
            f'"trace_state":{encode_basestring(trace_state)},"start_time_ns":'
        )
        body = (
            f',"status":"{status_name}","status_message":{encode_basestring(message)},'
            f'"attributes":{_encode_fragment(shaped)}{self._tail}'
        )
        if _SUBJECT_KEY not in shaped:
            return head, body, ""
        # Keys are unique and quotes inside strings are escaped, so the pair occurs once, as itself.
        before, pair, after = body.partition(_SUBJECT_PAIR)
        if not pair or _SUBJECT_PAIR in after:
            return None
        return head, before + _SUBJECT_PAIR[: -len(encode_basestring(_PLACEHOLDER))], after
