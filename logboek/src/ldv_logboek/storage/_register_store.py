"""The register in ClickHouse, beside the records (tables of schema migration 2).

Versions are immutable, as the standard asks: saving a version that is already stored with
other content is refused (`RegisterConflict`); a change is a new version. Saving the same
register again changes nothing. Organisations are descriptive and may be updated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ldv_logboek.errors import RegisterConflict
from ldv_logboek.register._models import ActivityVersion, Organisation, ProcessingActivity, Register
from ldv_logboek.storage._schema import REGISTER_ORGANISATIONS_TABLE, REGISTER_VERSIONS_TABLE


class Tables(Protocol):
    """What the register needs of the store (`LogStore`): reads on its readers, inserts on its writer."""

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> Sequence[Sequence[Any]]: ...

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str], what: str) -> None: ...


@dataclass
class SaveResult:
    """What `RegisterStore.save` did."""

    versions_added: list[str] = field(default_factory=list)  # "activity-id v3"
    versions_unchanged: int = 0
    organisations_saved: int = 0
    activities_ended: list[str] = field(default_factory=list)


class RegisterStore:
    """Reads and writes the register tables through the process's `LogStore`.

    Loads read on the store's readers, saves insert on its writer: a lookup of the register
    never waits for a record insert. Thread safety: any number of threads may call `load`;
    `save` is for one caller at a time (at start, or `ldv register load`), since it checks the
    stored register before it writes. The cache is replaced whole, never changed in place.
    """

    def __init__(self, store: Tables, *, cache_seconds: float = 5.0):
        """The register of `store` (a migrated `LogStore`)."""
        self.store = store
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, Register] | None = None

    def save(self, register: Register) -> SaveResult:
        """Store `register`: new versions are added, identical ones skipped, changed ones refused.

        Checks every activity before writing anything, so a conflict writes nothing.
        """
        stored = self.load(fresh=True)
        result = SaveResult()
        version_rows: list[list[Any]] = []
        for activity in register.activities.values():
            known = stored.activity(activity.id)
            ended_changed = known is not None and known.ended_at != activity.ended_at
            for version in activity.versions:
                old = known.version(version.version) if known else None
                if old is not None and old != version:
                    raise RegisterConflict(
                        f"{activity.id} version {version.version} is already in the register with other content; "
                        "a change must be a new version"
                    )
                if old is None or ended_changed:
                    version_rows.append(_version_row(activity, version))
                    if old is None:
                        result.versions_added.append(f"{activity.id} v{version.version}")
                else:
                    result.versions_unchanged += 1
            if known is not None and len(known.versions) > len(activity.versions):
                raise RegisterConflict(
                    f"{activity.id} has {len(known.versions)} versions in the register but the file has "
                    f"{len(activity.versions)}: versions are never removed"
                )
            if ended_changed:
                result.activities_ended.append(activity.id)
        organisation_rows = [
            [o.id, o.code, o.name, o.read_api_url or "", _dump(o)]
            for o in register.organisations.values()
            if stored.organisation(o.id) != o
        ]
        self.store.insert_rows(
            REGISTER_VERSIONS_TABLE,
            version_rows,
            [
                "ActivityId",
                "Version",
                "ValidFrom",
                "EndedAt",
                "Name",
                "Controller",
                "Confidential",
                "ConfidentialUntil",
                "Document",
            ],
            "register versions",
        )
        self.store.insert_rows(
            REGISTER_ORGANISATIONS_TABLE,
            organisation_rows,
            ["OrganisationId", "Code", "Name", "ReadApiUrl", "Document"],
            "register organisations",
        )
        result.organisations_saved = len(organisation_rows)
        self._cached = None
        return result

    def load(self, *, fresh: bool = False) -> Register:
        """The whole register as stored (cached for `cache_seconds` unless `fresh`)."""
        now = time.monotonic()
        if not fresh and self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        version_rows = self.store.query_rows(
            f"SELECT ActivityId, Version, EndedAt, Document FROM {REGISTER_VERSIONS_TABLE} "
            "ORDER BY ActivityId, Version, LoadedAt DESC LIMIT 1 BY ActivityId, Version"
        )
        organisation_rows = self.store.query_rows(
            f"SELECT OrganisationId, Document FROM {REGISTER_ORGANISATIONS_TABLE} "
            "ORDER BY OrganisationId, LoadedAt DESC LIMIT 1 BY OrganisationId"
        )
        versions: dict[str, list[ActivityVersion]] = {}
        ended: dict[str, datetime | None] = {}
        for activity_id, _number, ended_at, document in version_rows:
            versions.setdefault(activity_id, []).append(ActivityVersion.model_validate_json(document))
            ended[activity_id] = ended_at
        register = Register(
            organisations={oid: Organisation.model_validate_json(doc) for oid, doc in organisation_rows},
            activities={
                aid: ProcessingActivity(id=aid, versions=tuple(vs), ended_at=ended[aid]) for aid, vs in versions.items()
            },
        )
        self._cached = (now, register)
        return register


def _dump(model: Organisation | ActivityVersion) -> str:
    return json.dumps(model.model_dump(mode="json", by_alias=True, exclude_none=True), ensure_ascii=False)


def _version_row(activity: ProcessingActivity, version: ActivityVersion) -> list[Any]:
    return [
        activity.id,
        version.version,
        version.valid_from,
        activity.ended_at,
        version.name,
        version.controller,
        version.confidential,
        version.confidential_until,
        _dump(version),
    ]
