"""The collector's privacy guard: no clear BSN is stored, except as a subject id when allowed.

Messages produced here name attributes, never their values.
"""

from __future__ import annotations

from ldv_logboek import attributes as attr
from ldv_logboek.pseudonym import (
    BSN_CANDIDATE,
    clear_bsn,
    contains_bsn,
    is_pseudonym,
    pseudonymise,
)
from ldv_logboek.record import Event, Link
from ldv_logboek.validation import Violation

CLEAR_BSN_RULE = "clear-bsn"
_SEPARATOR = "\x00"  # not alphanumeric, so a candidate cannot span two joined values


def bsn_locations(
    name: str,
    attributes: dict[str, str],
    status_message: str = "",
    events: list[Event] | None = None,
    links: list[Link] | None = None,
) -> list[str]:
    """Where a clear BSN appears in a span (outside `dpl.core.data_subject_id`), by location name.

    One regex pass over all values joined is the fast path; only when it finds something are
    the values looked at one by one to name them.
    """
    # A free-standing 9-digit number is rare in log attributes: one C-level search over everything
    # settles most spans. The subject id is in the text; when it is a clear BSN the exact pass
    # below leaves it out.
    parts = [name, status_message, *attributes.values()]
    for event in events or ():
        parts.append(event.name)
        parts.extend(event.attributes.values())
    for link in links or ():
        parts.extend(link.attributes.values())
    if not BSN_CANDIDATE.search(_SEPARATOR.join(parts)):
        return []
    found = [f"attribute {k!r}" for k, v in attributes.items() if k != attr.DATA_SUBJECT_ID and contains_bsn(v)]
    if contains_bsn(name):
        found.append("the span name")
    if contains_bsn(status_message):
        found.append("the status message")
    for i, event in enumerate(events or ()):
        if contains_bsn(event.name):
            found.append(f"the name of event {i}")
        found += [f"attribute {k!r} of event {i}" for k, v in event.attributes.items() if contains_bsn(v)]
    for i, link in enumerate(links or ()):
        found += [f"attribute {k!r} of link {i}" for k, v in link.attributes.items() if contains_bsn(v)]
    return found


def resource_bsn_locations(resource_attributes: dict[str, str]) -> list[str]:
    """Where a clear BSN appears in resource attributes, by attribute name."""
    if not BSN_CANDIDATE.search(_SEPARATOR.join(resource_attributes.values())):
        return []
    return [f"resource attribute {k!r}" for k, v in resource_attributes.items() if contains_bsn(v)]


def clear_bsn_violation(locations: list[str]) -> Violation:
    """The violation for a clear BSN found at `locations` (names only, never values)."""
    return Violation(
        CLEAR_BSN_RULE,
        f"a clear BSN was found in {', '.join(locations)}; only {attr.DATA_SUBJECT_ID} may hold a "
        "BSN (and is pseudonymised by the SDK or the collector): remove it from the other places",
    )


def _is_bsn_typed(attributes: dict[str, str]) -> bool:
    return attributes.get(attr.DATA_SUBJECT_ID_TYPE, "").strip().upper() == attr.SUBJECT_TYPE_BSN


def protect_subject(attributes: dict[str, str], key: bytes | None, store_clear_bsn: bool) -> Violation | bool:
    """Pseudonymise a clear-BSN subject id in place.

    Only a `BSN`-typed subject id written as a BSN counts (`ldv_logboek.pseudonym.clear_bsn`);
    one that holds a BSN amid other text counts too, but has no pseudonym of its own. Every
    other value — this suite's `hmac-sha256:` pseudonyms and other LDV implementations'
    pseudonyms alike (encrypted ids in base64 or hex, OPRF outputs, UUIDs) — is stored as it
    is: not refused, not pseudonymised again. Subject ids of other types are never touched.

    Returns True when it pseudonymised, False when there was nothing to do or the clear BSN
    may be stored, and a Violation when the span must be rejected (clear BSN and no key, or
    a BSN amid other text). Violations say which form was found, never the value.
    """
    subject = attributes.get(attr.DATA_SUBJECT_ID)
    if not subject or is_pseudonym(subject) or not _is_bsn_typed(attributes):
        return False
    found = clear_bsn(subject)
    if found is None:
        if not contains_bsn(subject):
            return False  # someone's pseudonym: stored as sent
        if store_clear_bsn and key is None:
            return False
        return Violation(
            CLEAR_BSN_RULE,
            f"{attr.DATA_SUBJECT_ID} holds a clear BSN (a BSN amid other text): send the BSN alone, "
            "to be pseudonymised, or a pseudonym",
        )
    form, bsn = found
    if key is not None:
        # The 9-digit form: one pseudonym per citizen however the sender wrote the number.
        attributes[attr.DATA_SUBJECT_ID] = pseudonymise(bsn, key)
        return True
    if store_clear_bsn:
        return False
    return Violation(
        CLEAR_BSN_RULE,
        f"{attr.DATA_SUBJECT_ID} holds a clear BSN ({form}) and this collector has no pseudonymisation key "
        "for the organisation: pseudonymise it in the application (the LDV SDK does) or configure a key",
    )
