"""examples/go: a Go service with the OpenTelemetry Go SDK and otlptracehttp logging LDV records
into a real `ldv serve`, read back through the read API.

Built with the go command (modules from the module proxy); its own unit tests check its
pseudonyms against docs/pseudonymisation-vectors.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ldv_logboek import attributes as attr
from ldv_logboek import pseudonymise
from tests.e2e.serve_process import ServeProcess, free_port
from tests.peers.conftest import GO, GO_CALLER, PYTHON, Sender, Service, flush_python, start_service, trace_records
from tests.peers.go_support import REPO, go_binary, go_test, run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EXAMPLE = REPO / "examples" / "go"
BSNS = ["123456782", "111222333", "012345672"]


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("go-example") / "verwerking"
    built = run([go_binary(), "build", "-o", str(path), "./cmd/verwerking"], EXAMPLE)
    assert built.returncode == 0, built.stdout
    return path


def call(binary: Path, env: dict[str, str], next_url: str, *bsns: str) -> dict[str, str]:
    result = run([str(binary), "call", next_url, *bsns], EXAMPLE, env, timeout=120)
    assert result.returncode == 0, result.stdout
    return json.loads(result.stdout.strip().splitlines()[-1])


def _by_span(records: list[dict]) -> dict[str, dict]:
    return {r["spanId"]: r for r in records}


def assert_processing(records: list[dict], sender: Sender, action_span: str, bsns: list[str]) -> dict:
    """One action record without subject and one child per subject under it, all of `sender`'s
    organisation and activity, each subject as the organisation's pseudonym; returns the action."""
    mine = [r for r in records if r["resource"]["attributes"][attr.ORGANISATION] == sender.organisation
            and r["attributes"][attr.PROCESSING_ACTIVITY_ID] == sender.activity]  # fmt: skip
    action = _by_span(mine)[action_span]
    assert attr.DATA_SUBJECT_ID not in action["attributes"]
    children = [r for r in mine if r.get("parentSpanId") == action_span]
    assert sorted(c["attributes"][attr.DATA_SUBJECT_ID] for c in children) == sorted(
        pseudonymise(b, sender.key.encode()) for b in bsns
    )
    assert all(c["attributes"][attr.DATA_SUBJECT_ID_TYPE] == "BSN" and c["name"] == action["name"] for c in children)
    assert all(c["status"] == action["status"] == "Ok" for c in children)
    assert len(mine) == 1 + len(bsns)
    assert all(r["resource"]["attributes"][attr.SERVICE_NAME] == sender.service for r in mine)
    return action


def test_the_examples_unit_tests_pass_the_pseudonym_vectors() -> None:
    output = go_test(EXAMPLE, {})
    assert "--- PASS: TestPseudonymMatchesTheSuitesVectors" in output


@pytest.mark.parametrize("at_source", [True, False], ids=["pseudonymised-at-source", "left-to-the-collector"])
def test_a_processing_with_a_child_record_per_subject(binary: Path, logboek: ServeProcess, at_source: bool) -> None:
    env = GO.otel_env(logboek, pseudonymise_at_source=at_source)
    ids = call(binary, env, "-", *BSNS)
    records = trace_records(logboek, ids["traceId"], 1 + len(BSNS))
    action = assert_processing(records, GO, ids["spanId"], BSNS)
    assert action["name"] == "toeslag aanvragen" and "parentSpanId" not in action
    # Whichever way, no clear BSN was stored.
    assert not any(b in json.dumps(records) for b in BSNS)


def test_without_the_sender_token_nothing_is_stored(binary: Path, logboek: ServeProcess) -> None:
    env = GO.otel_env(logboek) | {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20wrong-token"}
    result = run([str(binary), "call", "-", *BSNS], EXAMPLE, env, timeout=120)
    ids = json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])
    assert "401" in result.stdout  # the exporter reports the collector's refusal
    assert logboek.read_all({"traceId": ids["traceId"]}) == []


@pytest.fixture
def go_server(binary: Path, logboek: ServeProcess, tmp_path: Path) -> Iterator[Callable[[], Service]]:
    started: list[Service] = []

    def start() -> Service:
        port = free_port()
        service = start_service([str(binary), "serve", f"127.0.0.1:{port}"], GO.otel_env(logboek), port,
                                tmp_path / f"go-{port}.log", cwd=EXAMPLE)  # fmt: skip
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def test_trace_context_from_go_to_python_and_back(
    binary: Path, logboek: ServeProcess, go_server: Callable[[], Service], python_service_factory: Callable[[str], Service]
) -> None:
    """Go (a municipality) → Python with our SDK (Toeslagen) → Go (the Belastingdienst): one trace,
    each service's processing under its caller's, each caller named by its application URI."""
    server = go_server()
    python = python_service_factory(server.url + "/verwerk")
    ids = call(binary, GO_CALLER.otel_env(logboek), python.url + "/verwerk", *BSNS[:2])
    flush_python(python)
    server.stop()  # its exporter flushes at shutdown
    records = trace_records(logboek, ids["traceId"], 3 * 3)
    assert len(records) == 9
    caller = assert_processing(records, GO_CALLER, ids["spanId"], BSNS[:2])
    python_action = next(r for r in records if r["resource"]["attributes"][attr.ORGANISATION] == PYTHON.organisation
                         and attr.DATA_SUBJECT_ID not in r["attributes"])  # fmt: skip
    assert_processing(records, PYTHON, python_action["spanId"], BSNS[:2])
    assert python_action["parentSpanId"] == caller["spanId"]
    assert python_action["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == GO_CALLER.application_uri
    assert python_action["attributes"][attr.FOREIGN_OPERATION_SPAN_ID] == caller["spanId"]
    go_action = next(r for r in records if r["resource"]["attributes"][attr.ORGANISATION] == GO.organisation
                     and attr.DATA_SUBJECT_ID not in r["attributes"])  # fmt: skip
    assert_processing(records, GO, go_action["spanId"], BSNS[:2])
    assert go_action["parentSpanId"] == python_action["spanId"]
    assert go_action["attributes"][attr.FOREIGN_OPERATION_PROCESSOR] == PYTHON.application_uri
    assert go_action["attributes"][attr.FOREIGN_OPERATION_SPAN_ID] == python_action["spanId"]
