"""The rules of the LDV standard, as data: one table, `RULES`, and the one place each rule is written.

Each `Rule` has a stable code (what rejections count and messages start with), the fields it
reads, its condition (what a valid record satisfies), a message for people, and where it
applies:

- `SOURCE`: the SDK, before a record leaves the process (`check_record`);
- `COLLECTOR`: the collector, for every incoming span, evaluated over a whole request at once
  (`ldv_logboek.rule_columns.broken_rules`, with pyarrow.compute over the request's columns);
- `READ`: every read of the store, as one SQL fragment (`Rule.sql`): the read API, the
  overviews and the dashboards use the same text.

A condition is a small declarative value (`IdBytes`, `NotBlank`, `Uri`, ...) with two
readings: `test`, a Python expression from which `compile_checker` generates one function that
checks a record against a tuple of rules (here), and over Arrow columns (`rule_columns`).
A rule without a condition is decided by the function its `decided_by` names (the privacy
rules need a key or a policy), and is listed here so that the rule map
(docs/architecture.md, `rule_map()`) has every rule once.

Field names are the record's (`fields_of`): ids as bytes, times as ns, the status as its OTLP
code, and the standard's attributes by their names (None when absent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ldv_logboek import attributes as attr
from ldv_logboek._record import LogRecord, Status

SOURCE = "source"
COLLECTOR = "collector"
READ = "read"

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
# The latest time the store's Timestamp columns (DateTime64(9): int64 ns) hold,
# 2262-04-11T23:47:16Z: the one definition of the store's time range.
MAX_STORED_TIME_NS = 2**63 - 1
# The same limit in ms (the read API's time bounds), and the earliest (around 1677).
MAX_TIME_MS = MAX_STORED_TIME_NS // 1_000_000
MIN_TIME_MS = -(2**63) // 1_000_000 + 1

STATUS_CODES = {Status.UNSET: 0, Status.OK: 1, Status.ERROR: 2}
LAST_EVENT_TIME = "last_event_time_ns"


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


# -- conditions: what a valid record satisfies ----------------------------------------------------
# Each condition is read two ways: `test`, the Python expression a compiled checker evaluates
# for one record (`compile_checker`), and over Arrow columns (`ldv_logboek.rule_columns`).


@dataclass(frozen=True, slots=True)
class IdBytes:
    """An id of `size` bytes, not all zeros (or absent, when `optional`)."""

    size: int
    optional: bool = False

    def test(self, value: str) -> str:
        held = f"(len({value}) == {self.size} and {value} != {bytes(self.size)!r})"
        return f"(not {value} or {held})" if self.optional else held


@dataclass(frozen=True, slots=True)
class NotBlank:
    """A text with something other than white space."""

    def test(self, value: str) -> str:
        return f"bool({value} and {value}.strip())"


@dataclass(frozen=True, slots=True)
class Positive:
    """A time that is set (ns since the epoch, above zero)."""

    def test(self, value: str) -> str:
        return f"{value} > 0"


@dataclass(frozen=True, slots=True)
class NotBefore:
    """The first field is set and not before the second (an end and its start)."""

    def test(self, end: str, start: str) -> str:
        return f"({end} > 0 and {end} >= {start})"


@dataclass(frozen=True, slots=True)
class AtMost:
    """Every field (None: absent) is at most `limit`."""

    limit: int

    def test(self, *values: str) -> str:
        return "(" + " and ".join(f"({v} is None or {v} <= {self.limit})" for v in values) + ")"


@dataclass(frozen=True, slots=True)
class OneOf:
    """A value out of `values`."""

    values: tuple[int, ...]

    def test(self, value: str) -> str:
        return f"{value} in {self.values!r}"


@dataclass(frozen=True, slots=True)
class Uri:
    """Absent, or an absolute URI (`is_uri`)."""

    def test(self, value: str) -> str:
        return f"({value} is None or is_uri({value}))"


@dataclass(frozen=True, slots=True)
class Together:
    """Both fields set (non-empty) or neither."""

    def test(self, a: str, b: str) -> str:
        return f"bool({a}) == bool({b})"


@dataclass(frozen=True, slots=True)
class Implies:
    """When the first field is set (non-empty), so is the second."""

    def test(self, a: str, b: str) -> str:
        return f"(not {a} or bool({b}))"


Condition = IdBytes | NotBlank | Positive | NotBefore | AtMost | OneOf | Uri | Together | Implies


# -- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the standard (see the module docstring)."""

    code: str
    standard: str  # what the standard asks, in a few words (the rule map's first column)
    fields: tuple[str, ...]
    condition: Condition | None
    message: str  # formatted with `value` (the first field's value, repr) and `size` (its length)
    applies: frozenset[str]
    decided_by: str = ""  # for a rule without a condition: the function that decides it
    sql: str = ""  # for a read rule: its SQL fragment

    def violation(self, fields: Mapping[str, Any]) -> Violation:
        """The violation of this rule by a record with these `fields`."""
        value = fields.get(self.fields[0]) if self.fields else None
        size = len(value) if isinstance(value, (bytes, str)) else 0
        return Violation(self.code, self.message.format(value=value, size=size))


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: a stable code for machines and a sentence for people."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


