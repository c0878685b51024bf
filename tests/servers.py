"""A real uvicorn server for an app, on a loopback port, in a thread of the test process.

The socket is bound (port 0: the system picks a free one) before uvicorn starts and handed to
it, so no other process can take the port in between.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

START_TIMEOUT_S = 20.0


@contextlib.contextmanager
def serving(app: Any, port: int = 0, **config: Any) -> Iterator[int]:
    """Serve `app` on 127.0.0.1 (`port`, or a free one) while the block runs; yields the port.

    `config` goes to `uvicorn.Config` (default: `lifespan="on"`, `log_level="warning"`; TLS
    options and the like as uvicorn names them).
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, **{"lifespan": "on", "log_level": "warning", **config}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
