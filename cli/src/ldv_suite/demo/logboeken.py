"""The demo's own Logboeken: organisations that keep their Logboek apart, each a real `ldv serve`.

Each runs as its own process (`ldv serve`, through `ldv_suite.demo.logboek_process`, which
stops it when the demo is gone) with its own data directory
(`<data-dir>/logboeken/<organisation>/`), its own ports, the register and only its own
organisation's pseudonymisation key and sender. Its tokens are checked against the demo
issuer's JWKS URL with its own audience: the organisation's read API URL in the register, its
identifier. It is configured only through `LDV_*` environment variables and flags, exactly as
an organisation would run it; nothing of the demo is imported into it.

`<data-dir>/demo/logboeken.json` says which Logboek runs where (and its process id), for
people and for tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ldv_collector import token_sha256
from ldv_suite.demo.keys import ISSUER, DemoSecrets
from ldv_suite.demo.launcher import free_ports, stop_processes, wait_started

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
READY_LINE = "LDV suite ready"


@dataclass
class LogboekProcess:
    """One organisation's own Logboek: an `ldv serve` process."""

    organisation: str
    identifier: str  # its read API URL in the register: the audience of its tokens
    data_dir: Path
    api_url: str  # where its read API really is, e.g. http://127.0.0.1:43121/lezenapi/v1
    otlp_endpoint: str
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0  # where this run's output starts in the (appended) log file

    def log_tail(self, lines: int = 20) -> str:
        """The last `lines` lines this run wrote to the log."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self.log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class LogboekFleet:
    """The organisations' own Logboeken of the demo."""

    host: str
    secrets: DemoSecrets
    data_dir: Path
    register_dir: Path
    jwks_url: str
    logboeken: dict[str, LogboekProcess] = field(default_factory=dict)
    witnesses: str = "[]"  # LDV_COLLECTOR_LOG_WITNESSES of every Logboek (the supervisor's witness)

    def plan(self, identifiers: Mapping[str, str]) -> None:
        """Choose ports and folders for organisation -> identifier (nothing starts yet)."""
        ports = free_ports(self.host, 2 * len(identifiers))
        for index, (org, identifier) in enumerate(sorted(identifiers.items())):
            api_port, otlp_port = ports[2 * index], ports[2 * index + 1]
            self.logboeken[org] = LogboekProcess(
                organisation=org,
                identifier=identifier,
                data_dir=self.data_dir / "logboeken" / org,
                api_url=f"http://{self.host}:{api_port}/lezenapi/v1",
                otlp_endpoint=f"http://{self.host}:{otlp_port}/v1/traces",
                log_file=self.secrets.log_dir / f"logboek-{org}.log",
            )

    def start(self) -> None:
        """Start every planned Logboek (returns at once; `wait_ready` waits for them)."""
        for logboek in self.logboeken.values():
            logboek.data_dir.mkdir(parents=True, exist_ok=True)
            logboek.log_file.parent.mkdir(parents=True, exist_ok=True)
            api_port = logboek.api_url.rsplit(":", 1)[1].split("/")[0]
            otlp_port = logboek.otlp_endpoint.rsplit(":", 1)[1].split("/")[0]
            cmd = [
                sys.executable, "-m", "ldv_suite.demo.logboek_process", "serve",
                "--data-dir", str(logboek.data_dir),
                "--host", self.host,
                "--api-port", api_port,
                "--otlp-http-port", otlp_port,
                "--otlp-grpc-port", "0",
                "--clickhouse-port", "0",  # the demo shows pages and read APIs, not Grafana
                "--register", str(self.register_dir),
            ]  # fmt: skip
            with logboek.log_file.open("ab") as out:
                logboek.log_offset = out.tell()
                # A session of its own: Ctrl-C reaches `ldv demo` only, which stops the
                # services first, so their last records still reach this Logboek.
                logboek.process = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **self._environment(logboek), "COLUMNS": "200"},
                )
        self._write_index()

    def _environment(self, logboek: LogboekProcess) -> dict[str, str]:
        org = logboek.organisation
        key = self.secrets.key_file(org).read_text().strip()
        token = self.secrets.token_file(org).read_text().strip()
        return {
            "LDV_SERVE_LOG_LEVEL": "warning",
            "LDV_ORGANISATION_KEYS": json.dumps({org: key}),
            "LDV_COLLECTOR_SENDERS": json.dumps({org: {"organisation": org, "token_sha256": token_sha256(token)}}),
            "LDV_AUTH_JWKS_URL": self.jwks_url,
            "LDV_AUTH_ISSUER": ISSUER,
            "LDV_AUTH_AUDIENCE": logboek.identifier,
            # This Logboek has no citizen page of its own in the demo: it asks no one.
            "LDV_INZAGE_FOLLOW_CHAIN": "false",
            # Its transparency log (key made by the demo in its data directory) is cosigned by the
            # supervisor's witness.
            "LDV_COLLECTOR_LOG_WITNESSES": self.witnesses,
        }

    def _write_index(self) -> None:
        index = {
            org: {
                "identifier": lb.identifier,
                "readApi": lb.api_url,
                "otlp": lb.otlp_endpoint,
                "dataDir": str(lb.data_dir),
                "pid": lb.process.pid if lb.process else None,
            }
            for org, lb in self.logboeken.items()
        }
        (self.secrets.directory / "logboeken.json").write_text(json.dumps(index, indent=2))

    async def wait_ready(self) -> None:
        """Wait until every Logboek says it is ready; ServiceFailed (with its log) otherwise."""

        async def ready(org: str) -> bool:
            return READY_LINE in self.logboeken[org].log_tail(200)

        await wait_started(self.logboeken, ready, "the Logboek of {}", "Logboeken", START_TIMEOUT_SECONDS)

    async def stop(self) -> None:
        """SIGTERM every Logboek (each stores what it acknowledged), SIGKILL what lingers."""
        await stop_processes(
            {f"the Logboek of {org}": lb.process for org, lb in self.logboeken.items()}, STOP_TIMEOUT_SECONDS
        )
