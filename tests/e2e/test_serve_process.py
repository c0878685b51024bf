"""The e2e harness starts `ldv serve` robustly when a free port is taken before the child binds it.

Under parallel load another process can take a port between `free_port()` and the child's
bind. The harness must then pick new ports and start again, and must never mistake another
process listening on a port for the child.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tests.e2e.serve_process as serve_process
from tests.e2e.serve_process import ServeProcess


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process (here: this one) listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_port_taken_before_the_child_binds_it_is_picked_anew(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = iter([taken_port])  # the first port picked is the taken one, as in the race
    real = serve_process.free_port
    monkeypatch.setattr(serve_process, "free_port", lambda: next(picks, None) or real())
    process = ServeProcess(tmp_path / "data", store_dsn=None)
    assert process.otlp_port == taken_port
    try:
        process.start()
        assert process.otlp_port != taken_port
        assert httpx.get(f"http://127.0.0.1:{process.otlp_port}/healthz", timeout=10).status_code == 200
    finally:
        process.kill()


def test_another_process_on_a_port_is_not_taken_for_the_child(tmp_path: Path, taken_port: int) -> None:
    """A port given explicitly and held by someone else: the child cannot bind it, and the
    harness says so instead of talking to the other process."""
    process = ServeProcess(tmp_path / "data", api_port=taken_port, store_dsn=None)
    with pytest.raises(serve_process.PortTaken):
        process.start(timeout=60)
    assert process.proc is not None and process.proc.poll() is not None
