"""Assert on the LDV records your own code produces, as plain dicts.

    from ldv_sdk.testing import capture_ldv

    def test_berekening():
        with capture_ldv() as records:
            bereken_huurtoeslag("123456782")
        assert records[0]["attributes"]["dpl.core.data_subject_id"] == records.pseudonym("123456782")

Or use the pytest fixture `ldv_records` (registered as a pytest plugin by ldv-sdk).
Records pass through the same pipeline as in production (pseudonymisation, BSN guard,
checks) but go to a list instead of the spool; nothing is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ldv_logboek.pseudonym import pseudonymise
from ldv_sdk.records import Record
from ldv_sdk.runtime import Runtime, install_runtime
from ldv_sdk.settings import LdvConfig

TEST_KEY = b"ldv-sdk-test-key-not-for-production"


class CapturedRecords(list[Record]):
    """The records captured so far (a list of dicts), plus helpers for assertions."""

    def __init__(self, key: bytes) -> None:
        super().__init__()
        self._key = key

    def pseudonym(self, subject_id: str | int) -> str:
        """The pseudonym a subject id gets under the capturing configuration's key."""
        return pseudonymise(str(subject_id).strip(), self._key)

    def subjects(self) -> list[str]:
        """The data subject ids (pseudonyms) of all records that have one, in order."""
        return [r["attributes"]["dpl.core.data_subject_id"] for r in self if "dpl.core.data_subject_id" in r["attributes"]]

    def named(self, name: str) -> list[Record]:
        """The records of actions with this name."""
        return [r for r in self if r["name"] == name]


@contextmanager
def capture_ldv(config: LdvConfig | None = None, **settings: Any) -> Iterator[CapturedRecords]:
    """Capture every LDV record made inside the block instead of spooling it.

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
    runtime = Runtime(config, sink=captured.append)
    previous = install_runtime(runtime)
    try:
        yield captured
    finally:
        install_runtime(previous)
        runtime.shutdown(timeout=0)
