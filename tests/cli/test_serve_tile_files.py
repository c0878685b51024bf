"""`ldv serve`'s tile files: where they go (`LDV_SERVE_TILE_DIR`) and the switch that leaves them out
(`LDV_SERVE_TILE_FILES`); that the running server copies them is tested end to end in
tests/e2e/test_tlog_e2e.py."""

from __future__ import annotations

from pathlib import Path

from ldv_suite.server import Stack
from ldv_suite.settings import ServeSettings


def tile_root(**settings: object) -> Path | None:
    stack = Stack.build(ServeSettings.load(None, clickhouse_port=0, **settings))  # nothing listens yet
    try:
        return None if stack.store.tile_files is None else stack.store.tile_files.root
    finally:
        stack.store.close()


def test_the_embedded_store_keeps_them_in_its_directory_or_where_told_or_not_at_all(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert tile_root(data_dir=data) == data.resolve() / "tlog-tiles"
    assert tile_root(data_dir=data, tile_dir=tmp_path / "tiles") == tmp_path / "tiles"
    assert tile_root(data_dir=data, tile_files=False) is None
