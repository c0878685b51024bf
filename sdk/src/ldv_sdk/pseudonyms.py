"""The organisation's pseudonymisation, keyed once per runtime instead of once per subject.

`Pseudonymiser(key)(subject_id)` returns exactly what `ldv_logboek.pseudonym.pseudonymise(
subject_id, key)` returns (keyed HMAC-SHA256, `hmac-sha256:<hex>`, idempotent on a pseudonym);
tests/sdk/test_fast_path.py holds the two equal. It keys the HMAC once and copies that state
per subject: keying (OpenSSL's HMAC init) is about half the cost of a pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from ldv_logboek.pseudonym import PSEUDONYM_PREFIX, is_pseudonym


class Pseudonymiser:
    """Pseudonymises data subject ids under one organisation key (thread-safe: the keyed state is only copied)."""

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("a pseudonymisation key must not be empty")
        keyed = hmac.new(key, digestmod=hashlib.sha256)
        # The OpenSSL HMAC object inside hmac.HMAC (CPython with OpenSSL): copying it directly
        # skips the Python wrapper's copy, ~0.4 us per subject. It has the same copy/update/
        # hexdigest methods, so without it (another build) the wrapper does the same job.
        inner = getattr(keyed, "_hmac", None)
        self._keyed: Any = inner if inner is not None and _same_mac(inner, keyed) else keyed

    def __call__(self, subject_id: str) -> str:
        """The pseudonym of `subject_id`; a value that already is a pseudonym is returned unchanged."""
        if is_pseudonym(subject_id):
            return subject_id
        mac = self._keyed.copy()
        mac.update(subject_id.strip().encode())
        return PSEUDONYM_PREFIX + mac.hexdigest()


def _same_mac(inner: Any, keyed: hmac.HMAC) -> bool:
    """True when copies of `inner` give the wrapper's MAC (checked once, on a sample)."""
    try:
        ours, theirs = inner.copy(), keyed.copy()
        ours.update(b"123456782")
        theirs.update(b"123456782")
        return bool(ours.hexdigest() == theirs.hexdigest())
    except Exception:  # noqa: BLE001 - anything odd about the inner object: use the wrapper
        return False
