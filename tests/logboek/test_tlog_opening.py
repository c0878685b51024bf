"""A record's opening (`ldv_logboek.tlog.RecordOpening`): its JSON form gives back exactly the
values the entry was made of, and anything else from another party is a ProofError."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldv_logboek import LogRecord
from ldv_logboek.tlog import ProofError, RecordOpening, record_entry
from tests.logboek.test_tlog_columns import PINNED_ENTRY, storable, values_of

PINNED_VALUES = (
    1_700_000_000_123_456_789, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "", "", "inkomen opvragen",
    "Internal", "toeslagen-api", [("service.name", "toeslagen-api")], "ldv_sdk", "0.1.0",
    [("dpl.core.processing_activity_id", "https://register.example/pa/1"), ("é", "ü")], 2_000_000, "Ok", "",
    [1_700_000_000_200_000_000], ["exception"], [[("exception.type", "ValueError")]], [], [], [], [], 3650,
)  # fmt: skip (the record of test_the_encoding_is_pinned_byte_for_byte)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(storable, st.integers(1, 65_535))
def test_the_json_form_gives_the_same_entry(record: LogRecord, retention: int) -> None:
    values = values_of(record, retention)
    salt = os.urandom(16)
    opening = RecordOpening(salt, values)
    again = RecordOpening.from_json(json.loads(json.dumps(opening.to_json())))
    assert again.entry() == opening.entry() == record_entry(salt, values)


def test_the_pinned_record_opens_to_the_pinned_entry() -> None:
    opening = RecordOpening.from_json(json.loads(json.dumps(RecordOpening(bytes(range(16)), PINNED_VALUES).to_json())))
    assert opening.entry().hex() == PINNED_ENTRY
    assert opening.attribute("SpanAttributes", "dpl.core.processing_activity_id") == "https://register.example/pa/1"
    assert opening.attribute("ResourceAttributes", "absent") is None
    # The order of a map's entries is part of the entry: swapped, another entry.
    data = opening.to_json()
    data["record"]["SpanAttributes"].reverse()
    assert RecordOpening.from_json(data).entry().hex() != PINNED_ENTRY


def _broken(change: dict) -> dict:
    data = RecordOpening(bytes(range(16)), PINNED_VALUES).to_json()
    data["record"].update(change)
    return data


@pytest.mark.parametrize(
    "data",
    [
        None, [], {"salt": "00" * 16}, {"salt": "zz", "record": {}}, {"salt": "00" * 15, "record": {}},
        {"salt": "00" * 16, "record": {"Timestamp": 1}},
        _broken({"Timestamp": "1"}), _broken({"Timestamp": True}), _broken({"SpanName": 5}),
        _broken({"SpanAttributes": {"a": "b"}}), _broken({"SpanAttributes": [["a"]]}), _broken({"SpanAttributes": [["a", 1]]}),
        _broken({"Events.Timestamp": ["x"]}), _broken({"Events.Name": [1]}), _broken({"Events.Attributes": [{"a": "b"}]}),
        _broken({"Links.TraceId": "x"}),
    ],
)  # fmt: skip
def test_anything_but_an_opening_is_refused(data: object) -> None:
    with pytest.raises(ProofError):
        RecordOpening.from_json(data)


@pytest.mark.parametrize("change", [{"Timestamp": 2**63}, {"RetentionDays": 70_000}, {"Duration": -1}])
def test_values_the_encoding_cannot_hold_are_a_proof_error(change: dict) -> None:
    with pytest.raises(ProofError):
        RecordOpening.from_json(_broken(change)).entry()
