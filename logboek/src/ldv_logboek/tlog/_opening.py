"""A record's opening: the salt and stored values that give its log entry.

A receipt proves that an entry is in the log; the entry is a salted digest, so by itself it
does not say which record it commits to. A reader who may read a record can ask its Logboek
for the record's opening beside the receipt (the read API's proof route, `?opening=true`):
with it anyone recomputes the entry (`record_entry`) and so checks that the record they were
shown is the record that was logged, without trusting the Logboek that serves both. This is
how the inzage checks records it reads from another Logboek.

JSON form (`to_json` / `from_json`): `{"salt": <32 hex digits>, "record": {<field>: <value>}}`
with every field of RECORD_FIELDS: integers as JSON numbers, strings as strings, maps as lists
of `[key, value]` pairs in stored order (the encoding depends on that order), lists as lists.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ldv_logboek.errors import ProofError
from ldv_logboek.tlog._leaf import FIELD_NAMES, RECORD_FIELDS, SALT_SIZE, record_entry


def _pairs(value: Any, field: str) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise ProofError(f"opening: {field} is not a list of [key, value] pairs")
    pairs = []
    for item in value:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise ProofError(f"opening: {field} holds an entry that is not a [key, value] pair of strings")
        pairs.append((item[0], item[1]))
    return pairs


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"opening: {field} is not an integer")
    return value


def _value(kind: str, value: Any, field: str) -> Any:
    if kind in ("i64", "u64", "u16"):
        return _integer(value, field)
    if kind == "str":
        if not isinstance(value, str):
            raise ProofError(f"opening: {field} is not a string")
        return value
    if kind == "map":
        return _pairs(value, field)
    if kind == "list<i64>":
        if not isinstance(value, list):
            raise ProofError(f"opening: {field} is not a list of integers")
        return [_integer(v, field) for v in value]
    if kind == "list<str>":
        if not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
            raise ProofError(f"opening: {field} is not a list of strings")
        return list(value)
    if not isinstance(value, list):  # list<map>
        raise ProofError(f"opening: {field} is not a list of maps")
    return [_pairs(v, field) for v in value]


@dataclass(frozen=True)
class RecordOpening:
    """A stored record's salt and its values in RECORD_FIELDS order (maps as (key, value) pairs)."""

    salt: bytes
    values: tuple[Any, ...]

    def entry(self) -> bytes:
        """The log entry these values give (raises ProofError for values the encoding refuses)."""
        try:
            return record_entry(self.salt, self.values)
        except (struct.error, TypeError, ValueError, OverflowError) as exc:  # out-of-range integers, bad text
            raise ProofError(f"opening: the record cannot be encoded: {exc}") from exc

    def field(self, name: str) -> Any:
        """The value of one field of RECORD_FIELDS."""
        return self.values[FIELD_NAMES.index(name)]

    def attribute(self, field: str, key: str) -> str | None:
        """The value of `key` in the map `field` (ResourceAttributes, SpanAttributes), if any."""
        return next((v for k, v in self.field(field) if k == key), None)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (see the module's docstring)."""
        record: dict[str, Any] = {}
        for (name, kind), value in zip(RECORD_FIELDS, self.values):
            if kind == "map":
                value = [[k, v] for k, v in value]
            elif kind == "list<map>":
                value = [[[k, v] for k, v in m] for m in value]
            else:
                value = list(value) if kind.startswith("list") else value
            record[name] = value
        return {"salt": self.salt.hex(), "record": record}

    @classmethod
    def from_json(cls, data: Any) -> RecordOpening:
        """Read the JSON form; ProofError for anything else (it comes from another party)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("salt"), str) or not isinstance(data.get("record"), Mapping):
            raise ProofError("opening: not an object with a salt and a record")
        try:
            salt = bytes.fromhex(data["salt"])
        except ValueError:
            raise ProofError("opening: the salt is not hex") from None
        if len(salt) != SALT_SIZE:
            raise ProofError(f"opening: a salt is {SALT_SIZE} bytes")
        record = data["record"]
        missing = [name for name in FIELD_NAMES if name not in record]
        if missing:
            raise ProofError(f"opening: the record lacks {', '.join(missing)}")
        return cls(salt, tuple(_value(kind, record[name], name) for name, kind in RECORD_FIELDS))
