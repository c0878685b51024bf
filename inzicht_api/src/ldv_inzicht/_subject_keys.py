"""The pseudonymisation keys of the organisations this Logboek serves, and what they are for:
finding a data subject's records, which are stored under a pseudonym per organisation.

One setting feeds them (`ApiSettings.organisation_keys`, `LDV_ORGANISATION_KEYS`), used by
the citizen inzage and the read API alike. The keys are secret: `repr` never shows them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import SecretStr

from ldv_logboek import is_pseudonym, pseudonymise


class SubjectKeys:
    """Organisation code -> pseudonymisation key, for the organisations this Logboek serves."""

    def __init__(self, keys: Mapping[str, SecretStr]):
        self._keys = {org: key.get_secret_value().encode() for org, key in keys.items()}

    def __repr__(self) -> str:
        return f"SubjectKeys(organisations={sorted(self._keys)})"

    def __len__(self) -> int:
        return len(self._keys)

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

        A pseudonym stays as it is; a clear id (a BSN) becomes its pseudonym under each key,
        or stays as it is when no key is configured (then records hold ids as they came).
        """
        if is_pseudonym(subject_id) or not self._keys:
            return (subject_id,)
        return tuple(dict.fromkeys(pseudonymise(subject_id, key) for key in self._keys.values()))

    def citizen_pseudonyms(self, bsn: str) -> tuple[str, ...]:
        """The pseudonyms a citizen's records carry here: their BSN under each key (never the clear BSN)."""
        return tuple(dict.fromkeys(pseudonymise(bsn, key) for key in self._keys.values()))
