"""`ldv serve`'s ClickHouse endpoint as Grafana reaches it: OTLP in, clickhouse-connect (HTTP) out, per scope."""

from __future__ import annotations

import base64
import http.client
import json
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ldv_logboek import attributes as attr
from tests.e2e.serve_process import ServeProcess

pytestmark = pytest.mark.e2e

ACTIVITY = "https://register.example/processing-activities/huurtoeslag"
USERS = {
    "grafana": {"password": "grafana-pw", "scope": "supervisor"},
    "toezicht": {"password": "toezicht-pw", "scope": "supervisor", "raw_rows": True},
    "fg-uwv": {"password": "fg-uwv-pw", "scope": "uwv", "raw_rows": True},
}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path / "data", env={"LDV_CLICKHOUSE_USERS": json.dumps(USERS)}).start()
    yield process
    process.kill()


def _send(serve: ServeProcess, organisation: str, count: int) -> None:
    provider = TracerProvider(resource=Resource.create({attr.SERVICE_NAME: "svc", attr.ORGANISATION: organisation}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=serve.traces_url, timeout=30)))
    tracer = provider.get_tracer("e2e")
    for _ in range(count):
        subject = "hmac-sha256:" + os.urandom(32).hex()
        ldv = {attr.PROCESSING_ACTIVITY_ID: ACTIVITY, attr.DATA_SUBJECT_ID: subject, attr.DATA_SUBJECT_ID_TYPE: "BSN"}
        with tracer.start_as_current_span("verwerking", attributes=ldv):
            pass
    provider.shutdown()


def _client(serve: ServeProcess, user: str) -> clickhouse_connect.driver.Client:
    return clickhouse_connect.get_client(
        host="127.0.0.1", port=serve.clickhouse_port, username=user, password=USERS[user]["password"]
    )


def test_grafana_users_query_what_was_ingested_within_their_scope(serve: ServeProcess) -> None:
    _send(serve, "uwv", 3)
    _send(serve, "svb", 2)
    count_by_org = "SELECT Organisation, count() FROM otel_traces GROUP BY Organisation ORDER BY Organisation"
    assert _client(serve, "toezicht").query(count_by_org).result_rows == [("svb", 2), ("uwv", 3)]
    assert _client(serve, "fg-uwv").query(count_by_org).result_rows == [("uwv", 3)]
    # Without raw_rows the records table itself is refused, as ClickHouse refuses: 403 with code 497.
    refused = httpx.post(f"http://127.0.0.1:{serve.clickhouse_port}/", content=count_by_org,
                         auth=("grafana", "grafana-pw"), timeout=30)  # fmt: skip
    assert refused.status_code == 403 and refused.headers["X-ClickHouse-Exception-Code"] == "497"
    # The ingest keeps working while the endpoint serves: the writer is not read-only.
    _send(serve, "uwv", 1)
    assert _client(serve, "fg-uwv").query("SELECT count() FROM otel_traces").result_rows == [(4,)]
    assert "wrong" not in serve.log() and "grafana-pw" not in serve.log()


def test_no_users_configured_refuses_every_query(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path / "data").start()
    try:
        url = f"http://127.0.0.1:{serve.clickhouse_port}"
        assert httpx.get(url + "/ping", timeout=10).text == "Ok.\n"
        response = httpx.get(url, params={"query": "SELECT 1", "user": "default"}, timeout=10)
        assert response.status_code == 403 and response.headers["X-ClickHouse-Exception-Code"] == "516"
    finally:
        serve.kill()


def _get(port: int, query: str) -> tuple[int, dict[str, str], str]:
    """GET /?query=... with HTTP Basic, by http.client (httpx refuses URL parts over 64 KiB)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    token = base64.b64encode(f"grafana:{USERS['grafana']['password']}".encode()).decode()
    try:
        connection.request(
            "GET", "/?" + urllib.parse.urlencode({"query": query}), headers={"Authorization": f"Basic {token}"}
        )
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


def _query_of(size: int) -> str:
    head, tail = "SELECT length('", "') > 0"
    return head + "x" * (size - len(head) - len(tail)) + tail


def test_long_queries_in_the_url_up_to_the_limit_and_a_clickhouse_413_above(serve: ServeProcess) -> None:
    """README: a query (URL plus body) up to LDV_CLICKHOUSE_MAX_QUERY_BYTES (256 KiB) is accepted, 413 above."""
    assert _get(serve.clickhouse_port, _query_of(200 * 1024))[::2] == (200, "1\n")
    # Above the limit: the endpoint's 413; far above (more than the request head uvicorn reads): the same shape.
    for size in (300 * 1024, 2 * 1024 * 1024):
        status, headers, body = _get(serve.clickhouse_port, _query_of(size))
        assert status == 413, (size, body[:200])
        assert headers["x-clickhouse-exception-code"] == "229"
        assert body.startswith("Code: 229. DB::Exception: ") and "(QUERY_IS_TOO_LARGE)" in body
    # A POST body of 200 KiB as well.
    url = f"http://127.0.0.1:{serve.clickhouse_port}/"
    auth = ("grafana", USERS["grafana"]["password"])
    posted = httpx.post(url, content=_query_of(200 * 1024).encode(), auth=auth, timeout=60)
    assert (posted.status_code, posted.text) == (200, "1\n")
