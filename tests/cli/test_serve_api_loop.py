"""`ldv serve` runs the read API on an event loop of its own: a citizen's lookup does not wait
while the loop that the collector's servers share is busy (docs/reliability.md, "Soak")."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from ldv_suite.server import Stack
from ldv_suite.settings import ServeSettings
from tests.e2e.serve_process import free_port

BLOCK_S = 2.0


def test_the_read_api_answers_while_the_collectors_loop_is_blocked(tmp_path: Path) -> None:
    otlp, api = free_port(), free_port()
    settings = ServeSettings.load(
        None, data_dir=tmp_path / "data", host="127.0.0.1", otlp_http_port=otlp, api_port=api,
        otlp_grpc_port=0, clickhouse_port=0,
    )  # fmt: skip
    stack = Stack.build(settings)
    took: dict[str, float] = {}
    asks = [
        threading.Thread(target=lambda: ask("api", f"http://127.0.0.1:{api}/lezenapi/v1/health")),
        threading.Thread(target=lambda: ask("collector", f"http://127.0.0.1:{otlp}/healthz")),
    ]

    def ask(name: str, url: str) -> None:
        t0 = time.monotonic()
        assert httpx.get(url, timeout=30).status_code == 200
        took[name] = time.monotonic() - t0

    def ready() -> None:
        loop = asyncio.get_running_loop()

        def block_then_stop() -> None:
            for thread in asks:
                thread.start()
            time.sleep(BLOCK_S)  # the shared loop does nothing else meanwhile
            loop.call_soon(stack.stop)

        loop.call_soon(block_then_stop)

    asyncio.run(stack.run(on_ready=ready))
    for thread in asks:
        thread.join(30)
    assert took["collector"] >= BLOCK_S * 0.8  # the shared loop was blocked: its server waited
    assert took["api"] < BLOCK_S / 2  # the read API's own loop answered meanwhile
