"""Fixtures for the dashboard tests: the generated dashboards and a seeded store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ldv_dashboards.build import SOURCE_ROOT
from ldv_dashboards.dashboards import DASHBOARDS
from ldv_logboek.storage import LogStore
from tests.dashboards.runner import PanelRunner, endpoint_runner
from tests.dashboards.seed import Seeded, seed

GENERATED = SOURCE_ROOT / "generated"


def committed_dashboards() -> dict[str, dict[str, Any]]:
    """The committed dashboard JSON files, by uid (what Grafana loads, not what the code makes)."""
    return {uid: json.loads((GENERATED / f"{uid}.json").read_text(encoding="utf-8")) for uid in DASHBOARDS}


def targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query target of every panel, rows included."""
    for panel in board.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner, target


@pytest.fixture(scope="module")
def seeded(store: LogStore) -> Seeded:
    return seed(store)


@pytest.fixture(scope="module")
def runner(store: LogStore, seeded: Seeded) -> Iterator[PanelRunner]:
    """Grafana's path to the seeded store: the ClickHouse endpoint, as a supervisor without raw rows."""
    with endpoint_runner(store) as panel_runner:
        yield panel_runner

