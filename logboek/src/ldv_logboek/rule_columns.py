"""The rules of `ldv_logboek.rules` over Arrow columns: a whole request at once.

`broken_rules(columns, rules)` reads each rule's condition over the columns named by its
fields (pyarrow.compute, one kernel per condition; a URI test once per distinct value) and
answers, per rule that some row breaks, the mask of the rows that break it. The messages are
the table's (`Rule.violation`), made only for the rows that break a rule.

Needs pyarrow (the `store` extra): `ldv_logboek/__init__` never imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ldv_logboek._record import LogRecord
from ldv_logboek.rules import (
    LAST_EVENT_TIME,
    RULE_ATTRIBUTES,
    STATUS_CODES,
    AtMost,
    Condition,
    IdBytes,
    Implies,
    NotBefore,
    NotBlank,
    OneOf,
    Positive,
    Rule,
    Together,
    Uri,
    is_uri,
)

Columns = Mapping[str, pa.Array]


def _set(column: pa.Array) -> pa.Array:
    """Present and not empty (a null or "" is not set)."""
    return pc.fill_null(pc.greater(pc.binary_length(column), 0), False)


def _holds(condition: Condition, columns: list[pa.Array]) -> pa.Array:
    """Where `condition` holds over `columns` (a boolean array without nulls)."""
    match condition:
        case IdBytes(size=size, optional=optional):
            (ids,) = columns
            good = pc.and_(pc.equal(pc.binary_length(ids), size), pc.not_equal(ids, pa.scalar(bytes(size), ids.type)))
            return pc.or_(good, pc.equal(pc.binary_length(ids), 0)) if optional else good
        case NotBlank():
            (text,) = columns
            return pc.greater(pc.binary_length(pc.utf8_trim_whitespace(text)), 0)
        case Positive():
            return pc.greater(columns[0], pa.scalar(0, columns[0].type))
        case NotBefore():
            end, start = columns
            return pc.and_(pc.greater(end, pa.scalar(0, end.type)), pc.greater_equal(end, start))
        case AtMost(limit=limit):
            held = pa.array([True] * len(columns[0]))
            for column in columns:
                held = pc.and_(held, pc.fill_null(pc.less_equal(column, pa.scalar(limit, column.type)), True))
            return held
        case OneOf(values=values):
            return pc.is_in(columns[0], pa.array(values, columns[0].type))
        case Uri():
            (values,) = columns
            distinct = pc.unique(values.drop_null()).to_pylist()
            bad = [v for v in distinct if not is_uri(v)]
            if not bad:
                return pa.array([True] * len(values))
            return pc.invert(pc.fill_null(pc.is_in(values, pa.array(bad, pa.string())), False))
        case Together():
            a, b = columns
            return pc.equal(_set(a), _set(b))
        case Implies():
            a, b = columns
            return pc.or_(pc.invert(_set(a)), _set(b))
    raise TypeError(f"no columnar reading of {condition!r}")


def broken_rules(columns: Columns, rules: tuple[Rule, ...]) -> list[tuple[Rule, pa.Array]]:
    """(rule, mask of the rows that break it) for every rule of `rules` that some row breaks."""
    broken = []
    for rule in rules:
        assert rule.condition is not None  # callers pass rules with conditions (COLLECTOR_RULES)
        held = pc.fill_null(_holds(rule.condition, [columns[name] for name in rule.fields]), False)
        if not pc.all(held).as_py():
            broken.append((rule, pc.invert(held)))
    return broken


# The Arrow type of every field the rules read (`ldv_logboek.rules.fields_of`); attributes are strings.
FIELD_TYPES: dict[str, pa.DataType] = {
    "trace_id": pa.binary(),
    "span_id": pa.binary(),
    "parent_span_id": pa.binary(),
    "name": pa.string(),
    "status_code": pa.int64(),
    "start_time_ns": pa.uint64(),
    "end_time_ns": pa.uint64(),
    LAST_EVENT_TIME: pa.uint64(),
}


def field_columns(values: Mapping[str, list[Any]]) -> dict[str, pa.Array]:
    """The rules' fields as Arrow columns, from a list of values per field name."""
    return {name: pa.array(column, FIELD_TYPES.get(name, pa.string())) for name, column in values.items()}


def record_fields(records: Sequence[LogRecord], status_codes: Sequence[int] | None = None) -> dict[str, list[Any]]:
    """The rules' fields of `records` as one list per field: `fields_of` of each record, by column.

    `status_codes`: the OTLP codes as received (a record holds an undefined one as Unset).
    """
    values: dict[str, list[Any]] = {
        "trace_id": [r.trace_id for r in records],
        "span_id": [r.span_id for r in records],
        "parent_span_id": [r.parent_span_id for r in records],
        "name": [r.name for r in records],
        "status_code": list(status_codes) if status_codes is not None else [STATUS_CODES.get(r.status, -1) for r in records],
        "start_time_ns": [r.start_time_ns for r in records],
        "end_time_ns": [r.end_time_ns for r in records],
        LAST_EVENT_TIME: [max(e.time_ns for e in r.events) if r.events else None for r in records],
    }
    for key in RULE_ATTRIBUTES:
        values[key] = [r.attributes.get(key) for r in records]
    return values
