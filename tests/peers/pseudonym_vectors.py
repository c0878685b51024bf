"""The pseudonymisation test vectors of docs/pseudonymisation-vectors.json, made by the suite's own
implementation (`ldv_logboek._pseudonym.Pseudonymiser`, what the SDK and the collector run).

`python -m tests.peers.pseudonym_vectors` rewrites the file; tests/peers/test_pseudonym_vectors.py
checks that it is what the implementation gives, and the Go and Java examples' unit tests check
their own implementations against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ldv_logboek import pseudonymise

PATH = Path(__file__).resolve().parents[2] / "docs" / "pseudonymisation-vectors.json"
KEY_A = "dienst-toeslagen-sleutel-0123456789"
KEY_B = "gemeente-utrecht-sleutel-9876543210"
# (key, subject id, what it shows)
CASES = [
    (KEY_A, "123456782", "a BSN, as its 9 digits"),
    (KEY_B, "123456782", "the same BSN under another organisation's key: an unrelated pseudonym"),
    (KEY_A, "111222333", "another BSN"),
    (KEY_A, "012345672", "a BSN with a leading zero: the zero is part of the 9 digits"),
    (KEY_A, " 123456782\t\n", "surrounding ASCII whitespace is removed before the HMAC"),
    (KEY_A, "NL.KVK.12345678", "an id that is not a BSN: its UTF-8 bytes as they are"),
    (KEY_A, "Zoë-ĳ-日本", "non-ASCII: UTF-8 bytes"),
    (KEY_A, "hmac-sha256:" + "ab" * 32, "already a pseudonym: returned unchanged"),
    ("k" * 16, "123456782", "the shortest key the suite accepts (16 bytes)"),
]


def vectors() -> dict[str, Any]:
    return {
        "description": (
            "Test vectors of the LDV suite's pseudonym of a data subject id: 'hmac-sha256:' + lowercase hex "
            "HMAC-SHA256(key = UTF-8 bytes of the organisation key, message = UTF-8 bytes of the id without "
            "surrounding whitespace); an id that already is a pseudonym is unchanged. See docs/other-languages.md."
        ),
        "vectors": [
            {"key": key, "subject_id": subject, "pseudonym": pseudonymise(subject, key.encode()), "note": note}
            for key, subject, note in CASES
        ],
    }


def render() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
