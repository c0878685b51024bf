"""The committed pseudonymisation test vectors are what the suite's implementation gives, and the
Go and Java examples' own implementations pass them (their unit tests run in
tests/peers/test_go_example.py and tests/peers/test_java_example.py)."""

from __future__ import annotations

from ldv_logboek import Pseudonymiser
from tests.peers.pseudonym_vectors import PATH, render, vectors


def test_committed_vectors_are_the_implementations() -> None:
    assert PATH.read_text(encoding="utf-8") == render(), "run: python -m tests.peers.pseudonym_vectors"


def test_vectors_agree_with_the_collectors_bsn_rule() -> None:
    """The collector pseudonymises a BSN-typed id with Pseudonymiser.subject: for the 9-digit and
    already-pseudonymised vectors it gives the same value, so pseudonymising at the source or
    leaving it to the collector gives one pseudonym per citizen."""
    for vector in vectors()["vectors"]:
        subject = vector["subject_id"].strip()
        if (len(subject) == 9 and subject.isdigit()) or subject.startswith("hmac-sha256:"):
            assert Pseudonymiser(vector["key"].encode()).subject(vector["subject_id"], "BSN") == vector["pseudonym"]
