"""Benchmark: what a per-subject chain would cost at ingest (issue #15 item 4's decision).

    .venv/bin/python bench/subject_chain.py [--records 200000] [--subjects 20000] [--batch 512]

A per-subject chain puts in each record's leaf the index of the previous leaf of the same data
subject, so a writer must know, for every record it appends, the subject's last leaf. Measured
in one run on one embedded store holding `--records` records of `--subjects` subjects:

- baseline: the store's insert of a batch of `--batch` records (µs per record), which ingest
  pays today;
- lookup per record: one query for the subject's highest LeafIndex (as a writer without state
  would do it);
- lookup per batch: one query for all the batch's subjects (`IN`, `GROUP BY`);
- in memory: a dict subject -> last leaf in the writer (µs per record and bytes per subject),
  which is lost at restart and is per writer (each collector keeps its own log, issue #15 item 7).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek.storage import RECORDS_TABLE, LogStore, connect

ACTIVITY = "https://register.example/processing-activities/huurtoeslag"


def subject(n: int) -> str:
    return "hmac-sha256:" + f"{n:064x}"


def make(subject_id: str, start_ns: int) -> LogRecord:
    return LogRecord(
        trace_id=os.urandom(16),
        span_id=os.urandom(8),
        name="huurtoeslag berekenen",
        start_time_ns=start_ns,
        end_time_ns=start_ns + 2_000_000,
        attributes={attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID: subject_id, attr.DATA_SUBJECT_ID_TYPE: "BSN"},
        resource_attributes={attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: "dienst-toeslagen"},
    )


def batch(rng: random.Random, subjects: int, size: int) -> list[LogRecord]:
    now = time.time_ns()
    return [make(subject(rng.randrange(subjects)), now - rng.randrange(10**12)) for _ in range(size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--probes", type=int, default=300, help="single-record lookups timed")
    args = parser.parse_args()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as tmp:
        store = LogStore(connect(f"chdb://{Path(tmp) / 'db'}"))
        store.migrate()
        for _ in range(args.records // 10_000):
            store.insert(batch(rng, args.subjects, 10_000))
        print(f"store: {args.records} records of {args.subjects} subjects", file=sys.stderr)

        inserts = []
        for _ in range(10):
            records = batch(rng, args.subjects, args.batch)
            t = time.perf_counter()
            store.insert(records)
            inserts.append((time.perf_counter() - t) / args.batch * 1e6)
        print(f"baseline insert of a batch of {args.batch}: {statistics.median(inserts):.1f} us/record")

        one = (f"SELECT max(LeafIndex) FROM {RECORDS_TABLE} WHERE LogOrigin = {{o:String}} "
               "AND DataSubjectId = {s:String}")  # fmt: skip
        singles = []
        for _ in range(args.probes):
            t = time.perf_counter()
            store.query_rows(one, {"o": "", "s": subject(rng.randrange(args.subjects))})
            singles.append((time.perf_counter() - t) * 1e6)
        print(f"lookup per record: p50 {statistics.median(singles):.0f} us/record, "
              f"{statistics.median(singles) / statistics.median(inserts):.0f}x the insert")  # fmt: skip

        many = (f"SELECT DataSubjectId, max(LeafIndex) FROM {RECORDS_TABLE} WHERE LogOrigin = {{o:String}} "
                "AND DataSubjectId IN {s:Array(String)} GROUP BY DataSubjectId")  # fmt: skip
        batched = []
        for _ in range(20):
            wanted = [subject(rng.randrange(args.subjects)) for _ in range(args.batch)]
            t = time.perf_counter()
            store.query_rows(many, {"o": "", "s": wanted})
            batched.append((time.perf_counter() - t) / args.batch * 1e6)
        print(f"lookup per batch of {args.batch}: p50 {statistics.median(batched):.1f} us/record, "
              f"{statistics.median(batched) / statistics.median(inserts):.2f}x the insert")  # fmt: skip

        last: dict[str, int] = {}
        ids = [subject(rng.randrange(args.subjects)) for _ in range(200_000)]
        t = time.perf_counter()
        for index, s in enumerate(ids):
            last.get(s)
            last[s] = index
        memory = (time.perf_counter() - t) / len(ids) * 1e6
        per_subject = (sys.getsizeof(last) + sum(sys.getsizeof(k) + 28 for k in last)) / len(last)
        print(f"in memory: {memory:.2f} us/record, ~{per_subject:.0f} bytes per subject "
              f"({per_subject * 17_000_000 / 2**30:.1f} GiB for 17M subjects)")  # fmt: skip
        store.close()


if __name__ == "__main__":
    main()
