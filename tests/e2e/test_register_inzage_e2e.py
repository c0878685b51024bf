"""`ldv serve --register`: the register loaded at start, read back through the register API, and a
citizen's inzage joining their records with it, from records sent over OTLP by the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from tests.conftest import REPO_ROOT
from tests.e2e.serve_process import ServeProcess
from tests.inzicht_api.inzage_support import ACT, KEYS, LINDA, citizen

# Twice: on the embedded store, and on a store behind the ClickHouse HTTP interface (conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("store_mode")]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(
        tmp_path / "data",
        env={"LDV_ORGANISATION_KEYS": json.dumps(KEYS), "LDV_INZAGE_FOLLOW_CHAIN": "false"},
        extra_args=["--register", str(REPO_ROOT / "demo" / "register")],
    ).start()
    yield process
    process.kill()


def test_register_and_inzage(serve: ServeProcess, store_mode: str) -> None:
    # Behind the ClickHouse HTTP interface this process has no embedded store of its own.
    assert serve.data_dir.exists() == (store_mode == "embedded")
    activity = ACT["huurtoeslag"]
    response = httpx.get(f"{serve.api_url}/registerapi/v1/processing-activities/{quote(activity, safe='')}",
                         headers=serve.supervisor_headers(), timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    assert "huurtoeslag" in response.text.lower()

    provider = TracerProvider(
        resource=Resource.create({attr.SERVICE_NAME: "toeslagen-api", attr.ORGANISATION: "dienst-toeslagen"})
    )
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.traces_url, timeout=30)))
    subject = pseudonymise(LINDA, KEYS["dienst-toeslagen"].encode())
    ldv = {attr.PROCESSING_ACTIVITY_ID: activity, attr.DATA_SUBJECT_ID: subject, attr.DATA_SUBJECT_ID_TYPE: "BSN"}
    with provider.get_tracer("e2e").start_as_current_span("huurtoeslag berekenen", attributes=ldv) as span:
        pass
    provider.shutdown()

    inzage = httpx.get(f"{serve.api_url}/inzage/v1/mijn-verwerkingen",
                       headers=citizen(serve.signer, LINDA), timeout=30)  # fmt: skip
    assert inzage.status_code == 200, inzage.text
    processings = [p for t in inzage.json()["traces"] for g in t["organisations"] for p in g["processings"]]
    assert [p["spanId"] for p in processings] == [format(span.get_span_context().span_id, "016x")]
    assert processings[0]["register"]["purpose"].startswith("Vaststellen of u recht hebt op huurtoeslag")