# The attributes the rules read (a field each, named as the attribute).
RULE_ATTRIBUTES = (
    attr.PROCESSING_ACTIVITY_ID,
    attr.DATA_SUBJECT_ID,
    attr.DATA_SUBJECT_ID_TYPE,
    attr.FOREIGN_OPERATION_PROCESSOR,
    attr.EXTERNAL_READ_API_ID,
)
_BOTH = frozenset((SOURCE, COLLECTOR))
_AT_COLLECTOR = frozenset((COLLECTOR,))
_ON_READ = frozenset((READ,))
_ACTIVITY, _SUBJECT, _SUBJECT_TYPE = attr.PROCESSING_ACTIVITY_ID, attr.DATA_SUBJECT_ID, attr.DATA_SUBJECT_ID_TYPE

# Records kept once: a sender retries, so the store may hold a record twice; every read shows it once.
SHOWN_ONCE = "LIMIT 1 BY TraceId, SpanId"
COUNT_ONCE = "uniqExact(TraceId, SpanId)"
# Records of confidential activities, left out of a data subject's reads: the register's windows
# (`Register.hidden_windows`) as three parallel array parameters (`hidden_params`).
CONFIDENTIAL_HIDDEN = (
    "NOT arrayExists((a, s, e) -> a = ProcessingActivityId AND toUnixTimestamp64Nano(Timestamp) >= s "
    "AND toUnixTimestamp64Nano(Timestamp) < e, "
    "{hidden_activity:Array(String)}, {hidden_start:Array(Int64)}, {hidden_end:Array(Int64)})"
)

