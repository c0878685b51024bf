"""The `ldv` command: serve the suite, manage the store, generate load, run the demo.

Each command imports the components it uses inside its function: `ldv --help` or `ldv sender-token`
then starts without loading chDB, pyarrow, FastAPI or gRPC. No import cycle is behind it (the
import-graph test reads these imports too).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from pydantic_settings import BaseSettings
from rich.console import Console
from rich.logging import RichHandler

from ldv_suite import _log_commands
from ldv_suite._settings_loading import checked as _checked
from ldv_suite._settings_loading import serve_settings as _settings
from ldv_suite.settings import ServeSettings

app = typer.Typer(help="LDV suite: Logboek Dataverwerkingen collector, store and read APIs.", no_args_is_help=True)
console = Console()

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML file with settings (see README).")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Directory of the embedded store.")]
DsnOpt = Annotated[
    Optional[str], typer.Option("--store-dsn", help="ClickHouse server instead of the embedded store.")
]


def _register_refused(exc: Exception) -> NoReturn:
    """One line on stderr naming the file(s) and every problem, then exit code 2; no traceback.

    `exc` is a RegisterFileError ("<file>: <problem>; <problem>") or a RegisterConflict. Plain
    text, not rich: rich would wrap the line and read `[...]` in the problem as markup.
    """
    from ldv_logboek.register import RegisterConflict

    kind = "register conflict" if isinstance(exc, RegisterConflict) else "invalid register file"
    typer.echo(f"ldv: {kind}: " + " ".join(str(exc).split()), err=True)
    raise typer.Exit(2)


def _store_failed(exc: Exception) -> NoReturn:
    """One line on stderr saying why the store could not be written (a full disk by name), exit code 1.

    For `ldv schema`, `ldv register load` and `ldv serve`'s start: what was written before is
    complete (a migration or a register load is safe to run again), and no traceback is shown.
    """
    from ldv_logboek.storage import out_of_space

    cause = exc.__cause__ or exc
    reason = "the store's disk is full (not enough space)" if out_of_space(cause) else "the store failed"
    typer.echo(f"ldv: {reason}: " + " ".join(str(exc).split())[:500] + "; nothing half-written, run it again", err=True)
    raise typer.Exit(1)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
    )


@app.command()
def serve(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    store_dsn: DsnOpt = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on.")] = None,
    otlp_http_port: Annotated[Optional[int], typer.Option(help="OTLP/HTTP port [default: 4318].")] = None,
    otlp_grpc_port: Annotated[Optional[int], typer.Option(help="OTLP/gRPC port [default: 4317].")] = None,
    api_port: Annotated[Optional[int], typer.Option(help="Read API port [default: 8080].")] = None,
    clickhouse_port: Annotated[
        Optional[int], typer.Option(help="Read-only ClickHouse HTTP endpoint for Grafana; 0 disables [default: 8123].")
    ] = None,
    tls_cert_file: Annotated[Optional[Path], typer.Option(help="PEM certificate: TLS on every port.")] = None,
    tls_key_file: Annotated[Optional[Path], typer.Option(help="PEM private key of --tls-cert-file.")] = None,
    tls_client_ca_file: Annotated[
        Optional[Path], typer.Option(help="PEM CA of senders' client certificates (OTLP ports).")
    ] = None,
    register: Annotated[
        Optional[list[Path]], typer.Option(help="Register files or folders to load at start (repeatable).")
    ] = None,
) -> None:
    """Run the collector (OTLP) and the read APIs in one process on one store."""
    from ldv_collector import CollectorSettings
    from ldv_inzicht import ApiSettings, AuthSettings, InzageSettings
    from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings
    from ldv_logboek.register import RegisterConflict, RegisterFileError
    from ldv_logboek.storage import StorageError
    from ldv_suite.server import OpenCollectorRefused, Stack
    from ldv_suite.settings_errors import load_settings

    settings = _settings(
        config,
        data_dir=data_dir,
        store_dsn=store_dsn,
        host=host,
        otlp_http_port=otlp_http_port,
        otlp_grpc_port=otlp_grpc_port,
        api_port=api_port,
        clickhouse_port=clickhouse_port,
        tls_cert_file=tls_cert_file,
        tls_key_file=tls_key_file,
        tls_client_ca_file=tls_client_ca_file,
    )
    # Every component's settings before the store is opened: a bad setting changes nothing.
    # Each from its own variables (`LDV_COLLECTOR_*`, `LDV_API_*`, `LDV_AUTH_*`, `LDV_INZAGE_*`, `LDV_CLICKHOUSE_*`).
    endpoint = bool(settings.clickhouse_port) and settings.store_dsn is None
    components: list[type[BaseSettings]] = [CollectorSettings, ApiSettings, AuthSettings, InzageSettings]
    components += [ClickHouseHttpSettings] if endpoint else []
    collector_settings, api, auth, inzage, *clickhouse = _checked(*(functools.partial(load_settings, c) for c in components))
    _logging(settings.log_level)
    try:
        stack = Stack.build(
            settings,
            register_paths=register or [],
            collector_settings=collector_settings,
            api_kwargs={"settings": api, "auth_settings": auth, "inzage_settings": inzage},
            clickhouse_settings=clickhouse[0] if clickhouse else None,
        )
    except (RegisterFileError, RegisterConflict) as exc:
        _register_refused(exc)
    except OpenCollectorRefused as exc:
        typer.echo(f"ldv: {exc}", err=True)  # one line, as for a refused register
        raise typer.Exit(2) from None
    except StorageError as exc:  # e.g. a full disk while migrating or loading the register
        _store_failed(exc)

    scheme = "https" if settings.tls else "http"

    def ready() -> None:
        console.print(
            f"[bold green]LDV suite ready[/] store={_where(settings)}  "
            f"OTLP/HTTP {scheme}://{settings.host}:{settings.otlp_http_port}/v1/traces  "
            + (f"OTLP/gRPC {settings.host}:{settings.otlp_grpc_port}  " if settings.otlp_grpc_port else "")
            + f"read API {scheme}://{settings.host}:{settings.api_port}/lezenapi/v1"
            + (f"  ClickHouse HTTP {scheme}://{settings.host}:{settings.clickhouse_port}" if endpoint else "")
        )

    try:
        asyncio.run(stack.run(on_ready=ready))
    except OSError as exc:  # a port in use or not permitted; the store is closed by then
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print("[bold]LDV suite stopped[/]; every acknowledged record is stored.")


@app.command()
def schema(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    store_dsn: DsnOpt = None,
    cluster: Annotated[
        Optional[str],
        typer.Option(help="Print the schema for this ClickHouse cluster (replicated, sharded) instead; opens no store."),
    ] = None,
) -> None:
    """Create or migrate the store's schema and print its version (or, with --cluster, print a cluster's DDL)."""
    if cluster is not None:
        from ldv_logboek.storage import cluster_script

        try:
            print(cluster_script(cluster), end="")
        except ValueError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        return
    from ldv_logboek.storage import SCHEMA_VERSION, LogStore, StorageError

    settings = _settings(config, data_dir=data_dir, store_dsn=store_dsn)
    if settings.store_dsn is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = LogStore.open(settings.dsn())
    try:
        applied = store.migrate()
    except StorageError as exc:  # e.g. a full disk: every migration is safe to run again
        _store_failed(exc)
    finally:
        store.close()
    console.print(f"schema version {SCHEMA_VERSION} at {_where(settings)}; applied now: {applied or 'nothing'}")


@app.command()
def generate(
    endpoint: Annotated[str, typer.Option(help="OTLP/HTTP traces endpoint.")] = "http://127.0.0.1:4318/v1/traces",
    records: Annotated[int, typer.Option(min=1, help="How many records to send.")] = 10_000,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Records per OTLP request.")] = 512,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight (as many services).")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed, for repeatable load.")] = 7,
    organisation: Annotated[
        Optional[str], typer.Option(help="Send only this organisation's records (what one sender may write).")
    ] = None,
    sender_token: Annotated[
        Optional[str],
        typer.Option(envvar="LDV_SENDER_TOKEN", help="Bearer token of a configured sender (never printed)."),
    ] = None,
) -> None:
    """Send synthetic LDV records (realistic attributes, pseudonymised subjects) over OTLP/HTTP."""
    import httpx
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
    from rich.progress import Progress

    from ldv_suite.synthetic import synthetic_bodies

    def send(client: httpx.Client, body: bytes, count: int) -> tuple[int, int, str]:
        """(records sent, rejected, error) for one request."""
        response = client.post(endpoint, content=body, headers=headers)
        if response.status_code != 200:
            return count, 0, f"collector answered {response.status_code}: {response.text[:300]}"
        return count, ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans, ""

    headers = {"Content-Type": "application/x-protobuf"}
    if sender_token:
        headers["Authorization"] = f"Bearer {sender_token.strip()}"
    counts = [min(batch, records - i) for i in range(0, records, batch)]
    rejected = 0
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency)
    with httpx.Client(timeout=60, limits=limits) as client, ThreadPoolExecutor(concurrency) as pool, Progress(
        console=console
    ) as progress:
        task = progress.add_task("sending records", total=records)
        bodies = synthetic_bodies(records, batch, seed=seed, organisation=organisation)
        futures = [pool.submit(send, client, body, count) for body, count in zip(bodies, counts)]
        for future in futures:
            sent, refused, error = future.result()
            if error:
                console.print(f"[red]{error}[/]")
                pool.shutdown(cancel_futures=True)
                raise typer.Exit(1)
            rejected += refused
            progress.advance(task, sent)
    elapsed = time.perf_counter() - started
    console.print(f"sent {records} records in {elapsed:.2f}s ({records / elapsed:,.0f}/s); rejected: {rejected}")


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Directory of the demo's store and secrets.")] = Path(
        ".ldv-data"
    ),
    host: Annotated[str, typer.Option(help="Address of the collector and the APIs.")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="Port of the citizen page and the read API.")] = 8080,
    otlp_http_port: Annotated[int, typer.Option(help="OTLP/HTTP port of the collector.")] = 4318,
    otlp_grpc_port: Annotated[int, typer.Option(help="OTLP/gRPC port; 0 (default) leaves it off.")] = 0,
    exit_after_scenario: Annotated[
        bool, typer.Option(help="Stop once the scenario's records are stored (for tests and CI).")
    ] = False,
    rerun_scenario: Annotated[
        bool, typer.Option(help="Run the scenario again although this data directory has its records.")
    ] = False,
    single_logboek: Annotated[
        bool,
        typer.Option(help="One Logboek for all organisations, instead of own ones for Belastingdienst and UWV."),
    ] = False,
) -> None:
    """Run the Fieldlab demo: six organisations' services with the SDK, the collector, the citizen page."""
    from ldv_suite.demo.run import DemoOptions, run_demo

    _logging("warning")
    options = DemoOptions(
        data_dir=data_dir,
        host=host,
        api_port=api_port,
        otlp_http_port=otlp_http_port,
        otlp_grpc_port=otlp_grpc_port,
        exit_after_scenario=exit_after_scenario,
        rerun_scenario=rerun_scenario,
        single_logboek=single_logboek,
    )
    try:
        run_demo(options, console)
    except Exception as exc:  # noqa: BLE001 - one readable line, everything started has stopped
        console.print(f"[red]ldv demo failed:[/] {exc}")
        raise typer.Exit(1) from None
    console.print("[bold]LDV demo stopped[/]; every acknowledged record is stored.")


