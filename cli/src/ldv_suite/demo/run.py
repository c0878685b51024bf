"""`ldv demo`: the Fieldlab case on one machine, from real services to the citizen page.

1. Secrets in `<data-dir>/demo/` (kept between runs, see `ldv_suite.demo.keys`).
2. The shared Logboek: the `ldv serve` stack in this process (collector + Inzicht API on the
   embedded store), with the demo register loaded, demo login on and the keys of the
   organisations that log into it; and the demo token service (`ldv_suite.demo.token_service`,
   DEMO ONLY) on a port of its own.
3. The Logboeken of the organisations that keep their own (`OWN_LOGBOEKEN`: Belastingdienst
   and UWV), each a real `ldv serve` process with its own data directory, key, register and
   ports (`ldv_suite.demo.logboeken`). The shared Logboek's citizen page asks them for the
   citizen's records with a token exchanged at the token service for each of them. With
   `single_logboek`, every organisation logs into the shared one, as before.
4. One service process per organisation, each with our SDK, calling each other with W3C
   trace context and sending their records over OTLP/HTTP to its own organisation's Logboek.
5. The scenario (once per data directory, unless asked again), then a wait until every
   service's SDK has delivered every record, and what to open.
6. Until Ctrl-C (SIGINT/SIGTERM): then the services stop first (they deliver what they still
   hold), then the separate Logboeken and the stack (each stores what it acknowledged).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from ldv_collector import CollectorSettings, WitnessSettings
from ldv_inzicht import mint_demo_token
from ldv_logboek.attributes import DATA_SUBJECT_ID
from ldv_logboek.tlog import COSIGNATURE_V1, Signer, load_signer
from ldv_suite._witness_server import create_witness_app
from ldv_suite.demo.keys import CLIENT_ID, DEMO_KEY_ID, ISSUER, LOGBOEK, DemoSecrets, write_private_file
from ldv_suite.demo.launcher import ServiceFleet, free_ports
from ldv_suite.demo.logboeken import LogboekFleet
from ldv_suite.demo.people import BEN_BSN, LINDA_BSN
from ldv_suite.demo.register import demo_register_dir, load_demo_register
from ldv_suite.demo.scenario import run_scenario
from ldv_suite.demo.services import ORGANISATIONS
from ldv_suite.demo.token_service import DemoIssuer, create_token_service_app
from ldv_suite.errors import SuiteError
from ldv_suite.server import Stack, ensure_log_key
from ldv_suite.settings import ServeSettings

SCENARIO_MARKER = "scenario.json"
OWN_LOGBOEKEN: tuple[str, ...] = ("belastingdienst", "uwv")
"""The organisations that keep a Logboek of their own in the demo; the others share one."""


@dataclass(frozen=True)
class DemoOptions:
    """The options of `ldv demo`."""

    data_dir: Path = Path(".ldv-data")
    host: str = "127.0.0.1"
    api_port: int = 8080
    otlp_http_port: int = 4318
    otlp_grpc_port: int = 0
    exit_after_scenario: bool = False
    rerun_scenario: bool = False
    single_logboek: bool = False


class DemoError(SuiteError):
    """The demo could not run; the message says why."""


@dataclass
class _Demo:
    options: DemoOptions
    console: Console
    stack: Any
    fleet: ServiceFleet
    secrets: DemoSecrets
    logboeken: LogboekFleet
    token_service_url: str | None = None
    witness_url: str = ""
    error: BaseException | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False

    async def main(self) -> None:
        try:
            await self.stack.run(on_ready=self._on_ready)
        finally:
            if self._task is not None:
                self._task.cancel()  # nothing when it is done
                await asyncio.gather(self._task, return_exceptions=True)
            await self.fleet.stop()
            await self.logboeken.stop()

    def _on_ready(self) -> None:
        # The stack stops itself on a signal; the demo must stop its services first, so it
        # takes the signals over (the stack removes these handlers when it has stopped).
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop)
        self._task = asyncio.create_task(self._lifecycle())

    def _request_stop(self) -> None:
        if not self._stopping and self._task is not None:
            self._stopping = True
            self.console.print("[bold]stopping[/]: services first, then the collector and the store ...")
            self._task.cancel()

    async def _lifecycle(self) -> None:
        try:
            with self.console.status("starting the organisation services and Logboeken ..."):
                await asyncio.gather(self.fleet.start(ORGANISATIONS), self.logboeken.wait_ready())
            marker = self.secrets.directory / SCENARIO_MARKER
            if self.options.rerun_scenario or not marker.exists():
                with self.console.status("running the scenario: Linda divorces, moves house, loses her job ..."):
                    done = await run_scenario({org: s.url for org, s in self.fleet.services.items()})
                    await self.fleet.flush()
                counts = await self._collector_counts()
                if counts.get("spans_rejected", 0):
                    raise DemoError(f"the collector rejected {counts['spans_rejected']} records; see the service logs")
                marker.write_text(json.dumps({"ranAt": datetime.now(UTC).isoformat(), "steps": len(done)}))
                self.console.print(
                    f"scenario done: {len(done)} requests, [bold]{counts.get('spans_stored', 0)}[/] records stored"
                )
            else:
                ran_at = json.loads(marker.read_text()).get("ranAt", "earlier")
                self.console.print(
                    f"the scenario ran before ({ran_at}); its records are in the store (--rerun-scenario adds another run)"
                )
            self._print_ready()
            if self.options.exit_after_scenario:
                return
            await asyncio.Event().wait()  # until cancelled by a signal
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - reported by the command, after a clean stop
            self.error = exc
        finally:
            await self.fleet.stop()
            await self.logboeken.stop()
            self.stack.stop()

    async def _collector_counts(self) -> dict[str, int]:
        """The collectors' counters, summed over the shared Logboek and the separate ones."""
        collector = self.stack.servers[0].config.app.state.collector
        counts: dict[str, int] = dict(collector.metrics.snapshot())
        async with httpx.AsyncClient(timeout=10) as client:
            for logboek in self.logboeken.logboeken.values():
                health = (await client.get(logboek.otlp_endpoint.removesuffix("/v1/traces") + "/healthz")).json()
                for name in ("spans_stored", "spans_rejected"):
                    counts[name] = counts.get(name, 0) + int(health.get(name, 0))
        return counts

    def _print_ready(self) -> None:
        o = self.options
        host = "127.0.0.1" if o.host in ("0.0.0.0", "::", "") else o.host
        api = f"http://{host}:{o.api_port}"
        auth = self.secrets.api_kwargs()["auth_settings"]
        token_file = self.secrets.directory / "linda.token"
        write_private_file(token_file, mint_demo_token(auth, LINDA_BSN).encode())
        people = Table("citizen", "BSN (test)", "what the page shows", header_style="bold", box=None, padding=(0, 2))
        people.add_row(
            "Linda de Boer",
            LINDA_BSN,
            "moving house, huur-/zorg-/kinderopvangtoeslag, tax return, WW, bijstand "
            "(not the confidential FIOD investigation)",
        )
        people.add_row("Ben Jansen", BEN_BSN, "moving house, zorgtoeslag (none of Linda's)")
        services = Table("organisation", "service (LDV SDK)", header_style="bold", box=None, padding=(0, 2))
        own = self.logboeken.logboeken
        if own:
            services.add_column("its Logboek")
        for org, service in self.fleet.services.items():
            services.add_row(org, service.url, *([own[org].api_url.removesuffix("/lezenapi/v1") if org in own else api] if own else []))
        c = self.console
        c.rule("[bold green]LDV demo ready")
        c.print(
            f"Citizen page (Dutch):  [bold link={api}/inzage/inloggen]{api}/inzage/inloggen[/]  - demo login: type a BSN"
        )
        c.print(people)
        c.print()
        c.print(
            f"Collector (OTLP/HTTP): http://{host}:{o.otlp_http_port}/v1/traces    store: {o.data_dir} (embedded chDB)"
        )
        if self.token_service_url:
            c.print(f"Token service (DEMO ONLY, token exchange RFC 8693): {self.token_service_url}")
        minutes = auth.demo_token_lifetime_seconds // 60
        c.print(f"Read API of this Logboek, Linda's own records (token valid {minutes} minutes):")
        c.print(
            f"  curl -s -X POST {api}/lezenapi/v1/processing-activities -H 'Content-Type: application/json' "
            f'-H "Authorization: Bearer $(cat {token_file})" -d \'{{"{DATA_SUBJECT_ID}": "{LINDA_BSN}"}}\'',
            soft_wrap=True,
        )
        c.print(
            'Organisation services (try more requests, e.g. POST <burger-nl>/aanvragen/zorgtoeslag {"bsn": "..."}):'
        )
        c.print(services)
        c.print(f"Service logs: {self.secrets.log_dir}")
        c.print(
            f"Transparency logs (C2SP tlog-tiles): {api}/log/ ; witness of the Autoriteit Persoonsgegevens: "
            f"{self.witness_url}/add-checkpoint (cosigns every checkpoint; `ldv audit --data-dir {o.data_dir}`)"
        )
        c.print(
            f"[yellow]Demo keys and login in {self.secrets.directory}: for demonstrations only, never for real data.[/]"
        )
        if not self.options.exit_after_scenario:
            c.print("[bold]Ctrl-C[/] stops the demo.")


