"""Benchmark: a citizen's lookup and a trace lookup through the read API, by days retained and layout.

    .venv/bin/python bench/lookup.py [--records 200000] [--days 30 365] [--schemas 4 5] [--lookups 100]

For every schema version in `--schemas` and every spread in `--days`, in one run:
1. Starts `ldv serve` as a subprocess on a fresh data dir, trusting a token issuer of this
   process (an ES256 key made per run). Schema 4 is the layout before migration 5 (daily
   partitions, granularity 8192, full-copy trace projection): the child process is the same
   `ldv serve` with its migration list cut at that version (`--schemas 4`), nothing else changed.
2. Fills it over OTLP/HTTP (4 senders) with `--records` synthetic LDV spans
   (`ldv_suite.synthetic`), their start times spread over the last `days` days, oldest first
   (each request a slice of that time, as a store fills while the days pass), about 10 records
   per data subject, each subject's records spread over the whole time. Reports the fill rate and the RSS of `ldv serve` after it.
3. Idle, with every store running, taking turns (one lookup of each kind per store, then the
   next): `--lookups` subject lookups and as many trace lookups as a supervisor
   (`POST /lezenapi/v1/processing-activities`), each for a subject or trace not asked before
   (ClickHouse's query condition cache would make a repeated lookup look fast), every one checked
   to return the records that were sent. The floor: `GET /lezenapi/v1/health`, the same stack's
   cheapest store read.
4. Under ingest: the same number of lookups of other subjects and traces while one sender
   keeps posting 512-span requests of live traffic (the last minute, the same subjects).

5. With `--engine-rows N` (default 1,000,000; 0 skips), in this process on an embedded store of
   schema 5 holding N generated records over 365 days: the cost of retention (the oldest ~1 %
   expire; the CPU and wall time of the TTL merge that deletes them, which rewrites the part)
   and of read-time dedup (the subject lookup's SQL with and without `LIMIT 1 BY TraceId,
   SpanId`, first-time subjects, query condition cache off).

With `--fill store` (for 10M records in reasonable time) step 2 writes the records in this
process, before `ldv serve` starts on the data dir: the same generated OTLP requests go
through the collector's `Ingester` (decode, checks, rows) and its `GroupCommitWriter` with the
transparency log (retention, leaves, a signed checkpoint at the end: `ldv serve` opens the log
and finds it consistent), in inserts of 65,536 records. Only schema 5 (the current layout).
The lookups' subjects are counted from the rows; traces from every 64th request (a trace's
spans are all in one request). Then `ldv serve` starts and is measured as above, and the
issue #18 lines are printed: ingest per server CPU-second (a phase of its own: `--busy-records`
posted flat out by 4 senders, the server's CPU from /proc; compared with
`--baseline-spans-per-cpu-s` when given), RSS after the fill (<= 1.5 GiB at 10M), and p95 under
ingest at a quarter of that rate (<= 1.5x idle) and flat out (<= 3x).

Every request opens its own connection (one httpx client without keep-alive: the figures
carry neither a keep-alive delay nor the client's own set-up).
Prints p50/p95 in ms and the ratios issue 11 targets: p50 <= 10 ms; 365-day / 30-day p50 <= 1.2;
p95 under ingest <= 1.5x idle; lookup p50 <= 3x the floor.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ingest import free_port  # bench/ingest.py: the same helpers, not a copy
from jwt.algorithms import ECAlgorithm
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ldv_logboek import attributes as attr
from ldv_suite.synthetic import synthetic_bodies

ISSUER = "https://inlog.bench.example"
AUDIENCE = "https://logboek.bench.example/lezenapi/v1"
SPANS_PER_REQUEST = 512
RECORDS_PER_SUBJECT = 10  # per pseudonym: each BSN is pseudonymised per organisation (4 of them)
READY_SECONDS = 120

# `ldv serve` with the records layout of an older schema, same code: the layout migrations after
# `last` (up to 5, the current layout) are left out; later ones (6, the transparency log, which
# the collector's writer needs) are applied as usual.
_SERVE_AT_SCHEMA = """
import sys
from ldv_logboek.storage import _schema as schema
last = int(sys.argv.pop(1))
switch_interval_ms = sys.argv.pop(1)
if switch_interval_ms != "-":  # the interpreter's switch interval `ldv serve` sets (ldv_suite.server)
    import ldv_suite.server
    ldv_suite.server.SWITCH_INTERVAL_S = float(switch_interval_ms) / 1000
