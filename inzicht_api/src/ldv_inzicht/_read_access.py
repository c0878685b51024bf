"""Which records a caller may read through the read API: the role rules as a query restriction.

- `supervisor` (toezichthouder): every record.
- `organisation`: only records whose `Organisation` column (resource attribute
  `dpl.suite.organisation`) equals the token's organisation claim.
- `citizen`: only records about themself: those whose `DataSubjectId` is the citizen's BSN
  pseudonymised with one of the keys of the organisations this Logboek serves
  (`SubjectKeys.citizen_pseudonyms`), and never records of activities the register marks
  confidential (`Register.hidden_windows`, the rule the inzage applies).

A token with several roles is read with the widest: supervisor, then organisation, then
citizen. Everything is applied in the store query itself, so what a caller may not read is
simply not in the answer: no count, no cursor, no error hints at it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ldv_inzicht._auth import Principal, Role, forbidden
from ldv_inzicht._subject_keys import SubjectKeys
from ldv_logboek.register import Register
from ldv_logboek.storage import ActivityWindow


@dataclass(frozen=True)
class ReadRestriction:
    """What the caller's role adds to every query, and the subject ids a search may match.

    `data_subject_ids` None: any subject. For a citizen it is always set: their own ids, or
    none at all when the search names someone else.
    """

    role: Role
    organisation: str | None = None
    data_subject_ids: tuple[str, ...] | None = None
    exclude: tuple[ActivityWindow, ...] = ()


def read_restriction(
    principal: Principal,
    subject_id: str | None,
    keys: SubjectKeys,
    register_source: Callable[[], Register],
    now: datetime,
) -> ReadRestriction:
    """The restriction for `principal` searching for `subject_id` (as given in the body, or None).

    A clear subject id is pseudonymised with every configured key (a pseudonym is taken as it
    is). A citizen who names a subject that is neither their BSN nor one of their pseudonyms
    gets a restriction that matches nothing: the answer is the same as for no records.
    A principal without a role of the read API (or without the claim its role needs) is
    refused with the generic 403 (`ProblemError`); the auth layer normally stops those first.
    """
    if principal.has(Role.SUPERVISOR):
        return ReadRestriction(Role.SUPERVISOR, data_subject_ids=_searched(subject_id, keys))
    if principal.has(Role.ORGANISATION):
        # The auth layer refuses organisation tokens without the claim; still never widen on a gap
        # (an `assert` would vanish under `python -O`).
        if not principal.organisation:
            raise forbidden()
        return ReadRestriction(
            Role.ORGANISATION, organisation=principal.organisation, data_subject_ids=_searched(subject_id, keys)
        )
    if not principal.has(Role.CITIZEN) or principal.bsn is None:
        raise forbidden()
    bsn = principal.bsn.get_secret_value()
    own = keys.citizen_pseudonyms(bsn)
    if subject_id is None or subject_id.strip() == bsn:
        ids = own
    elif subject_id in own:
        ids = (subject_id,)
    else:
        ids = ()  # someone else: the same empty answer as a citizen without records
    hidden = register_source().hidden_windows(now)
    exclude = tuple(ActivityWindow(activity_id, _ns(start), _ns(end)) for activity_id, start, end in hidden)
    return ReadRestriction(Role.CITIZEN, data_subject_ids=ids, exclude=exclude)


def _searched(subject_id: str | None, keys: SubjectKeys) -> tuple[str, ...] | None:
    return keys.pseudonyms(subject_id) if subject_id is not None else None


def _ns(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    # Exact: whole microseconds as an integer, no float rounding.
    return (moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)) // timedelta(microseconds=1) * 1_000
