"""The pseudonymisation keys of the organisations this Logboek serves, and what they are for:
finding a data subject's records, which are stored under a pseudonym per organisation.

One setting feeds them (`ApiSettings.organisation_keys`, `LDV_ORGANISATION_KEYS`), used by
the citizen inzage and the read API alike. The keys are secret: `repr` never shows them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import SecretStr

from ldv_logboek import BSN_AS_DIGITS, pseudonymise, subject_clear_bsn


class SubjectKeys:
    """Organisation code -> pseudonymisation key, for the organisations this Logboek serves."""

    def __init__(self, keys: Mapping[str, SecretStr]):
        self._keys = {org: key.get_secret_value().encode() for org, key in keys.items()}

    def __repr__(self) -> str:
        return f"SubjectKeys(organisations={sorted(self._keys)})"

    @property
    def organisations(self) -> list[str]:
        """The codes of the organisations served, in configuration order."""
        return list(self._keys)

    def items(self) -> Iterator[tuple[str, bytes]]:
        """(organisation code, key) pairs."""
        return iter(self._keys.items())

    def only(self, organisations: set[str]) -> SubjectKeys:
        """The keys of those of `organisations` this Logboek serves."""
        narrowed = SubjectKeys({})
        narrowed._keys = {org: key for org, key in self._keys.items() if org in organisations}
        return narrowed

    def pseudonyms(self, subject_id: str) -> tuple[str, ...]:
        """Every id the records of `subject_id` may be stored under here, without repeats.

        The collector's rule decides (`ldv_logboek.subject_clear_bsn`): only a real-looking
        BSN is a clear id, searched as its pseudonym under each key (as its 9 digits, however
        it is written), or as given when no key is configured (then records hold ids as they
        came). Anything else — this suite's pseudonym, another implementation's pseudonym
        stored as sent, an id of another type — is searched as given. A BSN written other than
        as 9 digits (8 digits, separators) may also be another kind of id (a KvK number has 8
        digits): the search names no type, so it is searched as given too.
        """
        found = subject_clear_bsn(subject_id, None)
        if found is None or not self._keys:
            return (subject_id,)
        form, bsn = found
        ids = [pseudonymise(bsn, key) for key in self._keys.values()]
        if form != BSN_AS_DIGITS:
            ids.append(subject_id)
        return tuple(dict.fromkeys(ids))

    def citizen_pseudonyms(self, bsn: str) -> tuple[str, ...]:
        """The pseudonyms a citizen's records carry here: their BSN under each key (never the clear BSN)."""
        return tuple(dict.fromkeys(pseudonymise(bsn, key) for key in self._keys.values()))
