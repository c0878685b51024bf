"""Spool -> sender -> a real OTLP/HTTP receiver: batching, retries, Retry-After, partial success."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import ldv_sdk
from ldv_logboek import attributes as attr
from ldv_sdk._spool import Spool
from tests.sdk.conftest import make_config, spooled_name
from tests.sdk.otlp_receiver import Behaviour, Receiver

BSN = "123456782"


def _log(n: int, prefix: str = "aanvraag") -> None:
    for i in range(n):
        with ldv_sdk.verwerking("bijstand", f"{prefix} {i}") as v:
            v.add_subject(BSN)


def _wait(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_records_arrive_as_otlp_with_their_attributes(tmp_path: Path, receiver: Receiver) -> None:
    ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))
    _log(3)
    assert ldv_sdk.flush(10)
    assert len(receiver.spans) == 3
    span = receiver.spans[0]
    assert span.attributes[attr.PROCESSING_ACTIVITY_ID] == (
        "https://register.amsterdam.example/verwerkingsactiviteiten/bijstand"
    )
    assert span.attributes[attr.DATA_SUBJECT_ID].startswith("hmac-sha256:")
    assert span.resource == {attr.SERVICE_NAME: "bijstand-api", attr.ORGANISATION: "gemeente-amsterdam"}


def test_collector_down_for_a_while_then_everything_arrives_once(tmp_path: Path) -> None:
    with socket.socket() as s:  # a free port with nothing listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ldv_sdk.configure(make_config(tmp_path, f"http://127.0.0.1:{port}/v1/traces", batch_size=50))
    _log(120)
    time.sleep(0.5)  # a few failed attempts
    runtime = ldv_sdk.configure.__globals__["_runtime"]
    assert len(runtime.spool) == 120
    receiver = Receiver(port=port).start()
    try:
        assert ldv_sdk.flush(15)
        assert len(receiver.spans) == 120 and len(receiver.distinct()) == 120
    finally:
        receiver.stop()


def test_503_with_retry_after_is_honoured_and_retried(tmp_path: Path, receiver: Receiver) -> None:
    receiver.behaviour = Behaviour(fail_status=503, fail_count=1, retry_after="1")
    ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))
    _log(5)
    assert ldv_sdk.flush(10)
    assert receiver.statuses[:2] == [503, 200]
    assert receiver.times[1] - receiver.times[0] >= 0.9  # waited for Retry-After, not max_backoff (0.2 s)
    assert len(receiver.distinct()) == 5


def test_retryable_statuses_are_retried_until_accepted(tmp_path: Path, receiver: Receiver) -> None:
    ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))
    for status in (429, 502, 504):
        receiver.behaviour = Behaviour(fail_status=status, fail_count=2)
        _log(2, prefix=str(status))
        assert ldv_sdk.flush(10)
    assert receiver.statuses.count(429) == receiver.statuses.count(502) == receiver.statuses.count(504) == 2
    assert len(receiver.distinct()) == 6


def _spool_offline(tmp_path: Path, receiver: Receiver, n: int) -> None:
    """Log `n` records with the sender off, so that they go out later as one batch."""
    ldv_sdk.configure(make_config(tmp_path, receiver.endpoint, start_sender=False))
    _log(n)
    ldv_sdk.shutdown(timeout=0)


def _reject_second(span) -> str | None:  # type: ignore[no-untyped-def]
    return "name is required" if span.name.endswith(" 1") else None


def test_partial_success_naming_spans_dead_letters_exactly_those(tmp_path: Path, receiver: Receiver) -> None:
    receiver.behaviour = Behaviour(reject=_reject_second)
    _spool_offline(tmp_path, receiver, 4)
    runtime = ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))  # one batch of 4
    assert ldv_sdk.flush(10)
    assert sorted(s.name for s in receiver.spans) == ["aanvraag 0", "aanvraag 2", "aanvraag 3"]
    assert receiver.requests == 1  # not retried
    (dead,) = runtime.spool.dead_letters()
    assert spooled_name(dead.body) == "aanvraag 1" and "name is required" in dead.reason


def test_partial_success_without_names_is_narrowed_down_by_splitting(tmp_path: Path, receiver: Receiver) -> None:
    receiver.behaviour = Behaviour(reject=_reject_second, name_rejected=False)
    _spool_offline(tmp_path, receiver, 8)
    runtime = ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))  # one batch of 8
    assert ldv_sdk.flush(10)
    assert {s.name for s in receiver.spans} == {f"aanvraag {i}" for i in range(8) if i != 1}
    (dead,) = runtime.spool.dead_letters()
    assert spooled_name(dead.body) == "aanvraag 1"
    assert receiver.requests <= 1 + 2 * 3  # bounded: log2(8) levels of halves


def test_an_unreadable_spool_entry_is_a_dead_letter_and_the_rest_goes_on(tmp_path: Path, receiver: Receiver) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.put(b"\xff not protobuf")
    spool.close()
    runtime = ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))
    _log(2)
    assert ldv_sdk.flush(10)
    assert len(receiver.distinct()) == 2
    assert [d.reason for d in runtime.spool.dead_letters()] == ["unreadable spool entry (not an OTLP ExportTraceServiceRequest)"]


def test_auth_headers_are_sent(tmp_path: Path, receiver: Receiver) -> None:
    ldv_sdk.configure(make_config(tmp_path, receiver.endpoint, headers={"Authorization": "Bearer geheim"}))
    _log(1)
    assert ldv_sdk.flush(10)
    assert receiver.last_headers["Authorization"] == "Bearer geheim"
    assert receiver.last_headers["Content-Type"] == "application/x-protobuf"
    assert len(receiver.spans) == 1


def test_400_on_a_batch_isolates_the_bad_record(tmp_path: Path) -> None:
    class Strict(Receiver):
        """Answers 400 to any request that holds the span named 'aanvraag 2'."""

        def _handle(self, path, content_type, body):  # type: ignore[no-untyped-def,override]
            if b"aanvraag 2" in body:
                with self._lock:
                    self.requests += 1
                    self.statuses.append(400)
                return 400, b"", {}
            return super()._handle(path, content_type, body)

    receiver = Strict().start()
    try:
        _spool_offline(tmp_path, receiver, 4)
        runtime = ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))
        assert ldv_sdk.flush(10)
        assert sorted(s.name for s in receiver.spans) == ["aanvraag 0", "aanvraag 1", "aanvraag 3"]
        (dead,) = runtime.spool.dead_letters()
        assert spooled_name(dead.body) == "aanvraag 2" and dead.reason.startswith("HTTP 400")
    finally:
        receiver.stop()


def test_the_sender_does_not_trace_its_own_deliveries(tmp_path: Path, receiver: Receiver) -> None:
    """With `requests` instrumented by OpenTelemetry, the sender's POSTs make no spans (as the
    OpenTelemetry span processors suppress instrumentation while exporting); another request does."""
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    traced = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(traced))
    RequestsInstrumentor().instrument(tracer_provider=provider)
    try:
        ldv_sdk.configure(make_config(tmp_path, receiver.endpoint))
        _log(2)
        assert ldv_sdk.flush(10)
        assert len(receiver.spans) == 2
        assert traced.get_finished_spans() == ()
        requests.post(receiver.endpoint, data=b"", timeout=5)  # the instrumentation is on: this one is traced
        assert len(traced.get_finished_spans()) == 1
    finally:
        RequestsInstrumentor().uninstrument()
