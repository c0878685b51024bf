from __future__ import annotations

import pytest

from ldv_logboek.ids import parse_span_id, parse_trace_id, trace_id_as_uuid
from ldv_logboek.pseudonym import attributes_with_bsn, contains_bsn, is_bsn, is_pseudonym, pseudonymise


def test_trace_id_notations_agree() -> None:
    hex32 = "ef4e77b9b03b585fb6135fcf8d8555fb"
    uuid = "ef4e77b9-b03b-585f-b613-5fcf8d8555fb"
    assert parse_trace_id(hex32) == parse_trace_id(uuid) == bytes.fromhex(hex32)
    assert trace_id_as_uuid(hex32) == uuid
    assert parse_trace_id(uuid.upper()) == bytes.fromhex(hex32)


@pytest.mark.parametrize("bad", ["", "xyz", "ef4e77b9b03b585fb6135fcf8d8555f", "ef4e77b9-b03b585f-b613-5fcf8d8555fb"])
def test_bad_trace_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_trace_id(bad)


def test_span_id() -> None:
    assert parse_span_id("beb0291b5162d850") == bytes.fromhex("beb0291b5162d850")
    with pytest.raises(ValueError):
        parse_span_id("beb0291b5162d85")


@pytest.mark.parametrize(("value", "ok"), [("111222333", True), ("123456782", True), ("123456789", False),
                                           ("000000000", False), ("12345678", False), ("12345678a", False)])
def test_elfproef(value: str, ok: bool) -> None:
    assert is_bsn(value) is ok


def test_contains_bsn_finds_embedded_but_not_longer_numbers() -> None:
    assert contains_bsn("aanvraag voor 123456782 ingediend")
    assert not contains_bsn("order 1234567820")  # ten digits: not a BSN
    assert attributes_with_bsn({"a": "x", "b": "bsn=111222333", "c": 5}) == ["b"]


def test_pseudonym_is_keyed_stable_and_idempotent() -> None:
    a = pseudonymise("123456782", b"gemeente-key")
    assert a == pseudonymise("123456782", b"gemeente-key")
    assert a != pseudonymise("123456782", b"toeslagen-key")
    assert is_pseudonym(a) and "123456782" not in a
    assert pseudonymise(a, b"other") == a
    with pytest.raises(ValueError):
        pseudonymise("123456782", b"")


def test_hex_ids_and_pseudonyms_are_not_mistaken_for_bsns() -> None:
    import os

    # 9-digit elfproef runs occur in about 1% of random 64-hex strings; none may count as a BSN.
    samples = [os.urandom(32).hex() for _ in range(20_000)] + [os.urandom(8).hex() for _ in range(20_000)]
    assert not [s for s in samples if contains_bsn(s) or contains_bsn(pseudonymise(s, b"k"))]
    assert contains_bsn("bsn:123456782") and contains_bsn("(123456782)") and contains_bsn("123456782")
