"""examples/java: a Spring Boot service with the OpenTelemetry Spring Boot starter and its OTLP
exporter logging LDV records into a real `ldv serve`, and one trace that crosses
Java → Python (our SDK) → Go, read back through the read API.

Built with Maven (dependencies from Maven Central; `mvn package` also runs the example's unit
test of its pseudonyms against docs/pseudonymisation-vectors.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ldv_logboek import attributes as attr
from tests.e2e.serve_process import ServeProcess, free_port
from tests.peers.conftest import GO, JAVA, PYTHON, Sender, Service, flush_python, start_service, trace_records
from tests.peers.go_support import REPO, go_binary, mvn_binary, run
from tests.peers.test_go_example import BSNS, assert_processing

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EXAMPLE = REPO / "examples" / "java"
GO_EXAMPLE = REPO / "examples" / "go"


@pytest.fixture(scope="module")
def jar() -> Path:
    built = run([mvn_binary(), "-B", "-q", "package"], EXAMPLE, timeout=900)
    assert built.returncode == 0, built.stdout[-20000:]
    report = (EXAMPLE / "target" / "surefire-reports" / "nl.ldv.voorbeeld.PseudonymTest.txt").read_text()
    assert "Tests run: 1, Failures: 0, Errors: 0, Skipped: 0" in report
    return EXAMPLE / "target" / "ldv-voorbeeld.jar"


@pytest.fixture(scope="module")
def go_binary_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("go-example") / "verwerking"
    built = run([go_binary(), "build", "-o", str(path), "./cmd/verwerking"], GO_EXAMPLE)
    assert built.returncode == 0, built.stdout
    return path


@pytest.fixture
def java_service(jar: Path, logboek: ServeProcess, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(*, next_url: str = "", at_source: bool = True) -> Service:
        port = free_port()
        env = JAVA.otel_env(logboek, pseudonymise_at_source=at_source) | {
            "SERVER_PORT": str(port), "SERVER_ADDRESS": "127.0.0.1", "LDV_NEXT_URL": next_url,
        }  # fmt: skip
        service = start_service(["java", "-jar", str(jar)], env, port, tmp_path / f"java-{port}.log", cwd=EXAMPLE)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def _aanvragen(service: Service, bsns: list[str]) -> dict[str, str]:
    response = httpx.post(service.url + "/aanvragen", json={"bsns": bsns}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("at_source", [True, False], ids=["pseudonymised-at-source", "left-to-the-collector"])
def test_spring_boot_logs_a_processing_with_a_child_per_subject(
    java_service: Callable[..., Service], logboek: ServeProcess, at_source: bool
) -> None:
    service = java_service(at_source=at_source)
    ids = _aanvragen(service, BSNS)
    service.stop()  # the SDK flushes at shutdown; the batch processor sends earlier anyway
    records = trace_records(logboek, ids["traceId"], 1 + len(BSNS))
    action = assert_processing(records, JAVA, ids["spanId"], BSNS)
    assert action["name"] == "toeslag aanvragen" and "parentSpanId" not in action
    assert not any(b in json.dumps(records) for b in BSNS)


def _action(records: list[dict], sender: Sender) -> dict:
    return next(r for r in records if r["resource"]["attributes"][attr.ORGANISATION] == sender.organisation
                and attr.DATA_SUBJECT_ID not in r["attributes"])  # fmt: skip


def test_one_trace_from_java_through_python_to_go(
    java_service: Callable[..., Service], go_binary_built: Path, logboek: ServeProcess,
    python_service_factory: Callable[[str], Service], tmp_path: Path,
) -> None:  # fmt: skip
    go_port = free_port()
    go = start_service([str(go_binary_built), "serve", f"127.0.0.1:{go_port}"], GO.otel_env(logboek), go_port,
                       tmp_path / "go.log", cwd=GO_EXAMPLE)  # fmt: skip
    try:
        python = python_service_factory(go.url + "/verwerk")
        java = java_service(next_url=python.url + "/verwerk")
        ids = _aanvragen(java, BSNS[:2])
        flush_python(python)
    finally:
        go.stop()
    records = trace_records(logboek, ids["traceId"], 3 * 3)
    assert len(records) == 9
    java_action = assert_processing(records, JAVA, ids["spanId"], BSNS[:2])
    python_action = _action(records, PYTHON)
    assert_processing(records, PYTHON, python_action["spanId"], BSNS[:2])
    go_action = _action(records, GO)
    assert_processing(records, GO, go_action["spanId"], BSNS[:2])
    # Each processing under its caller's, each caller named by its application URI.
    assert python_action["parentSpanId"] == java_action["spanId"]
    assert python_action["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == JAVA.application_uri
    assert go_action["parentSpanId"] == python_action["spanId"]
    assert go_action["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == PYTHON.application_uri
    # Three organisations, three pseudonyms per citizen: unrelated across organisations.
    subjects = {r["attributes"][attr.DATA_SUBJECT_ID] for r in records if attr.DATA_SUBJECT_ID in r["attributes"]}
    assert len(subjects) == 3 * 2
