"""Every committed fuzz input (fuzz/corpus: seeds; fuzz/crashes: what the fuzzer found, fixed since)
through its target, without atheris: what was found once stays found. `make fuzz` fuzzes anew."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.targets import TARGETS, bind_store, inputs
from ldv_collector import CollectorSettings, create_app
from ldv_logboek.storage import LogStore
from tests.collector.helpers import AsgiClient


@pytest.fixture(scope="module", autouse=True)
def fuzz_store(store: LogStore) -> Iterator[None]:
    bind_store(store)  # chDB: one data directory per process, the module's
    yield
    bind_store(None)


CASES = [(name, path) for name in TARGETS for path in inputs(name)]


@pytest.mark.parametrize(("target", "path"), CASES, ids=[f"{n}/{p.parent.name}/{p.name}" for n, p in CASES])
def test_a_committed_input_is_answered_as_documented(target: str, path: Path) -> None:
    TARGETS[target].check(path.read_bytes())


def test_every_target_has_seeds() -> None:
    assert all(inputs(name) for name in TARGETS)


def test_an_activity_id_urlsplit_cannot_take_is_a_rejected_span_not_a_500(store: LogStore) -> None:
    """Found by the fuzzer (fuzz/crashes/otlp_json/invalid-ipv6-url): `https://register.examp[le/...`
    made Python's urlsplit raise in the URI check, and the whole request failed."""
    body = (Path(__file__).resolve().parents[2] / "fuzz" / "crashes" / "otlp_json" / "invalid-ipv6-url").read_bytes()
    app = create_app(store, CollectorSettings(pseudonymisation_key="fuzz-organisation-key-0123456789"))
    app.state.writer.start()
    try:
        response = AsgiClient(app).post("/v1/traces", content=body, headers={"Content-Type": "application/json"})
    finally:
        app.state.writer.stop()
    assert response.status_code in (200, 400), response.text  # the sender's fault: never a 5xx
