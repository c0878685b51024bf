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
from collections.abc import Mapping

PSEUDONYM_PREFIX = "hmac-sha256:"
# A BSN stands on its own: not inside a longer number and not inside a hex string or other
# token (pseudonyms and span ids are hex and hold 9-digit runs by chance).
BSN_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\d{9}(?![0-9A-Za-z])")


def pseudonymise(subject_id: str, key: bytes) -> str:
    """The pseudonym of `subject_id` under an organisation's `key` (hex HMAC-SHA256, prefixed).

    Idempotent: a value that already is a pseudonym is returned unchanged, so a record that
    passes the SDK and the collector is not hashed twice.
    """
    if not key:
        raise ValueError("a pseudonymisation key must not be empty")
    if is_pseudonym(subject_id):
        return subject_id
    digest = hmac.new(key, subject_id.strip().encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest


def is_pseudonym(value: str) -> bool:
    return value.startswith(PSEUDONYM_PREFIX) and len(value) == len(PSEUDONYM_PREFIX) + 64


def is_bsn(value: str) -> bool:
    """True for 9 digits that pass the elfproef (the check every valid BSN passes)."""
    if len(value) != 9 or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1))) - digits[8]
    return total % 11 == 0 and value != "000000000"


def contains_bsn(text: str) -> bool:
    """True when `text` holds a 9-digit number that passes the elfproef, alone or amid words.

    Digits glued to letters ("ab123456782cd") do not count: such runs occur by chance in hex ids.
    """
    return any(is_bsn(m.group()) for m in BSN_CANDIDATE.finditer(text))


def attributes_with_bsn(attributes: Mapping[str, object]) -> list[str]:
    """The keys of `attributes` whose value looks like (or contains) a clear BSN."""
    return [k for k, v in attributes.items() if isinstance(v, str) and contains_bsn(v)]
