"""Fixtures of the collector tests: a real chDB store per test module.

chDB runs one embedded engine per process, on one data directory at a time: the store is
closed when its module ends so that the next module (of this or another component) can
open its own directory. Tests within a module tell their records apart by random ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ldv_logboek.storage import LogStore, connect


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogStore]:
    store = LogStore(connect(f"chdb://{tmp_path_factory.mktemp('collector-store')}"))
    store.migrate()
    yield store
    store.close()
