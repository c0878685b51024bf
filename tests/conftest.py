"""Shared test helpers: ids, records and paths that every component's tests use."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, connect

REPO_ROOT = Path(__file__).resolve().parents[1]
# The published specs the suite implements, carried in the repository (see specs/README.md).
SPECS_DIR = REPO_ROOT / "specs"


def make_record(
    *,
    subject: str | None = "hmac-sha256:" + "ab" * 32,
    activity: str | None = "https://register.example/processing-activities/huurtoeslag",
    trace_id: bytes | None = None,
    name: str = "huurtoeslag berekenen",
    start_ns: int | None = None,
    **extra_attrs: str,
) -> LogRecord:
    """A valid LDV record with random ids, for tests."""
    start = start_ns if start_ns is not None else time.time_ns()
    attributes: dict[str, str] = {}
    if activity is not None:
        attributes[attr.PROCESSING_ACTIVITY_ID] = activity
    if subject is not None:
        attributes[attr.DATA_SUBJECT_ID] = subject
        attributes[attr.DATA_SUBJECT_ID_TYPE] = "BSN"
    attributes.update({k.replace("__", "."): v for k, v in extra_attrs.items()})
    return LogRecord(
        trace_id=trace_id or os.urandom(16),
        span_id=os.urandom(8),
        name=name,
        start_time_ns=start,
        end_time_ns=start + 2_000_000,
        attributes=attributes,
        resource_attributes={attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: "dienst-toeslagen"},
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LogStore]:
    """A migrated embedded store for one test module, closed when the module ends.

    chDB opens one data directory per process at a time: a store left open would make the
    next module's store fail. Tests in a module tell their records apart by random ids.
    """
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp(request.module.__name__.rsplit('.', 1)[-1])}"))
    store.migrate()
    yield store
    store.close()
