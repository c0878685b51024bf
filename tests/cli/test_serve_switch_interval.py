"""`ldv serve` runs with a short interpreter switch interval, so the collector's Python threads do
not hold a lookup's thread off the GIL for CPython's default 5 ms at a time (issue 18)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ldv_suite.server import SWITCH_INTERVAL_S, Stack
from ldv_suite.settings import ServeSettings
from tests.e2e.serve_process import free_port


def test_the_stack_runs_at_its_switch_interval_and_restores_the_previous_one(tmp_path: Path) -> None:
    settings = ServeSettings.load(
        None, data_dir=tmp_path / "data", host="127.0.0.1", otlp_http_port=free_port(), api_port=free_port(),
        otlp_grpc_port=0, clickhouse_port=0,
    )  # fmt: skip
    stack = Stack.build(settings)
    before = sys.getswitchinterval()
    seen: list[float] = []

    def ready() -> None:
        seen.append(sys.getswitchinterval())
        stack.stop()

    asyncio.run(stack.run(on_ready=ready))
    assert SWITCH_INTERVAL_S < 0.005  # shorter than CPython's default
    assert seen == [SWITCH_INTERVAL_S]
    assert sys.getswitchinterval() == before
