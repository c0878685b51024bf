"""The privacy rules of a record under one policy: pseudonymise the subject, no clear BSN elsewhere.

`protect(record, policy)` is the one place these rules run. The SDK and the collector differ
only in their `Policy`:

- the SDK (at the source) pseudonymises every subject id and redacts a clear BSN found
  anywhere else, because logging must not break the processing (`Policy.at_source`);
- the collector pseudonymises a clear-BSN subject id with the organisation's key and rejects
  a record with a clear BSN anywhere else (`Policy.at_collector`): it cannot know what the
  sender meant, and other implementations' pseudonyms are stored as sent.

Where-messages name fields and attributes, never their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Literal

from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import (
    BSN_CANDIDATE,
    Pseudonymiser,
    contains_bsn,
    is_bsn_type,
    is_pseudonym,
    redact_bsns,
    subject_clear_bsn,
)
from ldv_logboek._record import LogRecord
from ldv_logboek.rules import Violation

CLEAR_BSN_RULE = "clear-bsn"
REDACTED = "[redacted: looks like a BSN]"
DEFAULT_NAME = "verwerking"
_SEPARATOR = "\x00"  # not alphanumeric, so a candidate cannot span two joined values
# Every ASCII digit to "0", every other byte to " ": nine digits in a row become b"0" * 9.
_DIGIT_RUNS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_NINE_DIGITS = b"0" * 9
# The record's own texts (beside its attribute maps, events and links), and how a location names each.
_RECORD_TEXTS = {
    "name": "the span name",
    "status_message": "the status message",
    "trace_state": "the trace state",
    "scope_name": "the scope name",
    "scope_version": "the scope version",
}


@dataclass(frozen=True, slots=True)
class Policy:
    """How `protect` treats a record.

    - `clear_bsn`: a clear BSN outside the subject id is redacted in place or rejects the record.
    - `pseudonymiser`: the organisation's keyed HMAC; None when no key is configured.
    - `every_subject`: pseudonymise every subject id (at the source, where each is raw), or
      only a `BSN`-typed one written as a clear BSN (downstream, where ids may be others' pseudonyms).
    - `store_clear_bsn`: without a key, a clear BSN subject id may be stored as it is.
    - `repair`: fill in what can be fixed without guessing (a blank name, a subject type
      without subject) instead of leaving it to `check_record` to refuse.
    """

    clear_bsn: Literal["redact", "reject"]
    pseudonymiser: Pseudonymiser | None = None
    every_subject: bool = False
    store_clear_bsn: bool = False
    repair: bool = False

    @classmethod
    def at_source(cls, pseudonymiser: Pseudonymiser) -> Policy:
        """The SDK's policy: pseudonymise every subject, redact stray BSNs, repair."""
        return cls("redact", pseudonymiser, every_subject=True, repair=True)

    @classmethod
    def at_collector(cls, pseudonymiser: Pseudonymiser | None, store_clear_bsn: bool = False) -> Policy:
        """The collector's policy: pseudonymise clear-BSN subjects, reject stray BSNs."""
        return cls("reject", pseudonymiser, store_clear_bsn=store_clear_bsn)


@dataclass(slots=True)
class Protection:
    """What `protect` did to a record and what it refuses."""

    pseudonymised: bool = False
    clear_bsn_at: list[str] = field(default_factory=list)  # where a clear BSN was found (redacted or refused)
    repaired: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)


def protect(record: LogRecord, policy: Policy) -> Protection:
    """Apply the privacy rules to `record` in place under `policy`; see the module docstring."""
    outcome = Protection()
    if policy.repair:
        _repair(record, outcome)
    _protect_subject(record, policy, outcome)
    locations = clear_bsn_locations(record)
    if locations:
        outcome.clear_bsn_at = locations
        if policy.clear_bsn == "redact":
            _redact(record)
        else:
            outcome.violations.append(
                Violation(
                    CLEAR_BSN_RULE,
                    f"a clear BSN was found in {', '.join(locations)}; only {attr.DATA_SUBJECT_ID} may hold a "
                    "BSN (and is pseudonymised by the SDK or the collector): remove it from the other places",
                )
            )
    return outcome


