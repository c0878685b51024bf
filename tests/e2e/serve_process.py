"""Start `ldv serve` as a real subprocess on free loopback ports, for end-to-end tests.

The process trusts a token issuer of its own (a key pair generated per ServeProcess, its JWKS
given through `LDV_AUTH_*`), and `read`/`read_all` call the read API as a supervisor.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx

from tests.inzicht_api.inzage_support import AUDIENCE, ISSUER, Signer, write_jwks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on TCP `port` on this machine (Linux: /proc/net/tcp and tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def _listened_by(pid: int, ports: list[int]) -> bool:
    """True when process `pid` itself listens on every one of `ports`.

    Not merely "something answers there": under parallel load another test's server may take a
    port between `free_port()` and the child's bind, and must not pass for the child.
    """
    try:
        owned = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:
        return False
    return all(any(f"socket:[{inode}]" in owned for inode in _listening_inodes(port)) for port in ports)


# What `ldv serve` logs when a port it was given is taken (ldv_suite.server.PortUnavailable, gRPC's bind).
_PORT_TAKEN = ("cannot listen on", "could not start listening", "Address already in use", "Failed to bind")
_PORT_FIELDS = ("otlp_port", "api_port", "grpc_port", "clickhouse_port")


class PortTaken(RuntimeError):
    """`ldv serve` stopped because another process holds a port it was given."""


@dataclass
class ServeProcess:
    """One `ldv serve` process; `start()` waits until both ports answer."""

    data_dir: Path
    # Ports: 0 (the default) picks a free one; one picked here is picked again if another process
    # takes it before `ldv serve` binds it (see `start`). A port given is used as given.
    otlp_port: int = 0
    api_port: int = 0
    grpc_port: int = 0
    clickhouse_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    signer: Signer = field(default_factory=lambda: Signer.generate("e2e-issuer"))
    tls: tuple[Path, Path] | None = None  # (certificate, key): serve over TLS
    client_ca: Path | None = None  # with tls: the OTLP ports ask for client certificates of this CA
    env: dict[str, str] = field(default_factory=dict)  # more environment, e.g. LDV_COLLECTOR_SENDERS
    extra_args: list[str] = field(default_factory=list)  # more flags, e.g. --register
    # A ClickHouse behind HTTP instead of the embedded store (see tests/e2e/conftest.py).
    store_dsn: str | None = field(default_factory=lambda: ServeProcess.backing_dsn)

    # Set while the e2e suite runs against a store behind the ClickHouse HTTP interface.
    backing_dsn: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        self._picked = [name for name in _PORT_FIELDS if not getattr(self, name)]
        self._pick_ports()

    def _pick_ports(self) -> None:
        for name in self._picked:
            setattr(self, name, free_port())

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def traces_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.otlp_port}/v1/traces"

    @property
    def api_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.api_port}"

    @property
    def verify(self) -> str | bool:
        """What httpx should trust: the test certificate under TLS."""
        return str(self.tls[0]) if self.tls else True

    def start(self, timeout: float = 60.0, attempts: int = 5) -> ServeProcess:
        """Start `ldv serve` and wait until it listens on its OTLP/HTTP and API ports.

        A free port can be taken by another process between `free_port()` and the child's bind
        (tests run in parallel): when the child stops because a port it was given is taken, the
        ports picked here are picked anew and it is started again, up to `attempts` times.
        """
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if attempt == attempts - 1 or not self._picked:
                    raise
                self._pick_ports()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> ServeProcess:
        self.log_path = self.data_dir.parent / f"serve-{self.api_port}.log"
        before = self.log_path.stat().st_size if self.log_path.exists() else 0  # an earlier run's lines stay
        log = self.log_path.open("ab")
        cmd = [
            sys.executable, "-m", "ldv_suite.cli", "serve",
            "--data-dir", str(self.data_dir),
            "--otlp-http-port", str(self.otlp_port),
            "--otlp-grpc-port", str(self.grpc_port),
            "--api-port", str(self.api_port),
            "--clickhouse-port", str(self.clickhouse_port),
        ]  # fmt: skip
        if self.tls:
            cmd += ["--tls-cert-file", str(self.tls[0]), "--tls-key-file", str(self.tls[1])]
        if self.client_ca:
            cmd += ["--tls-client-ca-file", str(self.client_ca)]
        if self.store_dsn:
            cmd += ["--store-dsn", self.store_dsn]
        cmd += self.extra_args
        jwks = write_jwks(self.data_dir.parent / f"jwks-{self.api_port}.json", self.signer)
        env = {
            **os.environ,
            "COLUMNS": "200",
            "LDV_AUTH_JWKS_FILE": str(jwks),
            "LDV_AUTH_ISSUER": ISSUER,
            "LDV_AUTH_AUDIENCE": AUDIENCE,
            **self.env,
        }
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_text = self.log()
                this_run = self.log_path.read_bytes()[before:].decode(errors="replace")
                if any(taken in this_run for taken in _PORT_TAKEN):
                    raise PortTaken(f"ldv serve could not bind its ports:\n{log_text}")
                raise RuntimeError(f"ldv serve exited with {self.proc.returncode}:\n{log_text}")
            if _listened_by(self.proc.pid, [self.otlp_port, self.api_port]):
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"ldv serve did not start within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no flush, no goodbye."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def supervisor_headers(self) -> dict[str, str]:
        """A fresh supervisor token of the issuer this process trusts."""
        return {"Authorization": "Bearer " + self.signer.token(roles=["supervisor"])}

    def read(self, body: dict, *, anonymous: bool = False, **params: str | int) -> httpx.Response:
        """POST `body` to the read API, as a supervisor (or without a token)."""
        headers = {} if anonymous else self.supervisor_headers()
        return httpx.post(
            f"{self.api_url}/lezenapi/v1/processing-activities",
            json=body, params=params, headers=headers, timeout=30, verify=self.verify,
        )

    def read_all(self, body: dict, limit: int = 1000) -> list[dict]:
        """Every record matching `body`, following the cursor from page to page."""
        records: list[dict] = []
        cursor: str | None = None
        for _ in range(10_000):
            params: dict[str, str | int] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            response = self.read(body, **params)
            assert response.status_code == 200, response.text
            page = response.json()
            records += page["processingActivities"]
            cursor = page.get("nextCursor")
            if not cursor:
                return records
        raise AssertionError("paging did not end")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files in `directory`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ldv-test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
