"""Benchmark: the transparency log's costs (issue #15's measures).

    .venv/bin/python bench/tlog.py [--records 200000] [--leaves 1000000] [--requests 100 --spans 512]

1. The log's CPU per record in the writer, in this process: `TransparencyLog.stage` (salts, leaf
   indices, the canonical entries from the Arrow columns) minus the retention it also decides
   (which the insert decides anyway without the log), plus `commit`'s hashing (leaf hashes, the
   tree's right edge), over the same synthetic rows; the leaves' insert is timed apart.
2. Checkpoint latency under the ingest benchmark's load: `ldv serve` (log on, a checkpoint every
   250 ms by default) replays OTLP requests from 16 senders; for every request, the time from its
   acknowledgement (at the client) to the store's CreatedAt of the first checkpoint whose size
   covers the highest leaf index of its spans (read from the store afterwards). p50/p95/max.
3. `ldv audit`'s rate: `audit_store` over `--records` records written through the log.
4. Proofs at `--leaves` leaves (synthetic entries written straight into the leaves table, tile
   nodes from the tree's right edge): inclusion proof size, and the time to make one for 200
   random leaves, p50/p95: before (the entry, then one query per tile, as the endpoint did) and
   after (`StoredTree.proof`: one query), each with a cold and a shared cache; then through the
   API (`GET /log/<id>/proof/<i>` of the tlog-tiles app on a real HTTP server), first with the
   store only, then after `TileMirror` copied the full tiles to files (timed too).

bench/ingest.py --log both measures the whole server's CPU per span with the log off and on.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow as pa
import uvicorn

from ldv_collector._decode import Encoding, decode_request
from ldv_collector._ingest import Ingester
from ldv_collector.settings import CollectorSettings
from ldv_inzicht import create_log_app, log_id
from ldv_logboek.storage import (
    LEAVES_TABLE,
    LogStore,
    LogTables,
    StoredTree,
    TileMirror,
    TransparencyLog,
    audit_store,
    connect,
)
from ldv_logboek.storage._tlog_columns import leaf_hash_block
from ldv_logboek.tlog import (
    ENTRY_SIZE,
    Checkpoint,
    CompactRange,
    Signer,
    inclusion_proof,
    leaf_hashes,
    sign_note,
    tree_root,
    verify_inclusion,
)
from ldv_suite.synthetic import synthetic_bodies

sys.path.insert(0, str(Path(__file__).parent))
from ingest import free_port  # noqa: E402


def rows_of(bodies: list[bytes]) -> list[pa.Table]:
    ingester = Ingester(CollectorSettings())
    tables = []
    for body in bodies:
        result = ingester.ingest(decode_request(body, Encoding.PROTOBUF))
        if result.rows is not None:
            tables.append(result.rows if isinstance(result.rows, pa.Table) else None)
    return [t for t in tables if t is not None]


def writer_cost(tables: list[pa.Table], data_dir: Path) -> None:
    store = LogStore(connect(f"chdb://{data_dir}"))
    store.migrate()
    log = TransparencyLog.open(store, Signer.generate("bench.local/log"))
    n = sum(t.num_rows for t in tables)
    batch = pa.concat_tables(tables)
    batches = [batch.slice(i, 4096) for i in range(0, n, 4096)]
    t0 = time.process_time()
    for b in batches:
        store.with_retention(b)
    retention = time.process_time() - t0
    stage = hashing = insert = leaves = 0.0
    for b in batches:
        t0 = time.process_time()
        staged = log.stage(b)
        t1 = time.process_time()
        store.insert_record_rows(staged.table)
        t2 = time.process_time()
        hashes = leaf_hash_block(staged.entries)
        compact = CompactRange()
        compact.extend([hashes[i : i + 32] for i in range(0, len(hashes), 32)])
        t3 = time.process_time()
        log.commit(staged)
        t4 = time.process_time()
        stage += t1 - t0
        insert += t2 - t1
        hashing += t3 - t2
        leaves += (t4 - t3) - (t3 - t2)  # commit hashes again: the rest is the leaves' insert
    added = stage - retention + hashing
    print(f"1. writer, {n} records in batches of 4096: stage {1e6 * stage / n:.2f} us/record "
          f"(of which retention {1e6 * retention / n:.2f}, decided without the log too), hashing {1e6 * hashing / n:.2f}, "
          f"leaves' insert {1e6 * leaves / n:.2f}; the records' insert {1e6 * insert / n:.2f}")  # fmt: skip
    print(
        f"   log CPU per record in Python (stage - retention + hashing): {1e6 * added / n:.2f} us; "
        f"with the leaves' insert {1e6 * (added + leaves) / n:.2f} us"
    )
    store.close()


def checkpoint_latency(bodies: list[bytes], senders: int, data_dir: Path) -> None:
    span_ids = []
    for body in bodies:
        request = decode_request(body, Encoding.PROTOBUF)
        span_ids.append([s.span_id.hex() for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans])
    otlp, api = free_port(), free_port()
    cmd = [sys.executable, "-m", "ldv_suite.cli", "serve", "--data-dir", str(data_dir), "--otlp-http-port", str(otlp),
           "--api-port", str(api), "--otlp-grpc-port", "0", "--clickhouse-port", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{otlp}"
    acks: dict[int, float] = {}
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        queue = list(reversed(range(len(bodies))))
        lock = threading.Lock()

        def send() -> None:
            with httpx.Client(timeout=60) as client:
                while True:
                    with lock:
                        if not queue:
                            return
                        i = queue.pop()
                    response = client.post(
                        f"{url}/v1/traces", content=bodies[i], headers={"Content-Type": "application/x-protobuf"}
                    )
                    assert response.status_code == 200
                    acks[i] = time.time()

        wall0 = time.perf_counter()
        threads = [threading.Thread(target=send) for _ in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - wall0
        time.sleep(1.5)  # the last checkpoint
    finally:
        proc.terminate()
        proc.wait(60)
    store = LogStore(connect(f"chdb://{data_dir}"))
    index = {span: int(i) for span, i in store.query_rows("SELECT SpanId, LeafIndex FROM otel_traces", {})}
    checkpoints = [(int(size), float(at)) for size, at in store.query_rows(
        "SELECT Size, toUnixTimestamp64Micro(min(CreatedAt)) / 1e6 FROM ldv_tlog_checkpoints GROUP BY Size ORDER BY Size", {})]  # fmt: skip
    store.close()
    latencies = []
    for i, ack in acks.items():
        top = max(index[s] for s in span_ids[i])
        covering = next(at for size, at in checkpoints if size > top)
        latencies.append(covering - ack)
    latencies.sort()
    total = sum(len(s) for s in span_ids)
    print(f"2. checkpoint latency, {len(bodies)} requests ({total} spans, {total / wall:,.0f} spans/s), {len(checkpoints)} checkpoints: "
          f"p50 {1000 * statistics.median(latencies):.0f} ms, p95 {1000 * latencies[int(0.95 * len(latencies))]:.0f} ms, "
          f"max {1000 * latencies[-1]:.0f} ms (ack at the client to the checkpoint's CreatedAt in the store)")  # fmt: skip


def audit_rate(tables: list[pa.Table], records: int, data_dir: Path) -> None:
    """`audit_store` over `records` records written through the log into `data_dir` (a store
    already there is audited as it is: the same store for a before/after run of two checkouts)."""
    built = data_dir.exists()
    store = LogStore(connect(f"chdb://{data_dir}"))
    store.migrate()
    if not built:
        log = TransparencyLog.open(store, Signer.generate("bench.local/audit"))
        batch = pa.concat_tables(tables)
        written = 0
        while written < records:
            part = batch.slice(0, min(batch.num_rows, records - written, 8192))
            staged = log.stage(part)
            store.insert_record_rows(staged.table)
            log.commit(staged)
            written += part.num_rows
        log.sign_checkpoint()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    report = audit_store(store)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    assert report.ok, report.lines()
    print(
        f"3. audit of {report.records_checked} records: {wall:.1f} s wall, {cpu:.1f} s CPU of this process: "
        f"{report.records_checked / wall:,.0f} records/s, {1e6 * cpu / max(1, report.records_checked):.1f} us of CPU a record "
        f"(load {os.getloadavg()[0]:.1f})"
    )
    store.close()


def proofs(leaves: int, data_dir: Path, chunk: int = 1_000_000) -> None:
    store = LogStore(connect(f"chdb://{data_dir}"))
    store.migrate()
    origin = "bench.local/proofs"
    nodes: list[tuple[int, int, bytes]] = []
    compact = CompactRange(
        on_node=lambda lvl, idx, h: nodes.append((lvl, idx, h)), report_levels=frozenset({8, 16, 24, 32})
    )
    t0 = time.perf_counter()
    for start in range(0, leaves, chunk):
        n = min(chunk, leaves - start)
        raw = os.urandom(ENTRY_SIZE * n)
        hashes = leaf_hashes([raw[i : i + ENTRY_SIZE] for i in range(0, len(raw), ENTRY_SIZE)])
        compact.extend(hashes)
        LogTables(store, origin).insert_leaves(start, raw, b"".join(hashes))
    LogTables(store, origin).insert_nodes(nodes)
    with store.writer_lock:
        store.client.command(f"OPTIMIZE TABLE {LEAVES_TABLE} FINAL")
    build = time.perf_counter() - t0
    root = compact.root()
    tables = LogTables(store, origin)
    assert tree_root(StoredTree(tables, leaves), leaves) == root
    rng = random.Random(5)
    samples = [rng.randrange(leaves) for _ in range(200)]

    def timed(make: Callable[[int], list[bytes]]) -> tuple[list[float], list[int]]:
        times, sizes = [], []
        for i in samples:
            t0 = time.perf_counter()
            proof = make(i)
            times.append(time.perf_counter() - t0)
            sizes.append(32 * len(proof))
        times.sort()
        return times, sizes

    def tile_by_tile(tree: StoredTree, i: int) -> list[bytes]:
        # Before: the entry, then one query per tile the proof touches (as the endpoint did).
        tables.leaves(i, i + 1)
        return inclusion_proof(tree, i, leaves)

    before_cold, sizes = timed(lambda i: tile_by_tile(StoredTree(tables, leaves), i))
    shared = StoredTree(tables, leaves, cache_tiles=4096)
    for i in samples[:50]:
        tile_by_tile(shared, i)  # warm the upper tiles
    before_warm, _ = timed(lambda i: tile_by_tile(shared, i))
    after_cold, _ = timed(lambda i: StoredTree(tables, leaves).proof(i)[1])
    shared = StoredTree(tables, leaves, cache_tiles=4096)
    for i in samples[:50]:
        shared.proof(i)
    after_warm, _ = timed(lambda i: shared.proof(i)[1])
    for i in samples[:20]:
        entry, proof = StoredTree(tables, leaves).proof(i)
        assert verify_inclusion(i, leaves, leaf_hashes([entry])[0], proof, root)
    # Through the API: GET /log/<id>/proof/<index> of the tlog-tiles app on a real HTTP server,
    # against a signed checkpoint of the whole tree (its tile cache warms as requests come):
    # first with the store only (one query a proof), then with the full tiles copied to files.
    signer = Signer.generate(origin)
    checkpoint = Checkpoint(origin, leaves, root)
    tables.save_checkpoint(checkpoint, sign_note(checkpoint.text, signer))
    files = store.tile_files
    assert files is not None
    store.tile_files = None
    store_times, _ = through_api(store, origin, samples)
    t0 = time.perf_counter()
    c0 = time.process_time()
    copied = TileMirror(store, files).run_once()
    copy_s, copy_cpu = time.perf_counter() - t0, time.process_time() - c0
    store.tile_files = files
    http_times, floor_http = through_api(store, origin, samples)
    floor_http = sorted(floor_http[50:])
    floor_query = []
    for _ in range(300):
        t0 = time.perf_counter()
        store.query_rows("SELECT 1", {})
        floor_query.append(time.perf_counter() - t0)
    floor_query = sorted(floor_query[50:])

    def pct(values: list[float]) -> str:
        return f"p50 {1000 * statistics.median(values):.1f} ms, p95 {1000 * values[int(0.95 * len(values))]:.1f} ms"

    print(
        f"4. {leaves:,} leaves (built in {build:.0f} s): inclusion proof {max(sizes)} bytes at most "
        f"({max(sizes) // 32} hashes; a receipt with its checkpoint and one cosignature ~{max(sizes) * 4 // 3 + 400} bytes)"
    )
    print(f"   before (entry + one query per tile): cold {pct(before_cold)}; shared cache {pct(before_warm)}")
    print(f"   after (entry and hashes in one query): cold {pct(after_cold)}; shared cache {pct(after_warm)}")
    print(f"   through the API (GET /log/<id>/proof/<i>, HTTP, checkpoint read included), store only: {pct(store_times)}")
    print(
        f"   full tiles copied to files (TileMirror.run_once): {copied:,} leaves in {copy_s:.1f} s "
        f"({copy_cpu:.1f} s of this process's CPU)"
    )
    print(f"   through the API with the tile files: {pct(http_times)}")
    print(f"   floors: the app without the store (HTTP 400) {pct(floor_http)}; `SELECT 1` on the store {pct(floor_query)}")
    store.close()


def through_api(store: LogStore, origin: str, samples: list[int]) -> tuple[list[float], list[float]]:
    """Proof times of `samples` through a real HTTP server of the tlog-tiles app (the second round,
    and the first after its 50th request), sorted; and the app's answer without the store (a 400)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_log_app(store), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    times, floor = [], []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/{log_id(origin)}", timeout=30) as client:
        for round_ in range(2):
            for i in samples:
                t0 = time.perf_counter()
                response = client.get(f"/proof/{i}")
                elapsed = time.perf_counter() - t0
                assert response.status_code == 200, response.text
                if round_ == 1 or i in samples[50:]:
                    times.append(elapsed)
        # The floor on this machine: the same app's answer without the store (a 400 for a bad index).
        for _ in range(300):
            t0 = time.perf_counter()
            client.get("/proof/x")
            floor.append(time.perf_counter() - t0)
    server.should_exit = True
    thread.join()
    return sorted(times), floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records written through the log for the audit")
    parser.add_argument("--leaves", type=int, default=1_000_000, help="leaves for the proof measurement")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--only", choices=("writer", "latency", "audit", "proofs"), default=None)
    parser.add_argument(
        "--audit-store", type=Path, default=None,
        help="the audit's store: built there when missing, else audited as it is (run twice, alternately, "
        "with PYTHONPATH=<another checkout>/logboek/src for a before/after)",
    )
    args = parser.parse_args()
    bodies = list(synthetic_bodies(args.requests * args.spans, args.spans, seed=11))
    print(
        f"{os.cpu_count()} cores; load {Path('/proc/loadavg').read_text().split()[0]} (a machine shared with other work)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tables = rows_of(bodies)
        if args.only in (None, "writer"):
            writer_cost(tables, Path(tmp) / "writer")
        if args.only in (None, "latency"):
            checkpoint_latency(bodies, args.senders, Path(tmp) / "latency")
        if args.only in (None, "audit"):
            audit_rate(tables, args.records, args.audit_store or Path(tmp) / "audit")
        if args.only in (None, "proofs"):
            proofs(args.leaves, Path(tmp) / "proofs")


if __name__ == "__main__":
    main()
