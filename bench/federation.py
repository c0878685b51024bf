"""Benchmark of the federated inzage: a citizen's overview across N Logboeken, with one party slow or down.

    .venv/bin/python bench/federation.py [--parties 2 5 20] [--requests 20] [--timeout 1.0] [--slow 3.0]

Topology, all on 127.0.0.1 free ports, in three child processes (all stopped at the end):
- the *issuer* process: the demo token service (`ldv_suite.demo.token_service`, the issuer with
  the RFC 8693 token exchange);
- the *parties* process: up to 19 other Logboeken. Each is the real `ldv_inzicht` app
  (real read API, real token check with its own audience, its own organisation and
  pseudonymisation key) on its own port; they share one chDB store in that process, because
  chDB allows one data directory per process and 19 `ldv serve` processes do not fit next to
  each other on a 2-core machine. Each party sees only its own organisation's records (its
  key). One more port serves the last party's app behind a delay of `--slow` seconds (the slow
  party); one port has nothing listening (the down party).
- the *federating* process: the Logboek with the citizen page, the real app over its own chDB
  store, once per (N, condition) on its own port, configured with the other N-1 Logboeken
  (`LDV_INZAGE_LOGBOEKEN`), the token endpoint and a federation timeout of `--timeout` seconds.

This process is the citizen: it measures, one request at a time, the citizen page
(`GET /inzage/` with the session cookie) and the inzage API (`GET /inzage/v1/mijn-verwerkingen`
with the bearer token) on the federating Logboek. Each answer is checked: every party that is
up contributes its records, the slow or down party is reported unavailable. The baseline, in the
same run, is N=1: the same overview with only the local Logboek. Conditions: all up; one party
slow (answers after `--slow` s, above the timeout); one party down (port closed).

Targets (issue 9): p95 at most 1 s for 20 organisations; a slow or down party costs no more
than the configured timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BSN = "111222333"  # a test BSN that passes the elfproef
ISSUER = "https://inlog.bench.example"
HOME = "https://logboek.thuis.example/lezenapi/v1"  # the federating Logboek
HOME_ORG = "dienst-toeslagen"
ACTIVITY = "https://register.toeslagen.example/processing-activities/huurtoeslag"
CLIENT_ID = "logboek-thuis"
CLIENT_SECRET = "bench-secret-of-the-federating-logboek"
RECORDS_PER_PARTY = 3
CONDITIONS = ("up", "slow", "down")
REPO = Path(__file__).resolve().parent.parent
READY_SECONDS = 120
UNAVAILABLE_NL = "niet beschikbaar op dit moment"  # what the page says of a Logboek that does not answer


def party_id(i: int) -> str:
    return f"https://lezen.org{i:02d}.example/lezenapi/v1"


def party_org(i: int) -> str:
    return f"org-{i:02d}"


def party_key(i: int) -> str:
    return f"bench-key-of-org-{i:02d}-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- child processes ---------------------------------------------------------------------------


def _records(org: str, key: str, count: int) -> list[Any]:
    from ldv_logboek import LogRecord, Status
    from ldv_logboek import attributes as attr
    from ldv_logboek._pseudonym import pseudonymise

    now = time.time()
    return [
        LogRecord(
            trace_id=os.urandom(16),
            span_id=os.urandom(8),
            name=f"verwerking {n} bij {org}",
            start_time_ns=int((now - 86_400 * (n + 1)) * 1e9),
            end_time_ns=int((now - 86_400 * (n + 1)) * 1e9) + 3_000_000,
            status=Status.OK,
            attributes={
                attr.PROCESSING_ACTIVITY_ID: ACTIVITY,
                attr.DATA_SUBJECT_ID: pseudonymise(BSN, key.encode()),
                attr.DATA_SUBJECT_ID_TYPE: "BSN",
            },
            resource_attributes={attr.SERVICE_NAME: f"{org}-api", attr.ORGANISATION: org},
        )
        for n in range(count)
    ]


def _store(directory: Path) -> Any:
    from ldv_logboek.register import load_register_files
    from ldv_logboek.storage import LogStore, RegisterStore, connect

    store = LogStore(connect(f"chdb://{directory}"))
    store.migrate()
    RegisterStore(store).save(load_register_files([REPO / "demo" / "register"]))
    return store


def _auth(config: dict[str, Any], audience: str) -> Any:
    from ldv_inzicht.settings import AuthSettings

    return AuthSettings(jwks_file=Path(config["jwks"]), issuer=ISSUER, audience=audience, cookie_secure=False)


class _Slow:
    """Pure ASGI wrapper: answers every HTTP request only after `delay` seconds (the slow party)."""

    def __init__(self, app: Any, delay: float) -> None:
        self.app = app
        self.delay = delay

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


def _serve(apps: list[tuple[Any, int]], ready: Path) -> None:
    """Serve every (app, port) in one event loop; write `ready` once all listen; stop on SIGTERM."""
    import uvicorn

    servers = [uvicorn.Server(uvicorn.Config(a, host="127.0.0.1", port=p, log_level="error")) for a, p in apps]
    for server in servers:
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for s in servers])
        tasks = [asyncio.create_task(s.serve()) for s in servers]
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                raise SystemExit("a server did not start")
            await asyncio.sleep(0.05)
        ready.write_text("ready")
        await asyncio.gather(*tasks)

    asyncio.run(run())


def run_parties(config: dict[str, Any]) -> None:
    from ldv_inzicht._app import create_app
    from ldv_inzicht.settings import ApiSettings

    count = config["others"]
    store = _store(Path(config["tmp"]) / "parties-store")
    for i in range(1, count + 1):
        store.insert(_records(party_org(i), party_key(i), RECORDS_PER_PARTY))
    apps: list[tuple[Any, int]] = []
    for i in range(1, count + 1):
        settings = ApiSettings(organisation_keys={party_org(i): party_key(i)})
        app = create_app(store, settings, auth_settings=_auth(config, party_id(i)))
        apps.append((app, config["party_ports"][i - 1]))
        if i == count:
            apps.append((_Slow(app, config["slow"]), config["slow_port"]))
    _serve(apps, Path(config["tmp"]) / "parties.ready")


def run_issuer(config: dict[str, Any]) -> None:
    from pydantic import SecretStr

    from ldv_suite.demo.token_service import DemoIssuer, create_token_service_app

    jwks = json.loads(Path(config["jwks"]).read_text())
    known = frozenset({HOME, *(party_id(i) for i in range(1, config["others"] + 1))})
    issuer = DemoIssuer(ISSUER, Path(config["key"]).read_bytes(), "bench", jwks, known)
    issuer.register_client(CLIENT_ID, SecretStr(CLIENT_SECRET), HOME)
    _serve([(create_token_service_app(issuer), config["token_port"])], Path(config["tmp"]) / "issuer.ready")


def run_federator(config: dict[str, Any]) -> None:
    from ldv_inzicht._app import create_app
    from ldv_inzicht.settings import ApiSettings, InzageSettings

    store = _store(Path(config["tmp"]) / "home-store")
    store.insert(_records(HOME_ORG, "bench-key-of-the-home-organisation", RECORDS_PER_PARTY))
    settings = ApiSettings(organisation_keys={HOME_ORG: "bench-key-of-the-home-organisation"})
    apps: list[tuple[Any, int]] = []
    for setup in config["setups"]:
        others = setup["others"]
        addresses = {
            party_id(i): f"http://127.0.0.1:{config['party_ports'][i - 1]}/lezenapi/v1" for i in range(1, others + 1)
        }
        if setup["condition"] != "up":
            port = config["slow_port"] if setup["condition"] == "slow" else config["down_port"]
            addresses[party_id(others)] = f"http://127.0.0.1:{port}/lezenapi/v1"
        inzage = InzageSettings(
            federation_timeout_seconds=config["timeout"],
            logboeken=tuple(addresses),
            read_api_addresses=addresses,
            token_endpoint=f"http://127.0.0.1:{config['token_port']}/token" if others else None,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )
        apps.append(
            (create_app(store, settings, auth_settings=_auth(config, HOME), inzage_settings=inzage), setup["port"])
        )
    _serve(apps, Path(config["tmp"]) / "federator.ready")


# --- the citizen: measuring --------------------------------------------------------------------


def _start(role: str, config_file: Path, ready: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, __file__, "--role", role, "--config", str(config_file)])
    deadline = time.monotonic() + READY_SECONDS
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the {role} process did not start")
        time.sleep(0.1)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def timed(fn: Callable[[], bool], requests: int) -> tuple[list[float], int]:
    """Elapsed seconds of `requests` calls of `fn` (after one warm-up call), and how many answers were short."""
    fn()
    out, short = [], 0
    for _ in range(requests):
        t0 = time.perf_counter()
        complete = fn()
        out.append(time.perf_counter() - t0)
        short += not complete
    return out, short


def api_complete(body: dict[str, Any], n: int, condition: str) -> bool:
    """The overview holds the records of every party that is up, and names the slow or down one unavailable."""
    reachable = n - 1 if condition == "up" else n - 2
    unavailable = [p for p in body["organisations"] if not p["available"]]
    wanted_unavailable = 0 if condition == "up" else 1
    return bool(body["total"] == RECORDS_PER_PARTY * (1 + reachable) and len(unavailable) == wanted_unavailable)


def page_complete(html: str, n: int, condition: str) -> bool:
    """The page names every other party that is up, and says so of the one that is not."""
    shown = sum(f"org-{i:02d}" in html for i in range(1, n))
    if condition == "up":
        return shown == n - 1 and UNAVAILABLE_NL not in html
    return shown >= n - 2 and UNAVAILABLE_NL in html


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, nargs="+", default=[2, 5, 20], help="N: Logboeken in the overview")
    parser.add_argument("--requests", type=int, default=50, help="measured requests per figure")
    parser.add_argument("--timeout", type=float, default=1.0, help="federation timeout of the federating Logboek (s)")
    parser.add_argument("--slow", type=float, default=3.0, help="delay of the slow party's answers (s)")
    parser.add_argument("--role", choices=["parties", "issuer", "federator"], help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        config = json.loads(args.config.read_text())
        {"parties": run_parties, "issuer": run_issuer, "federator": run_federator}[args.role](config)
        return 0
    if any(n < 2 for n in args.parties) or args.requests < 1 or args.slow <= args.timeout:
        parser.error("N must be at least 2, --requests at least 1, --slow above --timeout")
    return measure(args)


def measure(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    from ldv_suite.demo.token_service import DemoIssuer

    tmp = Path(tempfile.mkdtemp(prefix="ldv-bench-federation-"))
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp / "issuer.pem").write_bytes(pem)
    jwks = {
        "keys": [{**json.loads(ECAlgorithm.to_jwk(key.public_key())), "kid": "bench", "use": "sig", "alg": "ES256"}]
    }
    (tmp / "jwks.json").write_text(json.dumps(jwks))
    others = max(args.parties) - 1
    setups = [{"others": 0, "condition": "up", "port": free_port()}]
    setups += [{"others": n - 1, "condition": c, "port": free_port()} for n in args.parties for c in CONDITIONS]
    config = {
        "tmp": str(tmp), "jwks": str(tmp / "jwks.json"), "key": str(tmp / "issuer.pem"), "others": others,
        "token_port": free_port(), "party_ports": [free_port() for _ in range(others)], "slow_port": free_port(),
        "down_port": free_port(), "timeout": args.timeout, "slow": args.slow, "setups": setups,
    }  # fmt: skip
    config_file = tmp / "config.json"
    config_file.write_text(json.dumps(config))
    token = DemoIssuer(ISSUER, pem, "bench", jwks, frozenset({HOME})).login_token(BSN, HOME)

    print(f"federated inzage: N = {args.parties}, {args.requests} requests per figure, one at a time")
    print(f"configured federation timeout: {args.timeout:.2f} s; slow party answers after {args.slow:.2f} s")
    print("parties: the real ldv_inzicht read API app per Logboek, own port, audience, organisation and key;")
    print("         all other Logboeken in one process over one chDB store; the issuer (demo token service) in its own")
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[tuple[int, str], Figures] = {}
    try:
        t0 = time.perf_counter()
        for role in ("issuer", "parties", "federator"):
            processes.append(_start(role, config_file, tmp / f"{role}.ready"))
        print(
            f"started the issuer, {others} other Logboeken and {len(setups)} federating apps in {time.perf_counter() - t0:.1f} s"
        )
        print()
        print(HEADER)
        with httpx.Client(timeout=60) as client:
            for setup in setups:
                base = f"http://127.0.0.1:{setup['port']}"
                n, condition = setup["others"] + 1, setup["condition"]

                def api() -> bool:
                    answer = client.get(
                        f"{base}/inzage/v1/mijn-verwerkingen", headers={"Authorization": f"Bearer {token}"}
                    )
                    answer.raise_for_status()
                    return api_complete(answer.json(), n, condition)

                def page() -> bool:
                    answer = client.get(f"{base}/inzage/", headers={"Cookie": f"ldv_token={token}"})
                    answer.raise_for_status()
                    return n == 1 or page_complete(answer.text, n, condition)

                figures = Figures(*timed(page, args.requests), *timed(api, args.requests))
                results[(n, condition)] = figures
                print(figures.row(n, condition, results[(1, "up")]), flush=True)
    finally:
        for process in reversed(processes):
            _stop(process)
    report(results, args)
    return 0


HEADER = f"{'N':>3} {'condition':<9} {'page p50':>9} {'page p95':>9} {'x base':>7} {'api p50':>9} {'api p95':>9} {'x base':>7}  short"


@dataclass
class Figures:
    """Elapsed seconds of the page and the API requests, and how many answers missed a party that was up."""

    page: list[float]
    page_short: int
    api: list[float]
    api_short: int

    def row(self, n: int, condition: str, base: Figures) -> str:
        p95_page, p95_api = percentile(self.page, 95), percentile(self.api, 95)
        return (
            f"{n:>3} {condition:<9} {statistics.median(self.page) * 1000:>7.0f}ms {p95_page * 1000:>7.0f}ms "
            f"{p95_page / percentile(base.page, 95):>6.1f}x {statistics.median(self.api) * 1000:>7.0f}ms "
            f"{p95_api * 1000:>7.0f}ms {p95_api / percentile(base.api, 95):>6.1f}x  {self.page_short}/{self.api_short}"
        )


def report(results: dict[tuple[int, str], Figures], args: argparse.Namespace) -> None:
    print("(x base: p95 over the p95 of N=1, only the local Logboek; short: page/API answers that missed a party")
    print(f" that was up, out of {args.requests} each; configured federation timeout {args.timeout:.2f} s)")
    top = max(args.parties)
    up = results[(top, "up")]
    worst_up = max(percentile(up.page, 95), percentile(up.api, 95))
    extra = max(
        percentile(getattr(results[(top, c)], k), 95) - percentile(getattr(up, k), 95)
        for c in ("slow", "down")
        for k in ("page", "api")
    )
    short = sum(f.page_short + f.api_short for f in results.values())
    print(f"target p95 <= 1 s for N={top}, all up: {worst_up:.2f} s -> {'met' if worst_up <= 1 else 'MISSED'}")
    print(
        f"target slow/down party costs <= timeout ({args.timeout:.2f} s): at most {extra:.2f} s more p95 -> "
        f"{'met' if extra <= args.timeout else 'MISSED'}"
    )
    print(f"complete answers: {'all' if short == 0 else f'{short} short (a party that was up answered too late)'}")


if __name__ == "__main__":
    sys.exit(main())
