"""Fixtures of the core's storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ldv_logboek.storage import LogStore, connect


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[LogStore]:
    """A migrated, empty embedded store in its own directory (its tile files in `db/tlog-tiles`)."""
    store = LogStore(connect(f"chdb://{tmp_path / 'db'}"))
    store.migrate()
    yield store
    if not store.closed:
        store.close()