@app.command("sender-token")
def sender_token_command(
    organisation: Annotated[
        str, typer.Argument(help="The organisation (dpl.suite.organisation) the sender writes for.")
    ],
    name: Annotated[
        Optional[str], typer.Option(help="The sender's name in the settings [default: the organisation].")
    ] = None,
) -> None:
    """Make a new random sender token and print it with the LDV_COLLECTOR_SENDERS entry (its SHA-256 only)."""
    from ldv_collector import token_sha256

    token = secrets.token_urlsafe(32)
    entry = {name or organisation: {"organisation": organisation, "token_sha256": token_sha256(token)}}
    # Plain lines, never wrapped: the token and the entry are copied as they are.
    typer.echo("token (give it to the sender only, e.g. as LDV_SENDER_TOKEN; shown once):")
    typer.echo(token)
    typer.echo("LDV_COLLECTOR_SENDERS entry (holds only the token's SHA-256):")
    typer.echo(json.dumps(entry))


register_app = typer.Typer(help="The register of processing activities.", no_args_is_help=True)
app.add_typer(register_app, name="register")


@register_app.command("load")
def register_load(
    # No `exists=True`: a missing file is refused like any other bad register file, in one line.
    paths: Annotated[list[Path], typer.Argument(help="YAML/JSON register files or folders.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    store_dsn: DsnOpt = None,
) -> None:
    """Load register files into the store (new versions are added; stored versions never change).

    The embedded store is opened by one process at a time: run this while `ldv serve` is
    stopped, or give `ldv serve --register PATH`.
    """
    from ldv_logboek.register import RegisterConflict, RegisterFileError, load_register_files
    from ldv_logboek.storage import LogStore, RegisterStore, StorageError

    settings = _settings(config, data_dir=data_dir, store_dsn=store_dsn)
    try:
        # Read the files before the store opens: a bad file stops here, with nothing opened.
        register = load_register_files(paths)
    except RegisterFileError as exc:
        _register_refused(exc)
    if settings.store_dsn is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = LogStore.open(settings.dsn())
    try:
        store.migrate()
        result = RegisterStore(store).save(register)
    except RegisterConflict as exc:
        _register_refused(exc)
    except StorageError as exc:  # e.g. a full disk: loading again adds what is missing
        _store_failed(exc)
    finally:
        store.close()
    console.print(
        f"register loaded: {len(result.versions_added)} versions added, {result.versions_unchanged} unchanged, "
        f"{result.organisations_saved} organisations, {len(result.activities_ended)} activities ended"
    )
    for added in result.versions_added:
        console.print(f"  + {added}")


# The transparency log: `ldv log-key`, `ldv audit`, `ldv verify ...`, `ldv witness` (ldv_suite._log_commands).
_log_commands.register(app)

dashboards_app = typer.Typer(help="Grafana dashboards for supervisors (see docs/dashboards.md).", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("build")
def dashboards_build(
    out: Annotated[Optional[Path], typer.Option(help="Folder to write into [default: the source's dashboards/].")] = None,
) -> None:
    """Regenerate the dashboard JSON and the provisioning files from the code."""
    from ldv_dashboards import SOURCE_ROOT, in_source_checkout, write

    if out is None and not in_source_checkout():
        console.print("[red]not in a source checkout:[/] give --out DIR")
        raise typer.Exit(2)
    for path in write(out or SOURCE_ROOT):
        console.print(f"wrote {path}")


@dashboards_app.command("check")
def dashboards_check() -> None:
    """Exit 1 when a committed generated file differs from what the code generates."""
    from ldv_dashboards import in_source_checkout, stale

    if not in_source_checkout():
        console.print("[red]not in a source checkout:[/] nothing to check")
        raise typer.Exit(2)
    if outdated := stale():
        console.print(f"[red]out of date:[/] {', '.join(outdated)}; run `ldv dashboards build`")
        raise typer.Exit(1)
    console.print("dashboards and provisioning files are up to date")


@dashboards_app.command("push")
def dashboards_push(
    grafana_url: Annotated[str, typer.Option(help="Grafana's URL, e.g. https://grafana.example.nl")],
    token: Annotated[str, typer.Option(help="Grafana service account token.", envvar="LDV_GRAFANA_TOKEN")],
    clickhouse_host: Annotated[str, typer.Option(help="Host of `ldv serve`'s ClickHouse endpoint, as Grafana reaches it.")] = "127.0.0.1",
    clickhouse_port: Annotated[int, typer.Option(help="Its port.")] = 8123,
    clickhouse_user: Annotated[str, typer.Option(help="Endpoint user for Grafana.")] = "grafana",
    clickhouse_password: Annotated[
        str, typer.Option(help="That user's password.", envvar="LDV_GRAFANA_CLICKHOUSE_PASSWORD")
    ] = "",
    clickhouse_secure: Annotated[bool, typer.Option(help="The endpoint speaks HTTPS.")] = False,
) -> None:
    """Upsert the LDV folder, the ClickHouse data source and the dashboards into a Grafana (idempotent)."""
    from grafana_client.client import GrafanaException

    from ldv_dashboards import Endpoint, push

    endpoint = Endpoint(host=clickhouse_host, port=clickhouse_port, username=clickhouse_user, secure=clickhouse_secure)
    try:
        result = push(grafana_url, token, endpoint, clickhouse_password)
    except GrafanaException as exc:  # the token and password are never printed
        console.print(f"[red]Grafana refused:[/] HTTP {exc.status_code}")
        raise typer.Exit(1) from None
    except OSError as exc:
        console.print(f"[red]cannot reach Grafana at {grafana_url}:[/] {type(exc).__name__}")
        raise typer.Exit(1) from None
    console.print(f"folder {result.folder}, data source {result.datasource}")
    for uid, url in result.dashboards.items():
        console.print(f"  dashboard {uid}: {url}")


@app.command()
def inzage(
    bsn: Annotated[str, typer.Argument(help="The citizen's BSN (never logged).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    store_dsn: DsnOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The inzage API's JSON instead of tables.")] = False,
) -> None:
    """A citizen's processings in this Logboek, in Dutch (for a written inzage request).

    The BSN is pseudonymised with the organisation keys of LDV_ORGANISATION_KEYS; the
    register decides purpose, law and confidentiality. Run it while `ldv serve` is stopped when
    the store is embedded (chDB opens a data directory from one process only).
    """
    from ldv_inzicht import ApiSettings, local_inzage
    from ldv_logboek import is_bsn
    from ldv_logboek.storage import LogStore
    from ldv_suite.inzage_report import print_report
    from ldv_suite.settings_errors import load_settings

    if not is_bsn(bsn):
        console.print("[red]not a BSN:[/] nine digits that pass the elfproef are needed")
        raise typer.Exit(2)
    settings = _settings(config, data_dir=data_dir, store_dsn=store_dsn)
    [api_settings] = _checked(lambda: load_settings(ApiSettings))
    if not api_settings.organisation_keys:
        console.print("[red]no organisation keys:[/] set LDV_ORGANISATION_KEYS to find pseudonymised records")
        raise typer.Exit(2)
    store = LogStore.open(settings.dsn())
    try:
        store.migrate()
        response = local_inzage(store, bsn, api_settings)
    finally:
        store.close()
    if as_json:
        typer.echo(response.model_dump_json(by_alias=True, indent=2))
    else:
        print_report(response, console)


def _where(settings: ServeSettings) -> str:
    from ldv_logboek.storage import redact

    return redact(settings.dsn())


if __name__ == "__main__":
    app()