RULES: tuple[Rule, ...] = (
    Rule("trace-id", "trace_id 16 bytes, not all zeros", ("trace_id",), IdBytes(TRACE_ID_BYTES),
         "trace_id must be 16 bytes (32 hex digits), not all zeros; got {size} bytes", _BOTH),
    Rule("span-id", "span_id 8 bytes, not all zeros", ("span_id",), IdBytes(SPAN_ID_BYTES),
         "span_id must be 8 bytes (16 hex digits), not all zeros; got {size} bytes", _BOTH),
    Rule("parent-span-id", "parent_span_id 8 bytes or absent", ("parent_span_id",), IdBytes(SPAN_ID_BYTES, optional=True),
         "parent_span_id must be absent or 8 bytes (16 hex digits), not all zeros; got {size} bytes", _BOTH),
    Rule("name", "name (the action, readable) required", ("name",), NotBlank(),
         "name (a human readable name of the action) is required", _BOTH),
    # At the source the status is OpenTelemetry's enum and cannot be another; only the wire can.
    Rule("status", "status is Unset, Ok or Error", ("status_code",), OneOf((0, 1, 2)),
         "status code must be 0 (Unset), 1 (Ok) or 2 (Error), got {value}", _AT_COLLECTOR),
    Rule("start-time", "start_time required", ("start_time_ns",), Positive(), "start_time is required", _BOTH),
    Rule("end-time", "end_time required, not before start_time", ("end_time_ns", "start_time_ns"), NotBefore(),
         "end_time is required and must not lie before start_time", _BOTH),
    Rule("time-range", "a stored time fits the store (until 2262-04-11)",
         ("start_time_ns", "end_time_ns", LAST_EVENT_TIME), AtMost(MAX_STORED_TIME_NS),
         "a start, end or event time lies after 2262-04-11T23:47:16Z, the latest time the Logboek can store",
         _AT_COLLECTOR),
    Rule("processing-activity-uri", "processing_activity_id is a URI", (_ACTIVITY,), Uri(),
         f"{_ACTIVITY} must be the URI of a processing activity in a register, got {{value!r}}", _BOTH),
    Rule("data-subject-pair", "data_subject_id and data_subject_id_type come together (7)", (_SUBJECT, _SUBJECT_TYPE),
         Together(), f"{_SUBJECT} and {_SUBJECT_TYPE} come together: one is set without the other", _BOTH),
    Rule("data-subject-needs-activity", "a record about a data subject names its processing activity (7)",
         (_SUBJECT, _ACTIVITY), Implies(),
         f"a record about a data subject must name its processing activity ({_ACTIVITY})", _BOTH),
    Rule("uri", "foreign_operation.processor is a URI", (attr.FOREIGN_OPERATION_PROCESSOR,), Uri(),
         f"{attr.FOREIGN_OPERATION_PROCESSOR} must be a URI, got {{value!r}}", _BOTH),
    Rule("uri", "externalReadAPI_id is a URI", (attr.EXTERNAL_READ_API_ID,), Uri(),
         f"{attr.EXTERNAL_READ_API_ID} must be a URI, got {{value!r}}", _BOTH),
    Rule("clear-bsn", "data_subject_id pseudonymised; no clear BSN anywhere else", (), None,
         "a clear BSN was found outside the pseudonymised subject id", _BOTH,
         decided_by="ldv_logboek._protect.protect (at the source: pseudonymise every subject, redact a stray BSN; "
         "at the collector: pseudonymise a clear-BSN subject, reject a stray BSN)"),
    Rule("sender-organisation", "a sender writes only for its own organisation", (), None,
         "the resource names another organisation than the sender's", _AT_COLLECTOR,
         decided_by="ldv_collector._senders.bind_organisation"),
    Rule("retention-passed", "retention per profile, counted from the record's own time", (), None,
         "the record's retention period ended before it arrived (its time plus its retention lies in the past; "
         "is the service's clock behind?): the Logboek does not keep it", _AT_COLLECTOR,
         decided_by="ldv_logboek.storage.LogStore.past_retention (the store's retention rules, "
         "ldv_logboek.storage._retention), called by ldv_collector._app"),
    Rule("shown-once", "every read shows a record once", (), None, "", _ON_READ,
         sql=f"{SHOWN_ONCE} (rows); {COUNT_ONCE} (counts)"),
    Rule("confidential", "confidential activities hidden from the data subject", (), None, "", _ON_READ,
         decided_by="the register's windows (ldv_logboek.register: Register.hidden_windows)", sql=CONFIDENTIAL_HIDDEN),
)  # fmt: skip

SOURCE_RULES = tuple(r for r in RULES if SOURCE in r.applies and r.condition is not None)
COLLECTOR_RULES = tuple(r for r in RULES if COLLECTOR in r.applies and r.condition is not None)


# Every field the rules read, as a Python expression over `record` (a `LogRecord`) and `attributes`
# (its attributes): the one definition of the fields, read by `fields_of` and by compiled checkers.
FIELDS: dict[str, str] = {
    "trace_id": "record.trace_id",
    "span_id": "record.span_id",
    "parent_span_id": "record.parent_span_id",
    "name": "record.name",
    "status_code": "STATUS_CODES.get(record.status, -1)",
    "start_time_ns": "record.start_time_ns",
    "end_time_ns": "record.end_time_ns",
    LAST_EVENT_TIME: "max((e.time_ns for e in record.events), default=None)",
    **{key: f"attributes.get({key!r})" for key in RULE_ATTRIBUTES},
}
_GLOBALS = {"STATUS_CODES": STATUS_CODES, "is_uri": is_uri, "__builtins__": {"bool": bool, "len": len, "max": max}}


