"""Pseudonymisation of data subject ids, and the guard against clear BSNs.

The standard recommends that `dpl.core.data_subject_id` is stored "versleuteld". This suite
uses a keyed HMAC-SHA256 per organisation: the same citizen gets the same pseudonym within an
organisation (so their records can be found with the key) and unrelated pseudonyms across
organisations (so logs cannot be joined without the keys).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from ldv_logboek.attributes import SUBJECT_TYPE_BSN

PSEUDONYM_PREFIX = "hmac-sha256:"
# A BSN stands on its own: not inside a longer number and not inside a hex string or other
# token (pseudonyms and span ids are hex and hold 9-digit runs by chance).
BSN_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\d{9}(?![0-9A-Za-z])")


class Pseudonymiser:
    """The one HMAC of this suite: pseudonyms under one organisation key.

    The key is set up once (OpenSSL's HMAC init is about half the cost of a pseudonym) and
    that keyed state is copied per subject (`hmac.HMAC.copy`), so one object serves every thread.
    """

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("a pseudonymisation key must not be empty")
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, subject_id: str) -> str:
        """The pseudonym of `subject_id` (stripped); a value that already is a pseudonym is returned unchanged."""
        if is_pseudonym(subject_id):
            return subject_id
        return self._mac(subject_id.strip())

    def _mac(self, text: str) -> str:
        mac = self._keyed.copy()
        mac.update(text.encode())
        return PSEUDONYM_PREFIX + mac.hexdigest()

    def subject(self, subject_id: str, subject_type: str) -> str:
        """The pseudonym of a data subject id of `subject_type`.

        A `BSN`-typed id written as a clear BSN in any form `clear_bsn` knows ("1234.56.782",
        "123 456 782", 8 digits without the leading zero) is pseudonymised as its 9 digits, so
        a citizen has one pseudonym however the number was written.
        """
        if len(subject_id) == 9 and subject_id.isdigit() and subject_id.isascii():
            # Nine ASCII digits (the usual BSN): its own 9-digit form, whether or not it passes the elfproef.
            return self._mac(subject_id)
        if is_pseudonym(subject_id):
            return subject_id
        if is_bsn_type(subject_type):
            found = clear_bsn(subject_id)
            if found is not None:
                return self(found[1])
        return self(subject_id)


def pseudonymise(subject_id: str, key: bytes) -> str:
    """The pseudonym of `subject_id` under an organisation's `key` (hex HMAC-SHA256, prefixed).

    Idempotent: a value that already is a pseudonym is returned unchanged, so a record that
    passes the SDK and the collector is not hashed twice. For many subjects under one key,
    keep a `Pseudonymiser`.
    """
    return Pseudonymiser(key)(subject_id)


def is_bsn_type(subject_type: str) -> bool:
    """True for the data subject id type `BSN` (case and surrounding spaces ignored)."""
    return subject_type.strip().upper() == SUBJECT_TYPE_BSN


def is_pseudonym(value: str) -> bool:
    return value.startswith(PSEUDONYM_PREFIX) and len(value) == len(PSEUDONYM_PREFIX) + 64


def is_bsn(value: str) -> bool:
    """True for 9 digits that pass the elfproef (the check every valid BSN passes)."""
    if len(value) != 9 or not value.isdecimal():  # isdecimal: what int() reads (isdigit takes "²")
        return False
    if value.isascii():
        # Weighted sum on the bytes (each digit is its byte minus 48): this runs for every candidate.
        b = value.encode()
        total = 9 * b[0] + 8 * b[1] + 7 * b[2] + 6 * b[3] + 5 * b[4] + 4 * b[5] + 3 * b[6] + 2 * b[7] - b[8]
        return (total - _ELFPROEF_OFFSET) % 11 == 0 and value != "000000000"
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1))) - digits[8]
    return total % 11 == 0 and value != "000000000"


_ELFPROEF_OFFSET = 48 * (9 + 8 + 7 + 6 + 5 + 4 + 3 + 2 - 1)

# The ways a BSN is written down as a value of its own: the passport/ID-card notation
# "1234.56.782" and groups of three with one kind of separator ("123 456 782", "123-456-782",
# "123.456.782").
_SEPARATED_BSN = re.compile(r"\d{4}\.\d{2}\.\d{3}|\d{3}([ .-])\d{3}\1\d{3}")
_DIGITS_ONLY = str.maketrans("", "", " .-")

BSN_AS_DIGITS = "9 digits, elfproef"
BSN_WITH_SEPARATORS = "9 digits with separators, elfproef"
BSN_WITHOUT_LEADING_ZERO = "8 digits: a BSN without its leading zero, elfproef"


def clear_bsn(value: str) -> tuple[str, str] | None:
    """(how `value` is written as a clear BSN, the 9-digit BSN) when it is one, else None.

    `value` is a whole value, e.g. a data subject id. A BSN is 9 digits passing the
    elfproef, also written with separators ("1234.56.782", "123 456 782", "123-456-782") or
    as 8 digits whose leading zero was lost (a BSN kept as a number, as spreadsheets and
    integer columns do). Anything else — another implementation's pseudonym (base64 or hex
    of an encrypted id, an OPRF output, another HMAC format), a UUID, ten digits — is not a
    clear BSN. The first item says what was found without quoting it (a BSN_* constant); the
    second is what to pseudonymise, so a citizen has one pseudonym however the number was
    written (the inzage pseudonymises the citizen's 9 digits to find their records).
    """
    text = value.strip()
    if not 8 <= len(text) <= 11:  # most pseudonyms end here
        return None
    if is_bsn(text):
        return BSN_AS_DIGITS, text if text.isascii() else _ascii_digits(text)
    if len(text) == 8 and is_bsn("0" + text):
        return BSN_WITHOUT_LEADING_ZERO, "0" + _ascii_digits(text)
    if _SEPARATED_BSN.fullmatch(text):
        digits = text.translate(_DIGITS_ONLY)
        if is_bsn(digits):
            return BSN_WITH_SEPARATORS, _ascii_digits(digits)
    return None


def _ascii_digits(text: str) -> str:
    # str(int(c)): ASCII digits also when the sender wrote other decimal digits.
    return "".join(str(int(c)) for c in text)


def subject_clear_bsn(subject_id: str, subject_type: str | None) -> tuple[str, str] | None:
    """The one rule for which data subject id is a clear id: (how it is written, its 9-digit BSN), or None.

    Only a real-looking BSN (`clear_bsn`) of a `BSN`-typed subject is a clear id: the collector
    pseudonymises it with the organisation's key, and a search pseudonymises it with every
    key. Anything else — this suite's pseudonym, another implementation's own pseudonym form,
    an id of another type — is stored as sent and searched as given. `subject_type` None: the
    type is unknown (a search names only the id), so a value that looks like a BSN is taken
    as one.
    """
    if subject_type is not None and not is_bsn_type(subject_type):
        return None
    if is_pseudonym(subject_id):
        return None
    return clear_bsn(subject_id)


def contains_bsn(text: str) -> bool:
    """True when `text` holds a 9-digit number that passes the elfproef, alone or amid words.

    Digits glued to letters ("ab123456782cd") do not count: such runs occur by chance in hex ids.
    """
    return any(is_bsn(m.group()) for m in BSN_CANDIDATE.finditer(text))


def redact_bsns(text: str, replacement: str = "<BSN>") -> str:
    """`text` with every clear BSN (as `contains_bsn` finds them) replaced, e.g. for a log line."""
    return BSN_CANDIDATE.sub(lambda m: replacement if is_bsn(m.group()) else m.group(), text)
