"""The soak run in short (bench/soak.py, about 40 s at a low rate): the whole measuring loop works,
and at its end every acknowledged record is counted back. The long run: `make soak`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.bench]

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_a_short_soak_loses_nothing_and_measures_every_window(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec and spec.loader
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    result = soak.run(minutes=0.5, rate=200, sdk_senders=1, exporter_senders=1, window=10, out=tmp_path / "soak")
    summary, rows = result["summary"], result["rows"]
    assert summary["lost"] == 0, summary
    assert summary["sdk_processed"] > 0 and summary["exporter_acknowledged"] > 0
    assert summary["exporter_stored_of_acknowledged"] == summary["exporter_acknowledged"]
    assert summary["dashboard_failures"] == 0 and summary["lookup_failures"] == 0, summary
    assert len(rows) == 3 and all(r["rss_mib"] > 0 and r["open_files"] > 0 and r["parts_on_disk"] > 0 for r in rows)
    assert rows[-1]["stored"] > rows[0]["stored"]
    assert (tmp_path / "soak.svg").read_text().startswith("<svg")
