"""A service that keeps processing through the SDK (with its spool) until told to stop.

    python -m tests.faults.busy_service ENDPOINT SPOOL ACTIVITY_NAME STOP_FILE [PER_SECOND]

Runs processings (each a record about a new subject, `citizen_bsn(n)` for the n-th) at about PER_SECOND (default 200) until
STOP_FILE exists, then waits until the spool is delivered and prints the number of processings
that returned (each one is in the spool: acknowledged to the host code) and "ok".
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import ldv_sdk
from tests.faults.traffic import citizen_bsn

endpoint, spool, activity, stop_file = sys.argv[1:5]
per_second = float(sys.argv[5]) if len(sys.argv) > 5 else 200.0

ldv_sdk.configure(
    organisation="dienst-toeslagen", service_name="druk-api", pseudonym_key=b"toeslagen-busy-key-0123456789",
    register_base_uri="https://register.toeslagen.example/processing-activities", endpoint=endpoint,
    spool_path=spool, max_backoff=0.5, max_retry_after=1.0,
)  # fmt: skip


@ldv_sdk.verwerking(activity, subject="bsn")
def bereken(bsn: str) -> int:
    return len(bsn)


done = 0
started = time.monotonic()
stop = Path(stop_file)
while not stop.exists():
    bereken(citizen_bsn(done))
    done += 1
    ahead = done / per_second - (time.monotonic() - started)
    if ahead > 0:
        time.sleep(ahead)
delivered = ldv_sdk.flush(timeout=180)
ldv_sdk.shutdown(timeout=5)
print(done, "ok" if delivered else "undelivered")