schema.migrate.__defaults__ = (tuple(m for m in schema.MIGRATIONS if m.version <= last or m.version > 5),)
if last < 5:  # daily partitions: one group commit of records over the year spans more than 100 days
    from ldv_logboek.storage import _store
    insert = _store.insert_arrow_into
    def insert_arrow_into(client, name, table, embedded=None):
        if embedded is None:
            return insert(client, name, table)
        quoted = ", ".join(f"`{c}`" for c in table.schema.names)
        # chDB's Python() finds `table` among this frame's local variables.
        sql = f"INSERT INTO {name} ({quoted}) SELECT * FROM Python(table)"
        embedded.query(sql + " SETTINGS max_partitions_per_insert_block = 0")
    _store.insert_arrow_into = insert_arrow_into
from ldv_suite.cli import app
sys.argv[0] = "ldv"
app()
"""


class Issuer:
    """A token issuer of this run: an EC key pair; the server trusts its JWKS."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self, path: Path) -> Path:
        jwk = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        path.write_text(json.dumps({"keys": [{**jwk, "kid": "bench", "use": "sig", "alg": "ES256"}]}))
        return path

    def supervisor_token(self) -> str:
        now = int(time.time())
        claims = {"sub": "bench", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600, "roles": ["supervisor"]}
        pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return jwt.encode(claims, pem, algorithm="ES256", headers={"kid": "bench"})


