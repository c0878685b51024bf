"""Seed a data directory with the dashboard tests' records and register, in a process of its own.

`python -m tests.peers.seed_store DATA_DIR` stores what tests/dashboards/seed.py stores (the
numbers the panels must show are derived there) and prints the seed's window and trace ids as
JSON. It runs in its own process because chDB opens a data directory from one process at a
time: `ldv serve` opens the directory after this process has closed it.
"""

from __future__ import annotations

import json
import sys

from ldv_logboek.storage import LogStore, connect
from tests.dashboards.seed import seed


def main(data_dir: str) -> None:
    store = LogStore(connect(f"chdb://{data_dir}"))
    store.migrate()
    try:
        seeded = seed(store)
    finally:
        store.close()
    start, end = seeded.window
    print(json.dumps({"window": [start.isoformat(), end.isoformat()], "traces": seeded.traces}))


if __name__ == "__main__":
    main(sys.argv[1])
