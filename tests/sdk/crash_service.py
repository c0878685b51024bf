"""A tiny service for the crash test: logs processings and prints each span id once it returned.

    python crash_service.py SPOOL ENDPOINT COUNT [--flush]

Printing happens after the processing returned, so every printed id must reach the collector,
even when this process is killed with SIGKILL right after.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ldv_sdk


def main() -> int:
    spool, endpoint, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ldv_sdk.configure(
        organisation="gemeente-amsterdam",
        service_name="crash-service",
        pseudonym_key=b"crash-test-key-0123456789",
        register_base_uri="https://register.amsterdam.example/verwerkingsactiviteiten",
        endpoint=endpoint,
        spool_path=spool,
        batch_size=64,
        max_backoff=0.2,
    )
    for i in range(count):
        with ldv_sdk.verwerking("bijstand", f"aanvraag {i}") as v:
            v.add_subject(str(100000000 + i))
        print(v.span_id, flush=True)
    if "--flush" in sys.argv:
        return 0 if ldv_sdk.flush(20) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
