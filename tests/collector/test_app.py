"""The OTLP/HTTP endpoint over a real chDB store: responses, errors, limits, storage down."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pyarrow as pa
import pytest
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client.parser import text_string_to_metric_families

from ldv_collector import CollectorSettings, create_app
from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage import LogStore, RecordQuery, StorageUnavailable
from tests.collector.helpers import VALID_BSN, AsgiClient, ldv_attributes, make_request, make_span, to_otlp_json

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
KEY = "test-organisation-key-0001"
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def client(store: LogStore) -> Iterator[AsgiClient]:
    settings = CollectorSettings(max_body_bytes=LIMIT, pseudonymisation_key=KEY, max_batch_wait_ms=0)
    app = create_app(store, settings)
    app.state.writer.start()
    yield AsgiClient(app)
    app.state.writer.stop()


def stored(store: LogStore, trace_id: bytes) -> list[LogRecord]:
    return store.find(RecordQuery(trace_id=trace_id)).records


def pb_response(body: bytes) -> ExportTraceServiceResponse:
    return ExportTraceServiceResponse.FromString(body)


def test_protobuf_export_is_stored_and_acknowledged(client: AsgiClient, store: LogStore) -> None:
    span = make_span()
    response = client.post("/v1/traces", content=make_request([span]).SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert not pb_response(response.content).HasField("partial_success")
    [record] = stored(store, span.trace_id)
    assert (record.span_id, record.kind, record.scope_name) == (span.span_id, "Server", "ldv_sdk")


def test_json_export_with_gzip_gets_a_json_answer(client: AsgiClient, store: LogStore) -> None:
    span = make_span(ldv_attributes(subject=VALID_BSN))  # pseudonymised with the configured key
    body = gzip.compress(to_otlp_json(make_request([span])))
    response = client.post("/v1/traces", content=body, headers={**JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    [record] = stored(store, span.trace_id)
    assert record.data_subject_id == pseudonymise(VALID_BSN, KEY.encode())


def test_partial_success_stores_the_valid_spans(client: AsgiClient, store: LogStore) -> None:
    good, bad, foreign = make_span(), make_span(ldv_attributes(subject=None, **{attr.EXTERNAL_READ_API_ID: "nope"})), make_span({"http.method": "GET"})
    bsn_leak = make_span(ldv_attributes(**{"note": f"bsn {VALID_BSN}"}))
    for span in (bad, foreign, bsn_leak):
        span.trace_id = good.trace_id
    response = client.post("/v1/traces", content=to_otlp_json(make_request([good, bad, foreign, bsn_leak])), headers=JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"  # int64 in OTLP/JSON is a string
    assert bad.span_id.hex() in partial["errorMessage"] and bsn_leak.span_id.hex() in partial["errorMessage"]
    assert "uri" in partial["errorMessage"] and "clear-bsn" in partial["errorMessage"]
    assert VALID_BSN not in partial["errorMessage"]
    assert [r.span_id for r in stored(store, good.trace_id)] == [good.span_id]


def test_partial_success_in_protobuf(client: AsgiClient) -> None:
    bad = make_span(name=" ")
    response = client.post("/v1/traces", content=make_request([bad, make_span()]).SerializeToString(), headers=PROTOBUF)
    partial = pb_response(response.content).partial_success
    assert (partial.rejected_spans, "name" in partial.error_message) == (1, True)


def rpc_status(response, encoding: str = "json") -> status_pb2.Status:
    if encoding == "json":
        assert response.headers["content-type"] == "application/json"
        return json_format.Parse(response.text, status_pb2.Status())
    assert response.headers["content-type"] == "application/x-protobuf"
    return status_pb2.Status.FromString(response.content)


def test_undecodable_bodies_get_400_in_the_request_encoding(client: AsgiClient) -> None:
    response = client.post("/v1/traces", content=b"\xff\xfe garbage", headers=PROTOBUF)
    assert response.status_code == 400
    status = rpc_status(response, "protobuf")
    assert status.code == code_pb2.INVALID_ARGUMENT and "protobuf" in status.message
    response = client.post("/v1/traces", content=b'{"resourceSpans": 1', headers=JSON)
    assert response.status_code == 400 and "JSON" in rpc_status(response).message
    response = client.post("/v1/traces", content=b"not gzip", headers={**JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 400 and "compressed" in rpc_status(response).message


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}])
def test_wrong_or_missing_content_type_is_415(client: AsgiClient, headers: dict[str, str]) -> None:
    response = client.post("/v1/traces", content=make_request([make_span()]).SerializeToString(), headers=headers)
    assert response.status_code == 415
    assert "application/x-protobuf" in rpc_status(response).message


def test_unsupported_content_encoding_is_415(client: AsgiClient) -> None:
    response = client.post("/v1/traces", content=b"x", headers={**PROTOBUF, "Content-Encoding": "br"})
    assert response.status_code == 415 and "br" in rpc_status(response, "protobuf").message


def test_too_large_bodies_are_413(client: AsgiClient, store: LogStore) -> None:
    response = client.post("/v1/traces", content=b"\0" * (LIMIT + 1), headers=PROTOBUF)
    assert response.status_code == 413
    assert rpc_status(response, "protobuf").code == code_pb2.RESOURCE_EXHAUSTED

    # A real request whose protobuf is over the limit only once decompressed.
    spans = [make_span(ldv_attributes(**{"padding": "p" * 2000})) for _ in range(40)]
    body = gzip.compress(make_request(spans).SerializeToString())
    assert len(body) < LIMIT
    response = client.post("/v1/traces", content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 413 and "decompressed" in rpc_status(response, "protobuf").message
    assert stored(store, spans[0].trace_id) == []

    bomb = gzip.compress(b"\0" * (32 << 20), compresslevel=9)  # 32 MiB inflated, ~32 KiB sent
    response = client.post("/v1/traces", content=bomb, headers={**JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 413 and "decompressed" in rpc_status(response).message


def test_unknown_path_and_wrong_method(client: AsgiClient) -> None:
    response = client.get("/v1/logs")
    assert response.status_code == 404 and rpc_status(response).code == code_pb2.NOT_FOUND
    response = client.get("/v1/traces")
    assert response.status_code == 405 and "POST" in response.headers["allow"]
    assert rpc_status(response).code == code_pb2.UNIMPLEMENTED


def test_metrics_and_health(client: AsgiClient) -> None:
    client.post("/v1/traces", content=make_request([make_span({"x": 1}), make_span()]).SerializeToString(), headers=PROTOBUF)
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["spans_ignored"] >= 1 and health["spans_stored"] >= 1 and health["responses_200"] >= 1
    assert health["spans_received"] >= health["spans_stored"] + health["spans_ignored"]
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    # Parsed by Prometheus' own parser: the names, types and values a scraper sees.
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {f.type for f in families.values()} == {"counter"}
    assert set(families) >= {"ldv_collector_spans_stored", "ldv_collector_spans_rejected", "ldv_collector_requests"}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("ldv_collector_spans_stored_total", ())] == health["spans_stored"]
    assert samples[("ldv_collector_spans_received_total", ())] == health["spans_received"]
    assert samples[("ldv_collector_responses_total", (("code", "200"),))] == health["responses_200"]
    assert not [name for name, _ in samples if name.endswith("_created")]  # counters only, no creation stamps


class DownStore(LogStore):
    """A store whose database is down.

    The only fake in these tests, for the storage-down case: closing the shared chDB
    session would take the real store of the other tests down with it (one session per process).
    """

    def __init__(self) -> None:  # no client at all: nothing can be reached
        pass

    def insert_record_rows(self, rows: pa.Table) -> None:
        raise StorageUnavailable("insert failed: connection refused")


def test_storage_down_is_503_with_retry_after() -> None:
    app = create_app(DownStore(), CollectorSettings(retry_after_seconds=7))
    app.state.writer.start()
    client = AsgiClient(app)
    response = client.post("/v1/traces", content=make_request([make_span()]).SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    status = rpc_status(response, "protobuf")
    assert status.code == code_pb2.UNAVAILABLE and "connection refused" not in status.message
    assert client.get("/healthz").json()["insert_failures"] == 1
    # A request with nothing to store does not need the store.
    response = client.post("/v1/traces", content=make_request([make_span({"a": "b"})]).SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    app.state.writer.stop()


def test_after_shutdown_requests_get_503(store: LogStore) -> None:
    app = create_app(store, CollectorSettings())
    app.state.writer.start()
    client = AsgiClient(app)
    assert client.get("/healthz").status_code == 200
    app.state.writer.stop()
    response = client.post("/v1/traces", content=to_otlp_json(make_request([make_span()])), headers=JSON)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert json.loads(response.text)["code"] == code_pb2.UNAVAILABLE
    assert client.get("/healthz").status_code == 503
