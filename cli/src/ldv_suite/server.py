"""`ldv serve`: the collector (OTLP/HTTP and OTLP/gRPC) and the APIs in one process, on one store.

chDB opens a data directory from one process only, so in embedded mode everything that reads
or writes the store lives here. Each HTTP protocol gets its own uvicorn server on its own port
and OTLP/gRPC a grpc.aio server, all on one event loop except the read API's, which has a loop
(and thread) of its own so that lookups do not queue behind ingest; SIGINT/SIGTERM stop them together:
first no new requests, then in-flight requests finish (their records are committed by the
collector's group commit), then the collector flushes and the store closes. Nothing is
acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr

from ldv_logboek.storage import LogStore, TileMirror, redact
from ldv_suite.errors import SuiteError
from ldv_suite.settings import ServeSettings, is_loopback

log = logging.getLogger("ldv.serve")

# The interpreter's switch interval while the stack runs (CPython's default is 5 ms). The
# collector decodes and checks spans in Python threads of this process; a lookup's thread that
# wants the GIL back (to parse the request, after the engine's query, to serialise the answer)
# waits up to one interval each time while such a thread computes. 1 ms bounds that wait; the
# benchmark in docs/benchmarks.md ("Lookup under ingest") compares it with the default.
SWITCH_INTERVAL_S = 0.001


class PortUnavailable(SuiteError, OSError):
    """A port `ldv serve` was told to listen on cannot be bound (in use, or not permitted)."""


class OpenCollectorRefused(SuiteError, ValueError):
    """No senders are configured and the OTLP ports would be reachable beyond this machine."""


def check_senders(settings: ServeSettings, collector_settings: Any) -> str | None:
    """The start-up warning for an open collector on loopback, or None when senders are configured.

    Raises OpenCollectorRefused for an open collector on another address, unless
    `allow_anonymous_senders` says so deliberately.
    """
    if collector_settings.senders:
        return None
    if not is_loopback(settings.host) and not settings.allow_anonymous_senders:
        raise OpenCollectorRefused(
            f"refusing to accept records from anyone on {settings.host}: configure senders "
            "(LDV_COLLECTOR_SENDERS) or set LDV_SERVE_ALLOW_ANONYMOUS_SENDERS=true"
        )
    return (
        "no senders configured (LDV_COLLECTOR_SENDERS): any process that reaches the OTLP ports on "
        f"{settings.host} can write records in any organisation's name"
    )


LOG_KEY_FILE = "log-key"


def ensure_log_key(data_dir: Path, name: str | None = None) -> Path:
    """The transparency log's signing key of an embedded store: `<data dir>/log-key`, made once
    (mode 0600, origin `name` or `logboek.local/<random>`) when the operator configured none.
    Its verifier key is logged at start; give it to auditors and witnesses."""
    import os
    import secrets

    from ldv_logboek.tlog import Signer, load_signer

    path = data_dir / LOG_KEY_FILE
    if not path.exists():
        signer = Signer.generate(name or f"logboek.local/{secrets.token_hex(4)}")
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(signer.text + "\n")
        log.info("made the transparency log's key %s", path)
    log.info("transparency log verifier key: %s", load_signer(str(path)).verifier.vkey)
    return path


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; PortUnavailable with the reason otherwise."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: uvicorn writes a response's headers and body separately,
    # and with Nagle's algorithm the body waits for the client's delayed ACK (~40 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    return sock


def _clickhouse_h11(limit: int) -> type:
    """uvicorn's h11 protocol, answering a malformed or oversized request head as ClickHouse would.

    uvicorn answers `400 Invalid HTTP request received.` in plain text for any request h11
    cannot parse, also one whose URL is longer than the head limit: ClickHouse clients expect
    `Code: N. DB::Exception: ...` with the code in `X-ClickHouse-Exception-Code`.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class ClickHouseH11Protocol(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            # h11 keeps the unparsed head in its receive buffer: over the limit, the query was too long.
            pending = len(getattr(self.conn, "_receive_buffer", b""))
            if pending > limit:
                status, code, name = 413, 229, "QUERY_IS_TOO_LARGE"
                text = f"the request line and headers are larger than {limit} bytes (query in the URL too long)"
            else:
                status, code, name = 400, 62, "SYNTAX_ERROR"
                text = "invalid HTTP request"
            body = f"Code: {code}. DB::Exception: {text}. ({name})\n".encode()
            headers = [
                (b"content-type", b"text/plain; charset=UTF-8"),
                (b"x-clickhouse-exception-code", str(code).encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            for event in (h11.Response(status_code=status, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event) or b"")
            self.transport.close()

    return ClickHouseH11Protocol


class _SharedSignalServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `Stack`, which stops all servers together;
    `own_loop`: served on an event loop of its own (`Stack.add_server`)."""

    own_loop = False

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class Stack:
    """The running suite: one store, the collector app and the API app, each on its port."""

    settings: ServeSettings
    store: LogStore
    collector: Any  # ldv_collector.Collector: OTLP/gRPC drives the same one as OTLP/HTTP
    servers: list[_SharedSignalServer] = field(default_factory=list)
    _stop_requested: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(
        cls,
        settings: ServeSettings,
        *,
        register_paths: Sequence[Path] = (),
        collector_settings: Any = None,
        api_kwargs: Mapping[str, Any] | None = None,
        clickhouse_settings: Any = None,
    ) -> Stack:
        """Open (and migrate) the store, load register files, create the apps; nothing listens yet.

        An invalid register file raises RegisterFileError before the store is opened; a
        RegisterConflict closes the store before it is raised.

        Component settings default to their environment variables (`LDV_COLLECTOR_*`,
        `LDV_API_*`, `LDV_AUTH_*`, `LDV_INZAGE_*`, `LDV_CLICKHOUSE_*`); `ldv demo` passes its own. Raises
        OpenCollectorRefused before anything is opened (see `check_senders`).
        """
        # Imported here so `ldv --help` stays fast.
        from ldv_collector import CollectorSettings
        from ldv_collector import create_app as create_collector_app
        from ldv_inzicht import InzageSettings, create_log_app, with_log_routes
        from ldv_inzicht import create_app as create_api_app
        from ldv_logboek.register import load_register_files
        from ldv_logboek.storage import RegisterStore
        from ldv_logboek.tlog import Verifier, load_signer

        collector_settings = collector_settings or CollectorSettings()
        open_warning = check_senders(settings, collector_settings)

        # Read the register files before the store opens: a bad file stops here, with nothing opened.
        register = load_register_files(list(register_paths)) if register_paths else None
        if settings.store_dsn is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        # One writer connection for the collector, `store_readers` for the APIs' lookups.
        store = LogStore.open(
            settings.dsn(),
            readers=settings.store_readers,
            retention_days=settings.retention_days,
            retention_by_organisation=settings.retention_by_organisation,
            tile_dir=settings.tile_dir,
        )
        if not settings.tile_files:
            store.tile_files = None
        applied = store.migrate()
        if applied:
            log.info("store %s migrated to schema version %s", redact(settings.dsn()), applied[-1])
        if register is not None:
            try:
                result = RegisterStore(store).save(register)
            except Exception:
                store.close()  # e.g. RegisterConflict: nothing runs, and the next process may open the store
                raise
            log.info("register loaded: %s", result)
        if collector_settings.log_enabled and collector_settings.log_key is None and settings.store_dsn is None:
            collector_settings.log_key = SecretStr(str(ensure_log_key(settings.data_dir)))
        try:
            collector_app = create_collector_app(store, collector_settings)
        except Exception:
            store.close()  # e.g. LogIntegrityError: the log cannot be appended to; nothing runs
            raise
        stack = cls(settings=settings, store=store, collector=collector_app.state.collector)
        stack.add_server(collector_app, settings.otlp_http_port, client_ca=settings.tls_client_ca_file)
        api_kwargs = dict(api_kwargs or {})
        if collector_settings.log_enabled and collector_settings.log_key is not None:
            # The inzage checks receipts against this collector's log key and witnesses (named by their
            # key names) unless `LDV_INZAGE_LOG_KEYS` / `LDV_INZAGE_WITNESSES` say otherwise.
            inzage = api_kwargs.get("inzage_settings") or InzageSettings()
            updates: dict[str, Any] = {}
            if not inzage.log_keys:
                updates["log_keys"] = (load_signer(collector_settings.log_key.get_secret_value()).verifier.vkey,)
            if not inzage.witnesses and collector_settings.log_witnesses:
                updates["witnesses"] = {Verifier.parse(w.vkey).name: w.vkey for w in collector_settings.log_witnesses}
            api_kwargs["inzage_settings"] = inzage.model_copy(update=updates)
        # The transparency logs as C2SP tlog-tiles under /log/ on the API's port (ldv_inzicht.create_log_app).
        api_app = with_log_routes(create_api_app(store, **api_kwargs), create_log_app(store))
        stack.add_server(api_app, settings.api_port, own_loop=True)
        if settings.clickhouse_port:
            if settings.store_dsn is None:
                from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings
                from ldv_inzicht.clickhouse_http import create_app as create_clickhouse_app

                limit = (clickhouse_settings or ClickHouseHttpSettings()).max_query_bytes
                stack.add_server(
                    create_clickhouse_app(store, clickhouse_settings),
                    settings.clickhouse_port,
                    # A query of `limit` bytes in the URL, percent-encoded (3 bytes a byte), plus headers.
                    request_head_bytes=3 * limit + 64 * 1024,
                )
            else:
                log.info("no ClickHouse endpoint: the store is a ClickHouse server, give Grafana that server")
        if open_warning:  # once everything that can refuse to start has passed
            log.warning(open_warning)
        return stack

    def add_server(
        self,
        app: Any,
        port: int,
        *,
        client_ca: Path | None = None,
        request_head_bytes: int | None = None,
        own_loop: bool = False,
    ) -> None:
        """A uvicorn server for `app` on `port`; with `client_ca`, it asks for client certificates.

        `own_loop`: the server runs on an event loop of its own, in a thread of its own, instead
        of the loop every other server shares. The read API's: a citizen's lookup then never
        waits for the loop behind the collector's requests (their HTTP parsing and bodies). In a
        6-minute soak at 2,000 records/s its p50 went from 47-50 to 28-36 ms (docs/reliability.md).

        `request_head_bytes` (the ClickHouse endpoint's): the largest request line and headers
        accepted, instead of h11's 16 KiB, so that a query in the URL reaches the app, which answers
        413 above its own limit; a larger head gets a ClickHouse-shaped 413 from the protocol.

        The certificate is optional at the handshake (a sender may use a bearer token instead),
        verified against `client_ca` when presented, and handed to the app through the ASGI TLS
        extension.
        """
        client_auth: dict[str, Any] = {}
        if client_ca is not None:
            from ldv_collector import ClientCertificateHTTP

            client_auth = {
                "ssl_ca_certs": str(client_ca),
                "ssl_cert_reqs": ssl.CERT_OPTIONAL,
                "http": ClientCertificateHTTP,
            }
        config = uvicorn.Config(
            app,
            host=self.settings.host,
            port=port,
            log_level=self.settings.log_level,
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=30,
            ssl_certfile=self.settings.tls_cert_file,
            ssl_keyfile=self.settings.tls_key_file,
            **client_auth,
        )
        if request_head_bytes is not None:
            config.h11_max_incomplete_event_size = request_head_bytes
            config.http = _clickhouse_h11(request_head_bytes)
        server = _SharedSignalServer(config)
        server.own_loop = own_loop
        self.servers.append(server)

    def stop(self) -> None:
        """Ask the stack to stop (idempotent; safe from a signal handler)."""
        self._stop_requested.set()

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM or `stop()`; then shut down cleanly and close the store.

        Shutdown order: gRPC stops taking exports and finishes those in flight, then the HTTP
        servers stop taking requests and finish theirs (the collector's writer commits them),
        then the collector's lifespan stops the writer, which stores anything still pending.
        """
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        sockets: list[socket.socket] = []
        tasks: list[asyncio.Task[None]] = []
        grpc_server = None
        # The logs' full tiles copied to files, behind the checkpoints (TileMirror): proofs without a query.
        mirror = TileMirror(self.store, self.store.tile_files) if self.store.tile_files is not None else None
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)  # see SWITCH_INTERVAL_S; restored when the stack stops
        try:
            # Bind every port before serving any: a port in use is one clear error, not a crash.
            sockets = [bind_socket(server.config.host, server.config.port) for server in self.servers]
            tasks = [
                asyncio.create_task(
                    asyncio.to_thread(asyncio.run, server.serve(sockets=[sock]))
                    if server.own_loop
                    else server.serve(sockets=[sock])
                )
                for server, sock in zip(self.servers, sockets)
            ]
            while not all(s.started for s in self.servers) and not any(t.done() for t in tasks):
                await asyncio.sleep(0.02)
            if all(s.started for s in self.servers):
                grpc_server = await self._start_grpc()
                if mirror is not None:
                    mirror.start()
                if on_ready is not None:
                    on_ready()
                stopper = asyncio.create_task(self._stop_requested.wait())
                await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=30)
            for server in self.servers:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            for sock in sockets:
                sock.close()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            if mirror is not None:
                await asyncio.to_thread(mirror.stop)
            self.store.close()
            sys.setswitchinterval(switch_interval)
        failed = [s for s in self.servers if not s.started]
        if failed:
            ports = ", ".join(str(s.config.port) for s in failed)
            raise PortUnavailable(f"could not start listening on port(s) {ports} (in use?)")

    async def _start_grpc(self) -> Any:
        """Start OTLP/gRPC on the collector of the first (OTLP/HTTP) server; None when disabled."""
        if not self.settings.otlp_grpc_port:
            return None
        from ldv_collector import create_grpc_server

        tls = None
        if self.settings.tls_cert_file and self.settings.tls_key_file:
            tls = (self.settings.tls_cert_file.read_bytes(), self.settings.tls_key_file.read_bytes())
        client_ca = self.settings.tls_client_ca_file.read_bytes() if self.settings.tls_client_ca_file else None
        server, _port = create_grpc_server(
            self.collector, self.settings.host, self.settings.otlp_grpc_port, tls=tls, client_ca=client_ca
        )
        await server.start()
        return server
