from __future__ import annotations

import pytest

from ldv_logboek._ids import parse_trace_id, trace_id_as_uuid
from ldv_logboek._pseudonym import (
    BSN_AS_DIGITS,
    BSN_WITH_SEPARATORS,
    BSN_WITHOUT_LEADING_ZERO,
    clear_bsn,
    contains_bsn,
    is_bsn,
    is_pseudonym,
    pseudonymise,
    redact_bsns,
)


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


@pytest.mark.parametrize(("value", "ok"), [("111222333", True), ("123456782", True), ("123456789", False),
                                           ("000000000", False), ("12345678", False), ("12345678a", False)])
def test_elfproef(value: str, ok: bool) -> None:
    assert is_bsn(value) is ok


def test_contains_bsn_finds_embedded_but_not_longer_numbers() -> None:
    assert contains_bsn("aanvraag voor 123456782 ingediend")
    assert not contains_bsn("order 1234567820")  # ten digits: not a BSN


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


# Pseudonyms as other LDV implementations send them: none of them is a clear BSN.
FOREIGN_PSEUDONYMS = [
    "hmac-sha256:" + "ab" * 32,  # ours
    "k9Xq2YzL0p1W8sV3nB6mT4rC7dF5gH9jK2lZ0xQ8wE4=",  # base64 of an encrypted id
    "Ed3fZ8_1x-9yQ",  # base64url
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # hex (SHA-256 or an OPRF output)
    "oprf:v1:5b2c0f6e8a1d4b7c9e3f2a1b0c9d8e7f",
    "HMAC-SHA512:" + "cd" * 64,
    "urn:uuid:7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "1234567820",  # ten digits
    "123456789",  # nine digits failing the elfproef
]


@pytest.mark.parametrize("value", FOREIGN_PSEUDONYMS)
def test_other_implementations_pseudonyms_are_not_clear_bsns(value: str) -> None:
    assert clear_bsn(value) is None


@pytest.mark.parametrize(
    ("value", "form"),
    [
        ("123456782", BSN_AS_DIGITS),
        (" 123456782 ", BSN_AS_DIGITS),
        ("1234.56.782", BSN_WITH_SEPARATORS),  # the notation on a passport or ID card
        ("123 456 782", BSN_WITH_SEPARATORS),
        ("123-456-782", BSN_WITH_SEPARATORS),
        ("123.456.782", BSN_WITH_SEPARATORS),
        ("12345672", BSN_WITHOUT_LEADING_ZERO),  # 012345672 kept as a number
    ],
)
def test_a_bsn_however_written_is_clear_and_has_one_canonical_form(value: str, form: str) -> None:
    assert clear_bsn(value) == (form, "012345672" if form == BSN_WITHOUT_LEADING_ZERO else "123456782")


@pytest.mark.parametrize("value", ["123-456.782", "12.345.6782", "1234567", "12345678", "１２３４５６７８２x", "²²²²²²²²²"])
def test_near_misses_are_not_clear_bsns(value: str) -> None:
    # Mixed separators, other groupings, 7 digits, 8 digits failing the elfproef, odd digits: never a crash.
    assert clear_bsn(value) is None


def test_redact_bsns_keeps_everything_else() -> None:
    assert redact_bsns("Value 123456782 for 123456789 in abc123456782") == "Value <BSN> for 123456789 in abc123456782"


def test_random_base64_and_uuid_ids_are_not_mistaken_for_bsns() -> None:
    import base64
    import os
    import uuid

    # Another implementation's encrypted ids: base64 (standard and URL-safe) and UUIDs. A free-standing
    # nine-digit run needs '+', '/' or an end on both sides: about 1e-10 per value, so never here.
    samples = [base64.b64encode(os.urandom(32)).decode() for _ in range(20_000)]
    samples += [base64.urlsafe_b64encode(os.urandom(24)).decode() for _ in range(20_000)]
    samples += [str(uuid.uuid4()) for _ in range(20_000)]
    assert not [s for s in samples if contains_bsn(s) or clear_bsn(s)]