@dataclass
class Serve:
    """One `ldv serve` subprocess at `schema`, on free loopback ports."""

    data_dir: Path
    schema: int
    issuer: Issuer
    switch_interval_ms: float | None = None  # None: what `ldv serve` sets
    otlp_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Serve:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        jwks = self.issuer.jwks(self.data_dir.parent / f"jwks-{self.api_port}.json")
        env = {**os.environ, "LDV_AUTH_JWKS_FILE": str(jwks), "LDV_AUTH_ISSUER": ISSUER, "LDV_AUTH_AUDIENCE": AUDIENCE}
        cmd = [sys.executable, "-c", _SERVE_AT_SCHEMA, str(self.schema),
               "-" if self.switch_interval_ms is None else str(self.switch_interval_ms), "serve", "--data-dir", str(self.data_dir),
               "--otlp-http-port", str(self.otlp_port), "--api-port", str(self.api_port),
               "--otlp-grpc-port", str(free_port()), "--clickhouse-port", str(free_port())]  # fmt: skip
        self.log = (self.data_dir.parent / f"serve-{self.api_port}.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = Path(self.log.name).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"ldv serve exited with {self.proc.returncode}:\n{log}")
            try:
                if httpx.get(f"{self.api}/lezenapi/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("ldv serve did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(120)
        self.log.close()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def traces_url(self) -> str:
        return f"http://127.0.0.1:{self.otlp_port}/v1/traces"

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def post(self, body: bytes) -> None:
        response = httpx.post(self.traces_url, content=body, headers={"Content-Type": "application/x-protobuf"}, timeout=120)
        if response.status_code != 200 or ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans:
            raise RuntimeError(f"export refused: {response.status_code} {response.content[:200]!r}")


FILL_BATCH = 65_536  # records per insert of the in-process fill
TRACE_SAMPLE = 64  # the in-process fill keeps the traces of every 64th request


def fill_store(data_dir: Path, bodies: Iterator[bytes], contents: Contents) -> tuple[float, float]:
    """Write `bodies` into a fresh store at `data_dir` in this process, as the collector would
    (`Ingester`, `GroupCommitWriter` with the transparency log), counting subjects (all) and
    traces (a sample) into `contents`; records per wall second and per CPU second."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ldv_collector import CollectorSettings, GroupCommitWriter
    from ldv_collector._decode import Encoding, decode_request
    from ldv_collector._ingest import Ingester
    from ldv_logboek.storage import LogStore, TransparencyLog, connect
    from ldv_logboek.tlog import load_signer
    from ldv_suite.server import ensure_log_key

    store = LogStore(connect(f"chdb://{data_dir}"))
    store.migrate()
    log = TransparencyLog.open(store, load_signer(str(ensure_log_key(data_dir))))
    writer = GroupCommitWriter(store, max_batch_records=FILL_BATCH, max_batch_wait_ms=0, log=log)
    writer.start()
    ingester = Ingester(CollectorSettings())
    wall0, cpu0 = time.perf_counter(), time.process_time()
    pending: list[pa.Table] = []
    held = stored = 0

    def flush() -> None:
        nonlocal held, stored
        if pending:
            writer.submit(pa.concat_tables(pending)).result()
            stored += held
            pending.clear()
            held = 0

    try:
        for i, body in enumerate(bodies):
            rows = ingester.ingest(decode_request(body, Encoding.PROTOBUF)).rows
            if rows is None or not rows.num_rows:
                continue
            subjects = pc.value_counts(pc.map_lookup(rows.column("SpanAttributes"), attr.DATA_SUBJECT_ID, "last"))
            for item in subjects.to_pylist():
                if item["values"]:
                    contents.by_subject[item["values"]] = contents.by_subject.get(item["values"], 0) + item["counts"]
            if i % TRACE_SAMPLE == 0:
                for item in pc.value_counts(rows.column("TraceId")).to_pylist():
                    contents.by_trace[item["values"]] = item["counts"]
            pending.append(rows)
            held += rows.num_rows
            if held >= FILL_BATCH:
                flush()
        flush()
        log.sign_checkpoint()
    finally:
        writer.stop()
        store.close()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return stored / wall, stored / cpu


@dataclass
class Contents:
    """What the bodies hold: records per data subject and per trace, to pick lookups and check answers."""

    by_subject: dict[str, int] = field(default_factory=dict)
    by_trace: dict[str, int] = field(default_factory=dict)

    def add(self, body: bytes) -> None:
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    trace = span.trace_id.hex()
                    self.by_trace[trace] = self.by_trace.get(trace, 0) + 1
                    for kv in span.attributes:
                        if kv.key == attr.DATA_SUBJECT_ID:
                            subject = kv.value.string_value
                            self.by_subject[subject] = self.by_subject.get(subject, 0) + 1


def fill(serve: Serve, bodies: list[bytes], spans: int, senders: int) -> float:
    """Post every body from `senders` threads; spans per second."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def send() -> None:
        while True:
            with lock:
                if not queue or failures:
                    return
                body = queue.pop()
            try:
                serve.post(body)
            except BaseException as exc:  # noqa: BLE001 - reported after the threads end
                failures.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=send) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return spans / (time.perf_counter() - start)


def timed(call: Callable[[], httpx.Response], check: Callable[[httpx.Response], None]) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    check(response)
    return elapsed * 1000


def lookups(
    serve: Serve, token: str, subjects: list[tuple[str, int]], traces: list[tuple[str, int]], *, growing: bool = False
) -> tuple[list[float], list[float]]:
    """ms of every subject and every trace lookup; each answer must hold the records sent (at least
    those, when `growing`: a sender adds records of the same subjects meanwhile)."""
    url = f"{serve.api}/lezenapi/v1/processing-activities"
    headers = {"Authorization": f"Bearer {token}"}
    client = fresh_connections()

    def expect(count: int) -> Callable[[httpx.Response], None]:
        def check(response: httpx.Response) -> None:
            if response.status_code != 200:
                raise RuntimeError(f"lookup failed: {response.status_code} {response.text[:300]}")
            found = len(response.json()["processingActivities"])
            if found < min(count, 100) or (found != min(count, 100) and not growing):
                raise RuntimeError(f"lookup found {found} records, {count} were sent")

        return check

    subject_ms = [
        timed(lambda s=s: client.post(url, json={attr.DATA_SUBJECT_ID: s}, headers=headers, timeout=30), expect(n))
        for s, n in subjects
    ]
    trace_ms = [
        timed(lambda t=t: client.post(url, json={"traceId": t}, headers=headers, timeout=30), expect(n)) for t, n in traces
    ]
    return subject_ms, trace_ms


def floor(serve: Serve, count: int, path: str = "/lezenapi/v1/health") -> list[float]:
    """ms of `count` GETs of `path`: the health check (the cheapest store read) or the OpenAPI
    document (the stack's own floor: no store, no token)."""

    def ok(response: httpx.Response) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")

    client = fresh_connections()
    return [timed(lambda: client.get(f"{serve.api}{path}", timeout=30), ok) for _ in range(count)]


def fresh_connections() -> httpx.Client:
    """A client that opens a new connection for every request (no keep-alive)."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))


def p(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Result:
    schema: int
    days: int
    serve: Serve
    subjects: list[tuple[str, int]]  # 3 x lookups: idle, under ingest at a quarter of the rate, flat out
    traces: list[tuple[str, int]]
    extra: list[bytes]
    fill_rate: float = 0.0
    fill_cpu_rate: float = 0.0  # records per CPU second of the in-process fill (0: filled over OTLP)
    ingest_rate: float = 0.0  # the ingest phase: spans per wall second, flat out, over OTLP
    ingest_per_cpu_s: float = 0.0  # and per CPU second of `ldv serve`
    rss_mib: float = 0.0
    parts: int = 0
    subject: list[float] = field(default_factory=list)
    trace: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    openapi: list[float] = field(default_factory=list)
    subject_busy: list[float] = field(default_factory=list)
    trace_busy: list[float] = field(default_factory=list)
    subject_quarter: list[float] = field(default_factory=list)  # under ingest at a quarter of `ingest_rate`
    trace_quarter: list[float] = field(default_factory=list)


def filled(
    schema: int, days: int, args: argparse.Namespace, issuer: Issuer, tmp: Path, switch_interval_ms: float | None = None
) -> Result:
    """A running `ldv serve` at `schema`, filled with records over `days` days."""
    subjects = max(1, args.records // (RECORDS_PER_SUBJECT * 4))
    # Filled oldest first, as a store fills while the days pass; the sender under ingest sends
    # live traffic (the last minute), about the same subjects.
    spread = days * 86_400
    generated = synthetic_bodies(args.records, SPANS_PER_REQUEST, seed=days, spread_seconds=spread, subjects=subjects, in_time_order=True)
    extra = list(synthetic_bodies(args.busy_records, SPANS_PER_REQUEST, seed=days + 1, subjects=subjects))
    contents = Contents()
    serve = Serve(tmp / f"s{schema}-d{days}-i{switch_interval_ms}" / "data", schema, issuer, switch_interval_ms)
    fill_rate = fill_cpu_rate = 0.0
    bodies: list[bytes] = []
    if args.fill == "store":
        if schema != 5:
            raise SystemExit("--fill store writes the current layout only: use --schemas 5")
        fill_rate, fill_cpu_rate = fill_store(serve.data_dir, generated, contents)
    else:
        bodies = list(generated)
        for body in bodies:
            contents.add(body)
    rng = random.Random(days)
    result = Result(
        schema, days, serve,
        rng.sample(sorted(contents.by_subject.items()), 3 * args.lookups),
        rng.sample(sorted(contents.by_trace.items()), 3 * args.lookups), extra,
    )  # fmt: skip
    result.fill_rate, result.fill_cpu_rate = fill_rate, fill_cpu_rate
    result.serve.__enter__()
    try:
        if bodies:
            result.fill_rate = fill(result.serve, bodies, sum(contents.by_trace.values()), senders=4)
    except BaseException:
        result.serve.__exit__()  # not among the results yet: main's cleanup would leave it running
        raise
    return result


def measure(results: list[Result], args: argparse.Namespace, issuer: Issuer) -> None:
    """Idle lookups interleaved over every store (a shared machine's load then falls on all
    alike), then each store's lookups under ingest in turn."""
    token = issuer.supervisor_token()
    n = args.lookups
    for i in range(n):
        for r in results:
            r.floor += floor(r.serve, 1)
            r.openapi += floor(r.serve, 1, "/lezenapi/v1/openapi.json")
            subject_ms, trace_ms = lookups(r.serve, token, r.subjects[i : i + 1], r.traces[i : i + 1])
            r.subject += subject_ms
            r.trace += trace_ms
    for r in results:
        # The ingest phase: the store's rate over OTLP, flat out, and the server's CPU for it.
        cpu0 = server_cpu_s(r.serve)
        r.ingest_rate = fill(r.serve, r.extra, args.busy_records, senders=4)
        r.ingest_per_cpu_s = args.busy_records / max(1e-9, server_cpu_s(r.serve) - cpu0)
        # Lookups of records that were there before; the new records only add to the store.
        r.subject_quarter, r.trace_quarter = busy_lookups(r, token, r.subjects[n : 2 * n], r.traces[n : 2 * n], r.ingest_rate / 4)
        r.subject_busy, r.trace_busy = busy_lookups(r, token, r.subjects[2 * n :], r.traces[2 * n :], None)


def server_cpu_s(serve: Serve) -> float:
    """CPU seconds `ldv serve` used so far, all its threads (chDB's included)."""
    assert serve.proc is not None
    fields = Path(f"/proc/{serve.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_lookups(
    r: Result, token: str, subjects: list[tuple[str, int]], traces: list[tuple[str, int]], rate: float | None
) -> tuple[list[float], list[float]]:
    """The lookups while one sender posts `r.extra` again and again: at `rate` spans/s, or flat out (None)."""
    stop = threading.Event()
    sent = [0]

    def keep_sending() -> None:
        began = time.monotonic()
        for body in cycle(r.extra):
            if stop.is_set():
                return
            r.serve.post(body)
            sent[0] += 1
            if rate:
                ahead = began + sent[0] * SPANS_PER_REQUEST / rate - time.monotonic()
                if ahead > 0:
                    stop.wait(ahead)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        found = lookups(r.serve, token, subjects, traces, growing=True)
    finally:
        stop.set()
        sender.join()
    if sent[0] == 0:
        raise RuntimeError("the sender stored nothing while the lookups ran")
    return found


def active_parts(data_dir: Path) -> int:
    """Active parts of the records table in a store no process has open."""
    from ldv_logboek.storage import LogStore, connect
    from ldv_logboek.storage._schema import RECORDS_TABLE

    store = LogStore(connect(f"chdb://{data_dir}"))
    try:
        return int(store.query_rows(f"SELECT count() FROM system.parts WHERE table = '{RECORDS_TABLE}' AND active")[0][0])
    finally:
        store.close()


# N generated records over the last 365 days, ~10 per subject, 2 per trace, the attribute maps
# of a real LDV record (sizes as ldv_suite.synthetic's): rows for engine-side costs only.
_GENERATED_ROWS = """
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, SpanAttributes, Duration, StatusCode, RetentionDays)
SELECT
    now64(9) - toIntervalMillisecond(cityHash64(number, 5) % (365 * 86400000)) AS Timestamp,
    lower(hex(cityHash64(intDiv(number, 2)))) || lower(hex(cityHash64(intDiv(number, 2), 7))),
    lower(hex(cityHash64(number, 3))), lower(hex(cityHash64(intDiv(number, 2), 9))),
    ['aanvraag beoordelen', 'inkomen opvragen', 'toeslag berekenen'][number % 3 + 1], 'Internal', 'toeslagen-berekening',
    map('service.name', 'toeslagen-berekening', 'dpl.suite.organisation', 'dienst-toeslagen', 'service.version', '1.4.2'),
    'ldv-synthetic',
    map('dpl.core.processing_activity_id',
        'https://register.toeslagen.example/processing-activities/' || ['huurtoeslag', 'zorgtoeslag', 'bijstand'][number % 3 + 1],
        'dpl.core.data_subject_id', 'hmac-sha256:' || lower(hex(SHA256(toString(cityHash64(number, 11) % {subjects})))),
        'dpl.core.data_subject_id_type', 'BSN', 'dpl.core.foreign_operation.processor', 'https://burger.example/portaal',
        'http.request.method', 'POST'),
    1000000 + number % 49000000, 'Ok', 3650
FROM numbers({rows})
"""


def engine_costs(rows: int, tmp: Path, lookups: int) -> None:
    """Retention and dedup costs of schema 5, measured in the engine (see the module's docstring)."""
    from ldv_logboek.storage import LogStore, connect
    from ldv_logboek.storage._schema import READ_SETTINGS, RECORDS_TABLE

    store = LogStore(connect(f"chdb://{tmp / 'engine'}"))
    store.migrate()
    client = store.client
    client.command(_GENERATED_ROWS.format(rows=rows, subjects=max(1, rows // 10)))
    client.command(f"OPTIMIZE TABLE {RECORDS_TABLE} FINAL")

    def parts() -> int:
        return int(client.query(f"SELECT count() FROM system.parts WHERE table = '{RECORDS_TABLE}' AND active").result_rows[0][0])

    # Dedup: the read path's subject lookup with and without LIMIT 1 BY, first-time subjects.
    subjects = [r[0] for r in client.query(
        f"SELECT DataSubjectId FROM {RECORDS_TABLE} GROUP BY DataSubjectId ORDER BY cityHash64(DataSubjectId) LIMIT {2 * lookups}"
    ).result_rows]  # fmt: skip
    base = (f"SELECT * FROM {RECORDS_TABLE} WHERE DataSubjectId = {{s:String}} ORDER BY Timestamp, TraceId, SpanId "
            "{dedup} LIMIT 101 SETTINGS " + READ_SETTINGS + ", use_query_condition_cache = 0")  # fmt: skip
    timings: dict[str, list[float]] = {"with LIMIT 1 BY": [], "without": []}
    for i, subject in enumerate(subjects):
        kind = "with LIMIT 1 BY" if i % 2 == 0 else "without"
        sql = base.replace("{dedup}", "LIMIT 1 BY TraceId, SpanId" if kind == "with LIMIT 1 BY" else "")
        start = time.perf_counter()
        client.query(sql, parameters={"s": subject})
        timings[kind].append((time.perf_counter() - start) * 1000)
    print(f"dedup, {rows:,} records, {parts()} part(s), subject lookup in the engine p50: "
          + ", ".join(f"{k} {p(v, .5):.1f} ms" for k, v in timings.items()))  # fmt: skip

    # Retention: the oldest ~1 % of the records (older than 361 days) are kept 360 days, the rest
    # 3,650. Stored with TTL merges stopped, then the background's TTL merge deletes them.
    client.command(f"TRUNCATE TABLE {RECORDS_TABLE}")
    client.command(f"SYSTEM STOP TTL MERGES {RECORDS_TABLE}")
    generated = _GENERATED_ROWS.format(rows=rows, subjects=max(1, rows // 10))
    client.command(generated.replace(", 3650\n", ", if(Timestamp < now64(9) - toIntervalDay(361), 360, 3650)\n"))
    stored = int(client.query(f"SELECT count() FROM {RECORDS_TABLE}").result_rows[0][0])
    if stored != rows:
        raise RuntimeError(f"{rows - stored} records deleted before the TTL merge was measured")
    expired = int(client.query(f"SELECT countIf(RetentionDays = 360) FROM {RECORDS_TABLE}").result_rows[0][0])
    settled = parts()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    client.command(f"SYSTEM START TTL MERGES {RECORDS_TABLE}")
    left = rows
    while left > rows - expired and time.perf_counter() - wall0 < 600:
        time.sleep(0.05)
        left = int(client.query(f"SELECT count() FROM {RECORDS_TABLE}").result_rows[0][0])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"retention, {rows:,} records in {settled} part(s): the TTL merge deleting the oldest {expired:,} "
          f"({100 * expired / rows:.1f} %) took {wall:.1f} s wall, {cpu:.1f} s CPU; {left:,} records left "
          f"(expected {rows - expired:,})")  # fmt: skip
    store.close()


def cycle(items: list[bytes]) -> Iterator[bytes]:
    while True:
        yield from items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per store")
    parser.add_argument("--days", type=int, nargs="+", default=[30, 365], help="days the records are spread over")
    parser.add_argument("--schemas", type=int, nargs="+", default=[4, 5], help="schema versions (layouts) to compare")
    parser.add_argument("--lookups", type=int, default=100, help="lookups of each kind, idle and under ingest")
    parser.add_argument("--busy-records", type=int, default=50_000, help="records the sender cycles through while lookups run")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds between the fill and the lookups")
    parser.add_argument("--switch-intervals-ms", type=float, nargs="+", default=None,
                        help="also compare `ldv serve` at these interpreter switch intervals (one store each; 5: CPython's default)")
    parser.add_argument("--engine-rows", type=int, default=1_000_000, help="records for the retention and dedup costs (0: skip)")
    parser.add_argument("--fill", choices=["otlp", "store"], default="otlp",
                        help="fill over OTLP/HTTP through ldv serve, or in this process through the collector's writer before it starts (10M)")
    parser.add_argument("--baseline-spans-per-cpu-s", type=float, default=None,
                        help="today's ingest per server CPU-second, to judge the ingest phase against (-10 %% tolerance)")  # fmt: skip
    args = parser.parse_args()
    issuer = Issuer()
    print(f"{args.records:,} records per store, ~{RECORDS_PER_SUBJECT} per data subject; {args.lookups} first-time "
          f"lookups of each kind; {os.cpu_count()} cores, load {Path('/proc/loadavg').read_text().split()[0]}")  # fmt: skip
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for schema in args.schemas:
                for days in args.days:
                    for interval in args.switch_intervals_ms or [None]:
                        results.append(filled(schema, days, args, issuer, Path(tmp), interval))
                        how = (f" in this process ({results[-1].fill_cpu_rate:,.0f} per CPU-second)"
                               if results[-1].fill_cpu_rate else " over OTLP/HTTP")  # fmt: skip
                        print(f"  schema {schema}, {days} days{label(results[-1])}: filled at {results[-1].fill_rate:,.0f} spans/s{how}", flush=True)
            time.sleep(args.settle)  # let the merges of the fill run, as they would in a store that lives
            for r in results:
                r.rss_mib = r.serve.rss_mib()
            measure(results, args, issuer)
        finally:
            for r in results:
                r.serve.__exit__()
        for r in results:
            r.parts = active_parts(r.serve.data_dir)
            print(f"  schema {r.schema}, {r.days} days{label(r)}: ldv serve RSS {r.rss_mib:,.0f} MiB after the fill; "
                  f"{r.parts} active parts of the records table at the end", flush=True)  # fmt: skip
        if args.engine_rows:
            engine_costs(args.engine_rows, Path(tmp), args.lookups)
    print()
    print(f"{'schema':>6} {'days':>5} | {'subject p50':>11} {'p95':>6} | {'trace p50':>9} {'p95':>6} | {'floor p50':>9} | "
          f"{'busy subj p50':>13} {'p95':>6} | {'busy trace p50':>14} {'p95':>6}   (ms)")  # fmt: skip
    for r in results:
        print(f"{r.schema:>6} {r.days:>5} | {p(r.subject, .5):>11.1f} {p(r.subject, .95):>6.1f} | {p(r.trace, .5):>9.1f} "
              f"{p(r.trace, .95):>6.1f} | {p(r.floor, .5):>9.1f} | {p(r.subject_busy, .5):>13.1f} {p(r.subject_busy, .95):>6.1f} | "
              f"{p(r.trace_busy, .5):>14.1f} {p(r.trace_busy, .95):>6.1f}{label(r)}")  # fmt: skip
    print()
    for schema, interval in [(s, i) for s in args.schemas for i in args.switch_intervals_ms or [None]]:
        mine = [r for r in results if r.schema == schema and r.serve.switch_interval_ms == interval]
        first, last = mine[0], mine[-1]
        for r in mine:
            worst = max(p(r.subject, .5), p(r.trace, .5))
            print(f"schema {schema}, {r.days} days{label(r)}: lookup p50 {worst:.1f} ms (target <= 10 ms: {verdict(worst <= 10)}); "
                  f"lookup / floor {worst / p(r.floor, .5):.2f}x (target <= 3x: {verdict(worst <= 3 * p(r.floor, .5))}); "
                  f"p95 under ingest / idle: subject {p(r.subject_busy, .95) / p(r.subject, .95):.2f}x, "
                  f"trace {p(r.trace_busy, .95) / p(r.trace, .95):.2f}x (flat out; target <= 3x: "
                  f"{verdict(max(p(r.subject_busy, .95) / p(r.subject, .95), p(r.trace_busy, .95) / p(r.trace, .95)) <= 3)})")  # fmt: skip
            quarter = max(p(r.subject_quarter, .95) / p(r.subject, .95), p(r.trace_quarter, .95) / p(r.trace, .95))
            print(f"schema {schema}, {r.days} days{label(r)}: p95 under ingest at a quarter of the ingest rate "
                  f"({r.ingest_rate / 4:,.0f} spans/s) / idle: subject {p(r.subject_quarter, .95) / p(r.subject, .95):.2f}x, "
                  f"trace {p(r.trace_quarter, .95) / p(r.trace, .95):.2f}x (target <= 1.5x: {verdict(quarter <= 1.5)})")  # fmt: skip
            if args.baseline_spans_per_cpu_s:
                ratio = r.ingest_per_cpu_s / args.baseline_spans_per_cpu_s
                judged = f"{ratio:.2f}x of the baseline {args.baseline_spans_per_cpu_s:,.0f} (target >= 0.9x: {verdict(ratio >= 0.9)})"
            else:
                judged = "no baseline given (--baseline-spans-per-cpu-s)"
            print(f"schema {schema}, {r.days} days{label(r)}: ingest over OTLP flat out (4 senders, {SPANS_PER_REQUEST}-span "
                  f"requests): {r.ingest_rate:,.0f} spans/s, {r.ingest_per_cpu_s:,.0f} spans per server CPU-second; {judged}")  # fmt: skip
            print(f"schema {schema}, {r.days} days{label(r)}: ldv serve RSS after the fill of {args.records:,} records "
                  f"{r.rss_mib:,.0f} MiB (target at 10M records <= 1,536 MiB: "
                  f"{verdict(r.rss_mib <= 1536) if args.records >= 10_000_000 else 'judged at 10M only'})")  # fmt: skip
            print(f"schema {schema}, {r.days} days{label(r)}: the API's cheapest request (GET openapi.json) p50 "
                  f"{p(r.openapi, .5):.1f} ms; subject lookup / it {p(r.subject, .5) / p(r.openapi, .5):.2f}x "
                  f"(target <= 5x: {verdict(p(r.subject, .5) <= 5 * p(r.openapi, .5))})")  # fmt: skip
        if len(mine) > 1:
            ratio = statistics.mean([p(last.subject, .5) / p(first.subject, .5), p(last.trace, .5) / p(first.trace, .5)])
            print(f"schema {schema}{label(last)}: {last.days}-day / {first.days}-day p50: subject {p(last.subject, .5) / p(first.subject, .5):.2f}, "
                  f"trace {p(last.trace, .5) / p(first.trace, .5):.2f} (target <= 1.2: {verdict(ratio <= 1.2)})")  # fmt: skip


def label(r: Result) -> str:
    """How a store's `ldv serve` differs from the default, for the printed lines ('' when it does not)."""
    interval = r.serve.switch_interval_ms
    return "" if interval is None else f", switch interval {interval:g} ms"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


if __name__ == "__main__":
    main()