def _check_ports_free(options: DemoOptions) -> None:
    """Fail early, with the option to change, when a port is taken (e.g. by a running `ldv serve`)."""
    wanted = {"--api-port": options.api_port, "--otlp-http-port": options.otlp_http_port}
    if options.otlp_grpc_port:
        wanted["--otlp-grpc-port"] = options.otlp_grpc_port
    for flag, port in wanted.items():
        with socket.socket(socket.AF_INET6 if ":" in options.host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((options.host, port))
            except OSError as exc:
                raise DemoError(
                    f"cannot listen on {options.host}:{port} ({exc.strerror}): choose another {flag}"
                ) from None


WITNESS_NAME = "witness.autoriteitpersoonsgegevens.demo/ap"


def _demo_log_keys(data_dir: Path, secrets_dir: Path, logboeken: LogboekFleet) -> tuple[Any, list[Path]]:
    """The supervisor's witness key (made once, in the demo's secrets) and the log key file of
    the shared Logboek, then of each own Logboek (made once, in their data directories)."""
    witness_file = secrets_dir / "ap-witness.key"
    if not witness_file.exists():
        write_private_file(witness_file, (Signer.generate(WITNESS_NAME, COSIGNATURE_V1).text + "\n").encode())
    keys = [ensure_log_key(data_dir, "logboek.demo/gedeeld")]
    keys += [ensure_log_key(lb.data_dir, f"logboek.demo/{org}") for org, lb in sorted(logboeken.logboeken.items())]
    return load_signer(str(witness_file), COSIGNATURE_V1), keys


def run_demo(options: DemoOptions, console: Console) -> None:
    """Run the demo until Ctrl-C (or until the scenario is done, with `exit_after_scenario`).

    Raises DemoError (or the error of a failed step) after everything it started has stopped.
    """
    register = load_demo_register()
    missing = [org for org in ORGANISATIONS if register.organisation_by_ref(org) is None]
    if missing:
        raise DemoError(f"the demo register has no organisation with code {missing}")
    _check_ports_free(options)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    secrets = DemoSecrets.prepare(options.data_dir, ORGANISATIONS)
    # Organisation code -> the read API URL the register gives it (fictitious in the demo).
    read_apis = {
        org.code: str(org.read_api_url) for org in register.organisations.values() if org.code and org.read_api_url
    }
    own = () if options.single_logboek else OWN_LOGBOEKEN
    shared = [org for org in ORGANISATIONS if org not in own]
    loopback = "127.0.0.1" if options.host in ("0.0.0.0", "::", "") else options.host
    token_port = free_ports(loopback, 1)[0]
    token_service = f"http://{loopback}:{token_port}"
    logboeken = LogboekFleet(
        host="127.0.0.1",
        secrets=secrets,
        data_dir=options.data_dir,
        register_dir=demo_register_dir(),
        jwks_url=f"{token_service}/.well-known/jwks.json",
    )
    # Each own Logboek is known by its organisation's read API URL in the register.
    logboeken.plan({org: read_apis[org] for org in own})
    settings = ServeSettings(
        data_dir=options.data_dir,
        store_dsn=None,  # the demo always uses its own embedded store, whatever LDV_STORE_DSN says
        host=options.host,
        otlp_http_port=options.otlp_http_port,
        otlp_grpc_port=options.otlp_grpc_port,
        api_port=options.api_port,
        clickhouse_port=0,  # the demo shows the citizen page and the read API, not Grafana
        log_level="warning",
    )
    served = shared if own else None
    # The supervisor (Autoriteit Persoonsgegevens) runs a witness that cosigns every Logboek's
    # checkpoints (`ldv witness`, here in the demo's process); each Logboek's log key is made now
    # so the witness knows them.
    witness_port = free_ports(loopback, 1)[0]
    witness_url = f"http://{loopback}:{witness_port}"
    witness_key, log_keys = _demo_log_keys(options.data_dir, secrets.directory, logboeken)
    logs = [load_signer(str(k)).verifier for k in log_keys]
    witness = witness_key.verifier.vkey
    logboeken.witnesses = json.dumps([{"url": witness_url, "vkey": witness}])
    api_kwargs = secrets.api_kwargs(
        served,
        logboeken={lb.identifier: lb.api_url for lb in logboeken.logboeken.values()},
        token_endpoint=f"{token_service}/token" if own else None,
    )
    # The citizen page checks every Logboek's records (the shared one's and those it reads from the
    # Belastingdienst's and UWV's own) against their log keys, and names the supervisor's witness:
    # "bevestigd door de Autoriteit Persoonsgegevens".
    api_kwargs["inzage_settings"] = api_kwargs["inzage_settings"].model_copy(
        update={"witnesses": {"de Autoriteit Persoonsgegevens": witness}, "log_keys": tuple(v.vkey for v in logs)}
    )
    stack = Stack.build(
        settings,
        register_paths=[demo_register_dir()],
        collector_settings=CollectorSettings(
            senders=secrets.collector_senders(served),
            log_key=SecretStr(str(log_keys[0])),
            log_witnesses=[WitnessSettings(url=witness_url, vkey=witness)],
        ),
        api_kwargs=api_kwargs,
    )
    stack.add_server(create_witness_app(witness_key, logs, secrets.directory / "ap-witness.json"), witness_port)
    if own:
        issuer = DemoIssuer(
            issuer=ISSUER,
            private_key_pem=secrets.login_key_file.read_bytes(),
            key_id=DEMO_KEY_ID,
            jwks=json.loads(secrets.jwks_file.read_text()),
            logboeken=frozenset({LOGBOEK, *(lb.identifier for lb in logboeken.logboeken.values())}),
        )
        issuer.register_client(CLIENT_ID, secrets.client_secret(), LOGBOEK)
        stack.add_server(create_token_service_app(issuer), token_port)
    fleet = ServiceFleet(
        host="127.0.0.1",
        endpoint=f"http://{loopback}:{options.otlp_http_port}/v1/traces",
        secrets=secrets,
        read_apis=read_apis,
        endpoints={org: lb.otlp_endpoint for org, lb in logboeken.logboeken.items()},
    )
    demo = _Demo(options, console, stack, fleet, secrets, logboeken, token_service if own else None, witness_url)
    # The own Logboeken start now, in parallel with the stack; the lifecycle waits for them.
    logboeken.start()
    try:
        asyncio.run(demo.main())
    finally:
        asyncio.run(logboeken.stop())  # already stopped unless the stack failed to start
    if demo.error is not None:
        raise demo.error