def _repair(record: LogRecord, outcome: Protection) -> None:
    if not record.name or not record.name.strip():
        record.name = DEFAULT_NAME
        outcome.repaired.append("name")
    attrs = record.attributes
    if attrs.get(attr.DATA_SUBJECT_ID_TYPE) and not attrs.get(attr.DATA_SUBJECT_ID):
        del attrs[attr.DATA_SUBJECT_ID_TYPE]
        outcome.repaired.append(attr.DATA_SUBJECT_ID_TYPE)


def _protect_subject(record: LogRecord, policy: Policy, outcome: Protection) -> None:
    """Pseudonymise the subject id as the policy says, or add why the record is refused."""
    attributes = record.attributes
    subject = attributes.get(attr.DATA_SUBJECT_ID)
    if not subject or is_pseudonym(subject):
        return
    subject_type = attributes.get(attr.DATA_SUBJECT_ID_TYPE, "")
    pseudonymiser = policy.pseudonymiser
    if policy.every_subject and pseudonymiser is not None:
        attributes[attr.DATA_SUBJECT_ID] = pseudonymiser.subject(subject, subject_type)
        outcome.pseudonymised = True
        return
    found = subject_clear_bsn(subject, subject_type)  # the rule the read side searches by, too
    if found is None:
        if not is_bsn_type(subject_type):
            return  # ids of other types are never touched downstream
        if not contains_bsn(subject) or (policy.store_clear_bsn and pseudonymiser is None):
            return  # someone's pseudonym: stored as sent
        outcome.violations.append(
            Violation(
                CLEAR_BSN_RULE,
                f"{attr.DATA_SUBJECT_ID} holds a clear BSN (a BSN amid other text): send the BSN alone, "
                "to be pseudonymised, or a pseudonym",
            )
        )
        return
    form, bsn = found
    if pseudonymiser is not None:
        # The 9-digit form: one pseudonym per citizen however the sender wrote the number.
        attributes[attr.DATA_SUBJECT_ID] = pseudonymiser(bsn)
        outcome.pseudonymised = True
        return
    if policy.store_clear_bsn:
        return
    outcome.violations.append(
        Violation(
            CLEAR_BSN_RULE,
            f"{attr.DATA_SUBJECT_ID} holds a clear BSN ({form}) and there is no pseudonymisation key "
            "for the organisation: pseudonymise it in the application (the LDV SDK does) or configure a key",
        )
    )


def _texts(record: LogRecord) -> list[str]:
    """Every text `clear_bsn_locations` searches: every text the record stores, attribute keys
    included, but the subject id (`_protect_subject`'s)."""
    texts = [record.name, record.status_message, record.trace_state, record.scope_name, record.scope_version]
    for key, value in record.attributes.items():
        texts.append(key)
        if key != attr.DATA_SUBJECT_ID:
            texts.append(value)
    texts.extend(record.resource_attributes)
    texts.extend(record.resource_attributes.values())
    for event in record.events:
        texts.append(event.name)
        texts.extend(event.attributes)
        texts.extend(event.attributes.values())
    for link in record.links:
        texts.append(link.trace_state)
        texts.extend(link.attributes)
        texts.extend(link.attributes.values())
    return texts


def _may_hold_bsn(text: str) -> bool:
    """False only when `text` holds no nine-digit run that BSN_CANDIDATE could match."""
    if text.isascii():
        # A candidate is nine digits in a row: mapping bytes and a substring search in C are many
        # times cheaper than the regex's scan. (Not for other text: the regex's \d also takes
        # non-ASCII digits.)
        if _NINE_DIGITS not in text.encode("ascii").translate(_DIGIT_RUNS):
            return False
    return BSN_CANDIDATE.search(text) is not None


