"""The one rule for a pseudonymisation key, shared by the SDK, the collector and the Inzicht API.

A key is the organisation's HMAC-SHA256 key for data subject ids (`ldv_logboek._pseudonym`):
at least `MIN_KEY_BYTES` bytes (of its UTF-8 encoding when given as text). Pure Python, so the
SDK checks its `pseudonym_key` with the same rule as the servers check `organisation_keys`.
"""

from __future__ import annotations

from collections.abc import Mapping

MIN_KEY_BYTES = 16


def key_is_long_enough(key: bytes | str) -> bool:
    """Whether `key` has at least MIN_KEY_BYTES bytes (UTF-8 for text)."""
    return len(key.encode() if isinstance(key, str) else key) >= MIN_KEY_BYTES


def check_organisation_keys(keys: Mapping[str, str]) -> None:
    """ValueError naming the first organisation (never its key) whose code is empty or key too short."""
    for organisation, key in keys.items():
        if not organisation.strip():
            raise ValueError("organisation_keys: an organisation code is empty")
        if not key_is_long_enough(key):
            raise ValueError(
                f"the pseudonymisation key of organisation {organisation!r} needs at least {MIN_KEY_BYTES} bytes"
            )
