"""Stop a demo process when `ldv demo`, which started it, is gone (e.g. killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import threading
import time


def exit_with_parent(interval: float = 1.0) -> None:
    """SIGTERM this process once its parent has exited, so it stops the way Ctrl-C would stop it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