def may_need_protection(records: Sequence[LogRecord]) -> list[int]:
    """The indices of `records` that `protect` could change or refuse under any policy: a subject id
    that is not a pseudonym, or a text that could hold a clear BSN. The others pass it unchanged.

    For a batch (the collector's request): one search over every text of all records joined
    settles nearly every batch; only when it finds a candidate are the records searched one by
    one. Not the subject ids (the first test's): hex pseudonyms are full of digits, and
    searching them would cost more than all the rest.
    """
    subject = attr.DATA_SUBJECT_ID
    found = {i for i, r in enumerate(records) if (s := r.attributes.get(subject)) and not is_pseudonym(s)}
    resources = {id(r.resource_attributes): r.resource_attributes for r in records}  # records of a resource share it
    every_text = chain(
        (r.name for r in records),
        (r.status_message for r in records),
        (r.trace_state for r in records),
        (r.scope_name for r in records),
        (r.scope_version for r in records),
        [k for r in records for k in r.attributes],
        [v for r in records for k, v in r.attributes.items() if k != subject],
        chain.from_iterable(resources.values()),  # their keys
        chain.from_iterable(m.values() for m in resources.values()),
        chain.from_iterable(_texts(r) for r in records if r.events or r.links),
    )
    texts = list(every_text)
    # ASCII texts apart: their search is a byte map in C (`_may_hold_bsn`); one non-ASCII
    # text among them would send the whole request through the regex.
    plain = [t for t in texts if t.isascii()]
    other = [t for t in texts if not t.isascii()] if len(plain) < len(texts) else []
    if _may_hold_bsn(_SEPARATOR.join(plain)) or _may_hold_bsn(_SEPARATOR.join(other)):
        found.update(i for i, r in enumerate(records) if _may_hold_bsn(_SEPARATOR.join(_texts(r))))
    return sorted(found)


def clear_bsn_locations(record: LogRecord) -> list[str]:
    """Where a clear BSN appears in `record` outside `dpl.core.data_subject_id`, by location name.

    One search over all texts joined settles nearly every record; only when it finds a
    candidate are the texts looked at one by one to name them.
    """
    if not _may_hold_bsn(_SEPARATOR.join(_texts(record))):
        return []
    found = _in_attributes(record.attributes, "", skip=attr.DATA_SUBJECT_ID)
    found += [where for name, where in _RECORD_TEXTS.items() if contains_bsn(getattr(record, name))]
    found += _in_attributes(record.resource_attributes, "", kind="resource attribute")
    for i, event in enumerate(record.events):
        if contains_bsn(event.name):
            found.append(f"the name of event {i}")
        found += _in_attributes(event.attributes, f" of event {i}")
    for i, link in enumerate(record.links):
        if contains_bsn(link.trace_state):
            found.append(f"the trace state of link {i}")
        found += _in_attributes(link.attributes, f" of link {i}")
    return found


def _in_attributes(values: dict[str, str], of: str, *, kind: str = "attribute", skip: str = "") -> list[str]:
    """Where a clear BSN is in `values`: by key, or (a key holding one) without the key."""
    found = []
    for key, value in values.items():
        if contains_bsn(key):
            found.append(f"the key of {'an' if kind[0] in 'aeiou' else 'a'} {kind}{of}")
        elif key != skip and contains_bsn(value):
            found.append(f"{kind} {key!r}{of}")
    return found


def _redact_values(values: dict[str, str], skip: str = "") -> None:
    for key in [k for k in values if contains_bsn(k)]:
        values[redact_bsns(key, REDACTED)] = values.pop(key)
    for key, value in values.items():
        if key != skip and contains_bsn(value):
            values[key] = redact_bsns(value, REDACTED)


def _redact(record: LogRecord) -> None:
    """Replace every clear BSN outside the subject id in place."""
    for name in _RECORD_TEXTS:
        setattr(record, name, redact_bsns(getattr(record, name), REDACTED))
    _redact_values(record.attributes, skip=attr.DATA_SUBJECT_ID)
    _redact_values(record.resource_attributes)
    for event in record.events:
        event.name = redact_bsns(event.name, REDACTED)
        _redact_values(event.attributes)
    for link in record.links:
        link.trace_state = redact_bsns(link.trace_state, REDACTED)
        _redact_values(link.attributes)