def _compile(source: str, name: str) -> Any:
    """The function `name` that `source` defines (made from the table's data only, never from input)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<ldv_logboek.rules {name}>", "exec"), dict(_GLOBALS), namespace)  # noqa: S102
    function = namespace[name]
    function.source = source  # to read what was generated (tests, debugging)
    return function


fields_of: Callable[[LogRecord], dict[str, Any]] = _compile(
    "def fields_of(record):\n    attributes = record.attributes\n    return {\n"
    + "".join(f"        {name!r}: {expression},\n" for name, expression in FIELDS.items())
    + "    }\n",
    "fields_of",
)
fields_of.__doc__ = "The fields the rules read, of one record (an attribute absent: None)."


def compile_checker(rules: tuple[Rule, ...]) -> Callable[[LogRecord], list[int]]:
    """One function, generated from `rules`' conditions, that answers the indices of the rules a record breaks.

    Each field a rule reads is computed once (`FIELDS`), each condition is its `test`
    expression: no call per rule and no mapping of fields per record, which is what checking
    every record at the source costs (docs/benchmarks.md). Rules without a condition always hold.
    """
    checked = [(i, rule) for i, rule in enumerate(rules) if rule.condition is not None]
    used = list(dict.fromkeys(name for _, rule in checked for name in rule.fields))
    local = {name: f"f{n}" for n, name in enumerate(used)}
    lines = ["def broken(record):", "    attributes = record.attributes", "    out = []"]
    lines += [f"    {local[name]} = {FIELDS[name]}  # {name}" for name in used]
    for i, rule in checked:
        assert rule.condition is not None
        test = rule.condition.test(*(local[name] for name in rule.fields))
        lines += [f"    if not ({test}):  # {rule.code}", f"        out.append({i})"]
    lines.append("    return out")
    return _compile("\n".join(lines) + "\n", "broken")  # type: ignore[no-any-return]


_SOURCE_CHECK = compile_checker(SOURCE_RULES)  # the SDK checks every record with it


def check_record(record: LogRecord, rules: tuple[Rule, ...] = SOURCE_RULES) -> list[Violation]:
    """Every rule of `rules` (by default those that apply at the source) that `record` breaks."""
    broken = _SOURCE_CHECK(record) if rules is SOURCE_RULES else compile_checker(rules)(record)
    if not broken:
        return []
    fields = fields_of(record)
    return [rules[i].violation(fields) for i in broken]


def count_once(condition: str | None = None) -> str:
    """The SQL count of records, each once (`COUNT_ONCE`), of those that satisfy `condition` if given."""
    return COUNT_ONCE if condition is None else f"uniqExactIf((TraceId, SpanId), {condition})"


def hidden_params(windows: Any) -> dict[str, list[Any]]:
    """The parameters of `CONFIDENTIAL_HIDDEN` for windows of (activity id, start ns or None, end ns or None)."""
    windows = list(windows)
    return {
        "hidden_activity": [a for a, _, _ in windows],
        "hidden_start": [-(2**63) if s is None else s for _, s, _ in windows],
        "hidden_end": [MAX_STORED_TIME_NS if e is None else e for _, _, e in windows],
    }


_WHERE = {SOURCE: "SDK", COLLECTOR: "collector", READ: "read"}


def rule_map() -> str:
    """The rule map of docs/architecture.md, generated from `RULES` (tests/logboek/test_rules.py)."""
    lines = ["| rule (ldv-standard.md) | code | applies | how |", "|---|---|---|---|"]
    for rule in RULES:
        where = ", ".join(_WHERE[w] for w in (SOURCE, COLLECTOR, READ) if w in rule.applies)
        if rule.condition is not None:
            how = f"`{type(rule.condition).__name__}` of {', '.join(f'`{f}`' for f in rule.fields)}"
        else:
            how = rule.decided_by
        if rule.sql:
            how = (how + "; " if rule.decided_by else "") + f"SQL: `{rule.sql}`"
        lines.append(f"| {rule.standard} | `{rule.code}` | {where} | {how} |")
    return "\n".join(lines) + "\n"
