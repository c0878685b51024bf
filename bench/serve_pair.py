"""Paired before/after of `ldv serve`'s ingest: spans per server CPU-second, two checkouts alternately.

    .venv/bin/python bench/serve_pair.py --base /path/to/other/checkout/.venv/bin/python [--rounds 3] [--log off]

`--base` may also be a script that runs this venv's Python with another checkout's source
trees first on PYTHONPATH (a `git archive` of an older commit). `--log off` runs this
checkout's server without the transparency log (LDV_COLLECTOR_LOG_ENABLED=false), to compare
with a commit from before the log.

The same pre-encoded requests (bench/ingest.py's `synthetic_bodies`, 512 realistic LDV spans
each) are replayed by `--senders` threads against a fresh `ldv serve` of this checkout and of
the other, alternately, round by round (bench/ingest.py's `through_serve`), so both see the
same load of a shared machine. Prints every round and the medians.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
from pathlib import Path

_spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
assert _spec is not None and _spec.loader is not None
ingest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ingest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the other checkout's Python (its `ldv serve` is the baseline)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--log", choices=("on", "off"), default="on", help="this checkout's transparency log")
    args = parser.parse_args()
    here_env = {"LDV_COLLECTOR_LOG_ENABLED": "false"} if args.log == "off" else {}
    bodies = list(ingest.synthetic_bodies(args.requests * args.spans, args.spans, seed=11))
    pythons = {"this checkout": sys.executable, "base": args.base}
    per_cpu: dict[str, list[float]] = {name: [] for name in pythons}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, python in pythons.items():
                env = here_env if name == "this checkout" else {}
                data_dir = Path(tmp) / f"{name}{round_}"
                wall, cpu, _ = ingest.through_serve(bodies, args.spans, args.senders, data_dir, python, env)
                per_cpu[name].append(cpu)
                print(f"round {round_ + 1} {name:14s} {wall:10,.0f} spans/s {cpu:10,.0f} spans per server CPU-second", flush=True)
    here, base = (statistics.median(per_cpu[n]) for n in pythons)
    print(f"median spans per server CPU-second: this checkout {here:,.0f}, base {base:,.0f}, ratio {here / base:.2f}")


if __name__ == "__main__":
    main()
