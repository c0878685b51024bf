"""Assert on the LDV records your own code produces, as plain dicts.

    from ldv_sdk.testing import capture_ldv

    def test_berekening():
        with capture_ldv() as records:
            bereken_huurtoeslag("123456782")
        assert records[0]["attributes"]["dpl.core.data_subject_id"] == records.pseudonym("123456782")

Or use the pytest fixture `ldv_records` (registered as a pytest plugin by ldv-sdk).
Records take the production path (the SDK's provider and processor, the spool exporter with
pseudonymisation, BSN guard, checks and OTLP encoding); only the spool is swapped for a list,
which reads each record back from the bytes that would have been spooled. Nothing is sent.
Attribute values are the strings the Logboek stores (`5` becomes `"5"`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ldv_logboek import LogRecord, Pseudonymiser, records_of
from ldv_logboek import attributes as attr
from ldv_sdk._runtime import Runtime, install_runtime
from ldv_sdk.settings import LdvConfig

TEST_KEY = b"ldv-sdk-test-key-not-for-production"
Record = dict[str, Any]


def as_dict(record: LogRecord) -> Record:
    """A record as a plain dict: ids in lowercase hex, status and kind by name."""
    return {
        "trace_id": record.trace_id.hex(),
        "span_id": record.span_id.hex(),
        "parent_span_id": record.parent_span_id.hex(),
        "name": record.name,
        "kind": record.kind,
        "trace_state": record.trace_state,
        "start_time_ns": record.start_time_ns,
        "end_time_ns": record.end_time_ns,
        "status": record.status.value,
        "status_message": record.status_message,
        "attributes": record.attributes,
        "resource": record.resource_attributes,
        "scope": [record.scope_name, record.scope_version],
        "events": [{"time_ns": e.time_ns, "name": e.name, "attributes": e.attributes} for e in record.events],
    }


class CapturedRecords(list[Record]):
    """The records captured so far (a list of dicts), plus helpers for assertions.

    It stands in for the spool: `put` receives the bytes the spool would hold.
    """

    def __init__(self, key: bytes) -> None:
        super().__init__()
        self._pseudonymiser = Pseudonymiser(key)

    def put(self, body: bytes) -> None:
        self.extend(as_dict(r) for r in records_of(body))

    def pseudonym(self, subject_id: str | int, subject_type: str = attr.SUBJECT_TYPE_BSN) -> str:
        """The pseudonym a subject id gets under the capturing configuration's key."""
        return self._pseudonymiser.subject(str(subject_id), subject_type)

    def subjects(self) -> list[str]:
        """The data subject ids (pseudonyms) of all records that have one, in order."""
        return [
            r["attributes"]["dpl.core.data_subject_id"] for r in self if "dpl.core.data_subject_id" in r["attributes"]
        ]

    def named(self, name: str) -> list[Record]:
        """The records of actions with this name."""
        return [r for r in self if r["name"] == name]


@contextmanager
def capture_ldv(config: LdvConfig | None = None, **settings: Any) -> Iterator[CapturedRecords]:
    """Capture every LDV record made inside the block instead of spooling it (same path, other spool).

    Without arguments it uses a test configuration (organisation `test-organisatie`, service
    `test-service`, a fixed test key, register base `https://register.example/activiteiten`);
    pass an `LdvConfig` or `LdvConfig` fields to test with your own. The previous SDK
    configuration is restored afterwards.
    """
    if config is None:
        values: dict[str, Any] = {
            "organisation": "test-organisatie",
            "service_name": "test-service",
            "pseudonym_key": TEST_KEY,
            "register_base_uri": "https://register.example/activiteiten",
            "start_sender": False,
        }
        values.update(settings)
        config = LdvConfig(**values)
    elif settings:
        config = config.with_changes(**settings)
    captured = CapturedRecords(config.pseudonym_key)
    runtime = Runtime(config, sink=captured)
    previous = install_runtime(runtime)
    try:
        yield captured
    finally:
        install_runtime(previous)
        runtime.shutdown(timeout=0)
