"""The record pipeline's batch form: OTLP spans straight into insert columns, the rules over columns.

`SpanColumns` reads the spans of a request into the insert columns (`ROWS_SCHEMA`) with one
Python step per span and per attribute, and no record objects. `SpanColumns.ordinary()` then
applies the columnar form of the rules a record must pass *unchanged* on the full path
(`ldv_logboek._protect.protect` under the collector's policy, then `check_record`), each asked
of a whole column at once (C-level builtins over the column: `set`, `min`, `all(map(...))`, one
BSN search over all texts joined, the rule functions once per distinct value); only a rule that
some value breaks looks at the rows of its column one by one:

- ids: a trace id of 16 bytes, a span id of 8, a parent of 0 or 8, none all zeros;
- times: `0 < start <= end <= MAX_STORED_TIME_NS`; status code 0, 1 or 2; span kind 0 to 5;
- a name that is not blank; activity, foreign processor and read API ids that are URIs
  (`is_uri`, per distinct value); subject id and type together; a subject only with an activity;
- a subject id that is absent, empty or already a pseudonym (so `protect` leaves it alone);
- no text that could hold a clear BSN (`_may_hold_candidate`, protect's own prefilter): name,
  status message, trace state, attribute values but the subject id, and the resource's values;
- every attribute value a string, no attribute key twice, no events or links, an LDV record
  (some `dpl.` attribute).

A span that passes all of them is stored as it came; every other span is *unusual* and takes
the full path, span by span (`ldv_collector._ingest`), which decides it exactly. So the checks
here only have to be a superset of the full path's refusals and changes, never the rules
themselves; tests/collector/test_columnar_ingest.py holds the two paths equal over generated
requests.

Needs pyarrow (the `store` extra): the SDK never imports this module.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from itertools import chain, compress, islice, repeat
from operator import methodcaller
from typing import Any

import pyarrow as pa

from ldv_logboek import attributes as attr
from ldv_logboek._otlp import SPAN_KINDS
from ldv_logboek._protect import _may_hold_candidate
from ldv_logboek._pseudonym import is_pseudonym
from ldv_logboek._validation import SPAN_ID_BYTES, TRACE_ID_BYTES, is_uri
from ldv_logboek.storage._arrow_insert import ROWS_SCHEMA, times

MAX_STORED_TIME_NS = 2**63 - 1  # the Timestamp column's last value (ldv_logboek.storage._store)
_SEPARATOR = "\x00"  # as protect's: not alphanumeric, so a candidate cannot span two joined values
_STATUS_TEXT = {0: "Unset", 1: "Ok", 2: "Error"}
_STATUS_CODES = frozenset(_STATUS_TEXT)
_KIND_TEXT = dict(enumerate(SPAN_KINDS))
_KIND_NUMBERS = frozenset(_KIND_TEXT)
_URI_ATTRIBUTES = (attr.PROCESSING_ACTIVITY_ID, attr.FOREIGN_OPERATION_PROCESSOR, attr.EXTERNAL_READ_API_ID)
_RULE_ATTRIBUTES = frozenset((attr.DATA_SUBJECT_ID, attr.DATA_SUBJECT_ID_TYPE, *_URI_ATTRIBUTES))


class SpanColumns:
    """The spans of one request as insert columns, and which of them are ordinary."""

    def __init__(self) -> None:
        self.spans: list[Any] = []  # every span added, in order: the unusual ones take the full path
        self._unusual: list[int] = []  # flagged while reading (events, links, non-string values, resource)
        self._trace: list[bytes] = []
        self._span: list[bytes] = []
        self._parent: list[bytes] = []
        self._state: list[str] = []
        self._name: list[str] = []
        self._kind: list[int] = []
        self._start: list[int] = []
        self._end: list[int] = []
        self._code: list[int] = []
        self._message: list[str] = []
        self._service: list[str] = []
        self._scope: list[str] = []
        self._scope_version: list[str] = []
        self._keys: list[str] = []
        self._values: list[str] = []
        self._offsets: list[int] = [0]
        self._resource_keys: list[str] = []
        self._resource_values: list[str] = []
        self._resource_offsets: list[int] = [0]

    def __len__(self) -> int:
        return len(self.spans)

    def add_scope(
        self, spans: Iterable[Any], resource: dict[str, str], scope_name: str, scope_version: str, *, unusual: bool
    ) -> None:
        """Read the OTLP `spans` of one scope of `resource` (its attributes as the store keeps them).

        `unusual`: every span of this scope takes the full path (the caller found something
        about the resource that the columns do not show, e.g. another organisation's). So do they
        when a resource attribute could hold a clear BSN: the full path guards the resource's
        texts with the span's.
        """
        unusual = unusual or _may_hold_candidate(_SEPARATOR.join(resource.values()))
        first = len(self.spans)
        keys, values, offsets = self._keys, self._values, self._offsets
        trace, span_ids, parent, state, name = self._trace, self._span, self._parent, self._state, self._name
        kind, start, end, code, message = self._kind, self._start, self._end, self._code, self._message
        flagged = self._unusual
        index = first
        for span in spans:
            self.spans.append(span)
            trace.append(span.trace_id)
            span_ids.append(span.span_id)
            parent.append(span.parent_span_id)
            state.append(span.trace_state)
            name.append(span.name)
            kind.append(span.kind)
            start.append(span.start_time_unix_nano)
            end.append(span.end_time_unix_nano)
            status = span.status
            code.append(status.code)
            message.append(status.message)
            odd = bool(span.events or span.links)
            for kv in span.attributes:
                value = kv.value
                text = value.string_value
                # A oneof holds one value: a non-empty string is a string; only "" needs asking.
                if not text and value.WhichOneof("value") != "string_value":
                    odd = True
                keys.append(kv.key)
                values.append(text)
            offsets.append(len(keys))
            if odd:
                flagged.append(index)
            index += 1
        count = index - first
        if unusual:
            flagged.extend(range(first, index))
        self._service += [resource.get(attr.SERVICE_NAME, "")] * count
        self._scope += [scope_name] * count
        self._scope_version += [scope_version] * count
        resource_keys, resource_values = list(resource), list(resource.values())
        size = len(resource_keys)
        for _ in range(count):
            self._resource_keys += resource_keys
            self._resource_values += resource_values
            self._resource_offsets.append(self._resource_offsets[-1] + size)

    def ordinary(self) -> tuple[pa.Table, pa.Array, list[int]]:
        """The rows (`ROWS_SCHEMA`) of the ordinary spans, in order, their indices into `spans`,
        and the indices of the unusual ones (for the full path), in order.

        Each rule is first asked of a whole column at once (C-level builtins over the lists:
        `set`, `min`, `map`, one regex over all texts joined); only a rule that some value of
        its column breaks looks at its rows one by one, to name them.
        """
        n = len(self.spans)
        if n == 0:
            return ROWS_SCHEMA.empty_table(), pa.array([], pa.int64()), []
        unusual = set(self._unusual)
        _check_ids(self._trace, TRACE_ID_BYTES, unusual)
        _check_ids(self._span, SPAN_ID_BYTES, unusual)
        _check_ids(self._parent, SPAN_ID_BYTES, unusual, optional=True)
        start, end = self._start, self._end
        if not (min(start) > 0 and max(end) <= MAX_STORED_TIME_NS and all(map(operator.le, start, end))):
            unusual.update(i for i, (s, e) in enumerate(zip(start, end)) if not 0 < s <= e <= MAX_STORED_TIME_NS)
        _check_range(self._code, _STATUS_CODES, unusual)
        _check_range(self._kind, _KIND_NUMBERS, unusual)
        _check_values(self._name, lambda v: not v or not v.strip(), unusual)
        self._check_attributes(unusual)

        if unusual:
            # The unusual rows' values may not fit their columns (times past the range, negative
            # durations): times are taken of the ordinary rows only, the other columns filtered.
            ordinary = pa.array([i for i in range(n) if i not in unusual], pa.int64())
            kept = ordinary.to_pylist()
            start, end = [start[i] for i in kept], [end[i] for i in kept]
        else:
            ordinary = pa.array(range(n), pa.int64())
        columns = [
            _hex(self._trace),
            _hex(self._span),
            _hex(self._parent),
            pa.array(self._state, pa.string()),
            pa.array(self._name, pa.string()),
            pa.array([_KIND_TEXT.get(k, "") for k in self._kind], pa.string()),
            pa.array(self._service, pa.string()),
            pa.MapArray.from_arrays(
                pa.array(self._resource_offsets, pa.int32()),
                pa.array(self._resource_keys, pa.string()),
                pa.array(self._resource_values, pa.string()),
            ),
            pa.array(self._scope, pa.string()),
            pa.array(self._scope_version, pa.string()),
            pa.MapArray.from_arrays(
                pa.array(self._offsets, pa.int32()), pa.array(self._keys, pa.string()), pa.array(self._values, pa.string())
            ),
            None,  # Duration, below
            pa.array([_STATUS_TEXT.get(c, "") for c in self._code], pa.string()),
            pa.array(self._message, pa.string()),
            *_empty_nested(n),
        ]
        if unusual:
            columns = [c if c is None else c.take(ordinary) for c in columns]
        columns[11] = pa.array(list(map(operator.sub, end, start)), pa.uint64())
        rows = pa.Table.from_arrays([times(start), *columns], schema=ROWS_SCHEMA)
        return rows, ordinary, sorted(unusual)

    def _check_texts(self, unusual: set[int], owners: list[int], not_subject: list[bool]) -> None:
        """No text that could hold a clear BSN (`_may_hold_candidate`): one search over every name,
        status message, trace state and attribute value but the subject ids joined (as the full
        path, which leaves the subject id to the subject rule); the rows only when it finds one."""
        values = list(compress(self._values, not_subject))
        texts = (self._name, self._message, self._state, values)
        if not _may_hold_candidate(_SEPARATOR.join(_SEPARATOR.join(column) for column in texts)):
            return
        for column in texts[:3]:
            _check_values(column, _may_hold_candidate, unusual)
        value_owners = list(compress(owners, not_subject))
        unusual.update(value_owners[i] for i, value in enumerate(values) if _may_hold_candidate(value))

    def _owners(self) -> list[int]:
        """The span index of every attribute, in order."""
        offsets = self._offsets
        counts = map(operator.sub, islice(offsets, 1, None), offsets)
        return list(chain.from_iterable(map(repeat, range(len(offsets) - 1), counts)))

    def _check_attributes(self, unusual: set[int]) -> None:
        """The attribute rules: an LDV record, no key twice, the subject, the pair, the URIs, no
        clear BSN in a value (`_check_texts`)."""
        keys, values = self._keys, self._values
        owners = self._owners()
        n = len(self.spans)
        ldv = set(compress(owners, map(methodcaller("startswith", attr.DPL_PREFIX), keys)))
        if len(ldv) != n:
            unusual.update(set(range(n)) - ldv)
        if len(set(zip(owners, keys))) != len(keys):
            seen: set[tuple[int, str]] = set()
            for pair in zip(owners, keys):
                if pair in seen:
                    unusual.add(pair[0])
                seen.add(pair)
        # Span index -> value of the attributes the rules name (the last, as the full path keeps it).
        found: dict[str, dict[int, str]] = {key: {} for key in _RULE_ATTRIBUTES}
        named = list(map(_RULE_ATTRIBUTES.__contains__, keys))
        for owner, key, value in zip(compress(owners, named), compress(keys, named), compress(values, named)):
            found[key][owner] = value
        subjects = {o: v for o, v in found[attr.DATA_SUBJECT_ID].items() if v}
        if not all(map(is_pseudonym, subjects.values())):
            unusual.update(o for o, v in subjects.items() if not is_pseudonym(v))
        types = {o for o, v in found[attr.DATA_SUBJECT_ID_TYPE].items() if v}
        unusual.update(types.symmetric_difference(subjects))
        unusual.update(set(subjects).difference(o for o, v in found[attr.PROCESSING_ACTIVITY_ID].items() if v))
        for key in _URI_ATTRIBUTES:
            not_uris = {v for v in set(found[key].values()) if not is_uri(v)}
            if not_uris:
                unusual.update(o for o, v in found[key].items() if v in not_uris)
        self._check_texts(unusual, owners, list(map(attr.DATA_SUBJECT_ID.__ne__, keys)))


def _check_ids(ids: list[bytes], size: int, unusual: set[int], *, optional: bool = False) -> None:
    """Ids of `size` bytes, not all zeros (or empty, when `optional`)."""
    zero = bytes(size)
    allowed = {0, size} if optional else {size}
    if set(map(len, ids)) <= allowed and zero not in ids:
        return
    unusual.update(i for i, v in enumerate(ids) if not ((optional and not v) or (len(v) == size and v != zero)))


def _check_range(column: list[int], allowed: frozenset[int], unusual: set[int]) -> None:
    if not allowed.issuperset(column):
        unusual.update(i for i, v in enumerate(column) if v not in allowed)


def _check_values(column: list[str], bad: Any, unusual: set[int]) -> None:
    """Rows whose value `bad(value)` holds for (asked once per distinct value)."""
    flagged = {v for v in set(column) if bad(v)}
    if flagged:
        unusual.update(i for i, v in enumerate(column) if v in flagged)


def _hex(ids: list[bytes]) -> pa.Array:
    return pa.array([i.hex() for i in ids], pa.string())


def _empty_nested(n: int) -> list[pa.Array]:
    """The Events.* and Links.* columns of spans without events or links."""
    return [pa.array([[]] * n, field.type) for field in ROWS_SCHEMA if field.name.startswith(("Events.", "Links."))]
