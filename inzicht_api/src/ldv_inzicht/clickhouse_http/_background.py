"""Serve an ASGI app on a free loopback port in a background thread (tests, tools)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from ldv_inzicht.errors import InzichtError


class EndpointNotStarted(InzichtError):
    """The endpoint's server thread stopped or did not listen within the time-out."""

@contextlib.contextmanager
def running(app: ASGIApp, host: str = "127.0.0.1", timeout: float = 30.0) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:<port>`) of `app` served by uvicorn; stop it on exit."""
    sock = socket.socket()
    # Accepted connections inherit it: no Nagle delay between a response's headers and body.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise EndpointNotStarted("the endpoint did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
