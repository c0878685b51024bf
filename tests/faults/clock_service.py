"""A service whose wall clock is wrong, in a process of its own (only its clock is changed).

    python -m tests.faults.clock_service ENDPOINT SPOOL ACTIVITY_NAME OFFSET_S JUMP_BACK_S COUNT

Its `time.time_ns` is the real one plus OFFSET_S seconds, patched before OpenTelemetry and the
SDK are imported (they bind `time_ns` at import). COUNT processings run; in the middle one, the
clock is set back JUMP_BACK_S seconds while it runs. It flushes to ENDPOINT and prints "ok".
"""

from __future__ import annotations

import sys
import time

endpoint, spool, activity, offset_s, jump_s, count = sys.argv[1:7]
_real_time_ns = time.time_ns
_offset = [int(float(offset_s) * 1e9)]
time.time_ns = lambda: _real_time_ns() + _offset[0]

import ldv_sdk  # noqa: E402 - after the clock is patched

ldv_sdk.configure(
    organisation="dienst-toeslagen", service_name="klok-api", pseudonym_key=b"toeslagen-clock-key-0123456789",
    register_base_uri="https://register.toeslagen.example/processing-activities", endpoint=endpoint,
    spool_path=spool, max_backoff=0.5,
)  # fmt: skip


@ldv_sdk.verwerking(activity, subject="bsn")
def bereken(bsn: str, jump: bool) -> int:
    if jump:
        time.sleep(0.01)
        _offset[0] -= int(float(jump_s) * 1e9)  # the clock is set back in the middle of this processing
        time.sleep(0.01)
    return len(bsn)


n = int(count)
for i in range(n):
    bereken(f"{100_000_000 + i:09d}", i == n // 2)
assert ldv_sdk.flush(timeout=60), "not delivered"
ldv_sdk.shutdown(timeout=5)
print("ok")
