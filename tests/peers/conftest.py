"""A Logboek (`ldv serve`) with a sender per organisation, and the services around it, for the
examples' tests: the Go and Java examples and a Python service with our SDK, each as a process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ldv_collector._senders import token_sha256
from tests.e2e.serve_process import ServeProcess, free_port
from tests.peers.go_support import REPO


@dataclass(frozen=True)
class Sender:
    organisation: str
    service: str
    token: str
    key: str
    activity: str

    @property
    def application_uri(self) -> str:
        return f"urn:ldv:application:{self.organisation}:{self.service}"

    def otel_env(self, logboek: ServeProcess, *, pseudonymise_at_source: bool = True) -> dict[str, str]:
        """The standard OpenTelemetry variables (and the example's LDV_* ones) of a Java or Go service."""
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{logboek.otlp_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{self.token}",
            "OTEL_SERVICE_NAME": self.service,
            "OTEL_RESOURCE_ATTRIBUTES": f"dpl.suite.organisation={self.organisation}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_TRACES_SAMPLER": "always_on",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "LDV_ORGANISATION": self.organisation,
            "LDV_ACTIVITY": self.activity,
        }
        if pseudonymise_at_source:
            env["LDV_PSEUDONYM_KEY"] = self.key
        return env


GO = Sender("belastingdienst", "inkomen-api", "go-sender-token-3b7f0c1e9a2d4f68", "belastingdienst-sleutel-0123456789",
            "https://register.belastingdienst.example/processing-activities/inkomen-verstrekken")  # fmt: skip
PYTHON = Sender("dienst-toeslagen", "toeslagen-api", "py-sender-token-8e1d2c3b4a5f6e7d", "toeslagen-sleutel-0123456789ab",
                "https://register.toeslagen.example/processing-activities/huurtoeslag")  # fmt: skip
JAVA = Sender("gemeente-utrecht", "aanvraag-api", "java-sender-token-1a2b3c4d5e6f7a8b", "utrecht-sleutel-0123456789abcd",
              "https://register.utrecht.example/processing-activities/aanvraag-toeslag")  # fmt: skip
GO_CALLER = Sender("gemeente-utrecht", "aanvraag-go", "go-caller-token-9f8e7d6c5b4a3f2e", JAVA.key, JAVA.activity)
SENDERS = (GO, PYTHON, JAVA, GO_CALLER)


@pytest.fixture(scope="module")
def logboek(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """`ldv serve` that accepts each sender with its token, and knows each organisation's key
    (so it pseudonymises a clear BSN that a service left to it)."""
    senders = {f"{s.service}": {"organisation": s.organisation, "token_sha256": token_sha256(s.token)} for s in SENDERS}
    keys = {s.organisation: s.key for s in SENDERS}
    env = {"LDV_COLLECTOR_SENDERS": json.dumps(senders), "LDV_ORGANISATION_KEYS": json.dumps(keys)}
    serve = ServeProcess(tmp_path_factory.mktemp("logboek") / "data", env=env).start()
    yield serve
    serve.kill()


def trace_records(logboek: ServeProcess, trace_id: str, count: int, timeout: float = 60) -> list[dict]:
    """The records of `trace_id` through the read API, once `count` have arrived (the exporters batch)."""
    deadline = time.monotonic() + timeout
    records: list[dict] = []
    while time.monotonic() < deadline:
        records = logboek.read_all({"traceId": trace_id})
        if len(records) >= count:
            time.sleep(0.5)  # and nothing more arrives
            return logboek.read_all({"traceId": trace_id})
        time.sleep(0.2)
    raise AssertionError(f"{len(records)} of {count} records of trace {trace_id} arrived:\n{json.dumps(records, indent=1)}")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text(errors='replace')}")


@dataclass
class Service:
    """A service process on a loopback port; stopped with SIGTERM (its exporter flushes)."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_service(cmd: list[str], env: dict[str, str], port: int, log: Path, cwd: Path = REPO) -> Service:
    handle = log.open("ab")
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT)
    service = Service(proc, port, log)
    try:
        wait_for_port(port, proc, log)
    except BaseException:
        service.stop()
        raise
    return service


@pytest.fixture(scope="module")
def python_service_factory(logboek: ServeProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Starts the Python service (our SDK) in the middle of a trace, posting on to `next_url`."""
    started: list[Service] = []

    def start(next_url: str) -> Service:
        port = free_port()
        directory = tmp_path_factory.mktemp("python-service")
        env = {
            "LDV_ORGANISATION": PYTHON.organisation, "LDV_SERVICE_NAME": PYTHON.service,
            "LDV_PSEUDONYM_KEY": PYTHON.key, "LDV_SENDER_TOKEN": PYTHON.token,
            "LDV_ENDPOINT": logboek.traces_url, "LDV_SPOOL_PATH": str(directory / "spool.sqlite3"),
            "LDV_ACTIVITY": PYTHON.activity, "NEXT_URL": next_url,
        }  # fmt: skip
        service = start_service([sys.executable, "-m", "tests.peers.python_service", str(port)], env, port,
                                directory / "service.log")  # fmt: skip
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def flush_python(service: Service) -> None:
    assert httpx.post(service.url + "/flush", timeout=60).json() == {"flushed": True}
