"""Start, watch and stop the organisation services, one subprocess each, on free loopback ports."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ldv_suite.demo.keys import DemoSecrets
from ldv_suite.errors import SuiteError

log = logging.getLogger("ldv.demo")

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


class ServiceFailed(SuiteError):
    """A service did not start, or stopped answering; the message points at its log file."""


def free_ports(host: str, count: int) -> list[int]:
    """`count` distinct ports that are free on `host` right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def stop_processes(processes: Mapping[str, subprocess.Popen[bytes] | None], timeout: float) -> None:
    """SIGTERM every running process of `processes` (keyed by what to call it in the log), then
    wait up to `timeout` for each; SIGKILL what lingers."""
    running = {name: p for name, p in processes.items() if p is not None and p.poll() is None}
    for process in running.values():
        process.send_signal(signal.SIGTERM)
    for name, process in running.items():
        try:
            await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killed", name)
            process.kill()
            await asyncio.to_thread(process.wait, timeout)


async def wait_started(
    processes: Mapping[str, Any], ready: Callable[[str], Awaitable[bool]], name: str, what: str, timeout: float
) -> None:
    """Wait until `ready(key)` for each of `processes` (a ServiceProcess or a LogboekProcess); ServiceFailed
    with its log when one exits (`name` formatted with its key), or naming those still `what` after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waiting = set(processes)
    while waiting:
        for key in sorted(waiting):
            started = processes[key]
            assert started.process is not None
            if started.process.poll() is not None:
                raise ServiceFailed(
                    f"{name.format(key)} exited with {started.process.returncode}; "
                    f"its log ({started.log_file}):\n{started.log_tail()}"
                )
            if await ready(key):
                waiting.discard(key)
        if waiting:
            if loop.time() > deadline:
                raise ServiceFailed(f"{what} did not start within {timeout:.0f}s: {sorted(waiting)}")
            await asyncio.sleep(0.1)


@dataclass
class ServiceProcess:
    """One organisation's service process."""

    organisation: str
    url: str
    log_file: Path
    process: subprocess.Popen[bytes] | None = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class ServiceFleet:
    """All organisation services of the demo."""

    host: str
    endpoint: str
    secrets: DemoSecrets  # also where the services' spools and logs go (spool_dir, log_dir)
    read_apis: Mapping[str, str]
    endpoints: Mapping[str, str] = field(default_factory=dict)
    """Organisation -> the OTLP endpoint of its own Logboek, for those that keep one (else `endpoint`)."""
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    async def start(self, organisations: Sequence[str]) -> None:
        """Start every service and wait until each answers `/health`; ServiceFailed otherwise."""
        for folder in (self.secrets.spool_dir, self.secrets.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        ports = free_ports(self.host, len(organisations))
        for org, port in zip(organisations, ports):
            self.services[org] = ServiceProcess(org, f"http://{self.host}:{port}/", self.secrets.log_dir / f"{org}.log")
        for org, service in self.services.items():
            cmd = [
                sys.executable, "-m", "ldv_suite.demo.services", org,
                "--host", self.host,
                "--port", service.url.rsplit(":", 1)[1].strip("/"),
                "--endpoint", self.endpoints.get(org, self.endpoint),
                "--key-file", str(self.secrets.key_file(org)),
                "--token-file", str(self.secrets.token_file(org)),
                "--spool", str(self.secrets.spool_dir / f"{org}.db"),
            ]  # fmt: skip
            for peer, other in self.services.items():
                if peer != org:
                    cmd += ["--peer", f"{peer}={other.url}"]
                    if peer in self.read_apis:
                        cmd += ["--read-api", f"{peer}={self.read_apis[peer]}"]
            with service.log_file.open("ab") as out:
                # A session of its own: Ctrl-C in the terminal reaches `ldv demo` only, which then
                # stops the services before the collector, so their last records still arrive.
                service.process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; waiting is async below
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        await self._wait_healthy()

    async def _wait_healthy(self) -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:

            async def healthy(org: str) -> bool:
                try:
                    return (await client.get(self.services[org].url + "health")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_started(self.services, healthy, "the {} service", "services", START_TIMEOUT_SECONDS)

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait until every service's SDK delivered its spooled records (the collector stored them)."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            answers = await asyncio.gather(
                *(client.post(s.url + "demo/flush") for s in self.services.values()), return_exceptions=True
            )
        for service, answer in zip(self.services.values(), answers):
            if isinstance(answer, BaseException) or answer.status_code != 200 or not answer.json().get("delivered"):
                raise ServiceFailed(
                    f"the {service.organisation} service could not deliver its records; its log ({service.log_file}):\n"
                    f"{service.log_tail()}"
                )

    async def stop(self) -> None:
        """SIGTERM every service (each delivers what it still holds), SIGKILL what lingers."""
        await stop_processes(
            {f"the {s.organisation} service": s.process for s in self.services.values()}, STOP_TIMEOUT_SECONDS
        )
