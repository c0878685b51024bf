"""Run one fuzz target under atheris (libFuzzer) for a set time.

    python fuzz/run.py TARGET SECONDS [WORK_DIR]

New inputs the fuzzer finds go to WORK_DIR/<target> (default `.fuzz/`, not committed); the
committed seeds in fuzz/corpus/<target> are read too. A crash writes its input to
WORK_DIR/crash-* and exits non-zero: copy it to fuzz/crashes/<target>/ with the fix, and the
test suite replays it for good (tests/faults/test_fuzz_corpus.py).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: fuzz.*, tests.* helpers

import atheris  # noqa: E402

with atheris.instrument_imports(include=["ldv_logboek", "ldv_collector", "ldv_inzicht"]):
    from fuzz.targets import CORPUS, TARGETS  # noqa: E402


def main() -> None:
    name, seconds = sys.argv[1], int(sys.argv[2])
    work = Path(sys.argv[3] if len(sys.argv) > 3 else ".fuzz")
    target = TARGETS[name]
    with atheris.instrument_imports(include=["ldv_logboek", "ldv_collector", "ldv_inzicht"]):
        target.check(b"")  # setup (imports) inside the instrumentation
    corpus = work / name
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = CORPUS / name
    args = [sys.argv[0], f"-max_total_time={seconds + 60}", f"-artifact_prefix={work}/crash-{name}-", "-print_final_stats=1",
            "-rss_limit_mb=3072", "-timeout=20", str(corpus)]  # fmt: skip
    if seeds.is_dir():
        args.append(str(seeds))
    # The run ends here, at its time, with os._exit: libFuzzer's own end (exit() at
    # -max_total_time, a backstop a minute later) runs the embedded chDB's C++ teardown, which
    # crashed (SIGSEGV) after a clean run. A crash leaves through libFuzzer, with its input saved.
    deadline = time.monotonic() + seconds
    began = time.monotonic()
    runs = 0

    def check(data: bytes) -> None:
        nonlocal runs
        runs += 1
        if time.monotonic() >= deadline:
            elapsed = time.monotonic() - began
            print(f"Done {runs} runs in {elapsed:.0f} second(s)\nstat::number_of_executed_units: {runs}", flush=True)
            sys.stderr.flush()
            os._exit(0)
        target.check(data)

    atheris.Setup(args, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
