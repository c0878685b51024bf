"""The register in ClickHouse, beside the records (tables of schema migration 2).

Versions are immutable, as the standard asks: saving a version that is already stored with
other content is refused (`RegisterConflict`); a change is a new version. Saving the same
register again changes nothing. Organisations are descriptive and may be updated.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ldv_logboek.errors import RegisterConflict
from ldv_logboek.register.models import ActivityVersion, Organisation, ProcessingActivity, Register
from ldv_logboek.storage.client import StorageUnavailable, storage_error
from ldv_logboek.storage.schema import REGISTER_ORGANISATIONS_TABLE, REGISTER_VERSIONS_TABLE

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from ldv_logboek.storage.store import LogStore


@dataclass
class SaveResult:
    """What `RegisterStore.save` did."""

    versions_added: list[str] = field(default_factory=list)  # "activity-id v3"
    versions_unchanged: int = 0
    organisations_saved: int = 0
    activities_ended: list[str] = field(default_factory=list)


class RegisterStore:
    """Reads and writes the register tables through a clickhouse-connect client.

    Share the client and lock of the process's `LogStore` (see `from_log_store`): one chDB
    session must not be used concurrently.
    """

    def __init__(self, client: Client, *, lock: threading.Lock | None = None, cache_seconds: float = 5.0):
        self.client = client
        self._lock = lock or threading.Lock()
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, Register] | None = None
        self._log_store: LogStore | None = None

    @classmethod
    def from_log_store(cls, store: LogStore, *, cache_seconds: float = 5.0) -> RegisterStore:
        """A RegisterStore on the same client and lock as `store` (the store must be migrated)."""
        # LogStore serialises its client calls with this lock; using another would let two
        # threads into one chDB session.
        register_store = cls(store.client, lock=store.lock, cache_seconds=cache_seconds)
        register_store._log_store = store
        return register_store

    def _check_open(self) -> None:
        # A closed shared client raises the driver's ProgrammingError: it means "stopping", not a bug.
        if self._log_store is not None and self._log_store.closed:
            raise StorageUnavailable("the store is closed (the process is stopping)")

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
        try:
            with self._lock:
                self._check_open()
                if version_rows:
                    self.client.insert(
                        REGISTER_VERSIONS_TABLE,
                        version_rows,
                        column_names=[
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
                    )
                if organisation_rows:
                    self.client.insert(
                        REGISTER_ORGANISATIONS_TABLE,
                        organisation_rows,
                        column_names=["OrganisationId", "Code", "Name", "ReadApiUrl", "Document"],
                    )
        except Exception as exc:  # noqa: BLE001 - any driver failure means: not stored (classified in one place)
            raise storage_error(exc, "saving the register") from exc
        result.organisations_saved = len(organisation_rows)
        self._cached = None
        return result

    def load(self, *, fresh: bool = False) -> Register:
        """The whole register as stored (cached for `cache_seconds` unless `fresh`)."""
        now = time.monotonic()
        if not fresh and self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        try:
            with self._lock:
                self._check_open()
                version_rows = self.client.query(
                    f"SELECT ActivityId, Version, EndedAt, Document FROM {REGISTER_VERSIONS_TABLE} "
                    "ORDER BY ActivityId, Version, LoadedAt DESC LIMIT 1 BY ActivityId, Version"
                ).result_rows
                organisation_rows = self.client.query(
                    f"SELECT OrganisationId, Document FROM {REGISTER_ORGANISATIONS_TABLE} "
                    "ORDER BY OrganisationId, LoadedAt DESC LIMIT 1 BY OrganisationId"
                ).result_rows
        except Exception as exc:  # noqa: BLE001 - classified in one place
            raise storage_error(exc, "reading the register") from exc
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
