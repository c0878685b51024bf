"""Rejected spans counted per organisation, service and rule in the store (real OTLP, real chDB).

The sender's answer is what it was before the counts existed; the counts hold no span content;
they reach the store about once a second and at shutdown; a failed flush fails no export.
"""

from __future__ import annotations

import logging
import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ldv_collector import CollectorSettings, create_app
from ldv_collector import _rejections as rejections
from ldv_collector._rejections import OVERFLOW_SERVICE, WITHHELD, RejectionCounts
from ldv_collector._senders import SenderSettings, token_sha256
from ldv_logboek import attributes as attr
from ldv_logboek.storage import REJECTIONS_TABLE, LogStore, RecordQuery
from tests.collector.helpers import VALID_BSN, AsgiClient, ldv_attributes, make_request, make_span

PROTOBUF = {"Content-Type": "application/x-protobuf"}
TOKEN = "rejection-counts-test-token-0123456789"


def counts(store: LogStore, organisation: str) -> dict[tuple[str, str], int]:
    rows = store.query_rows(
        f"SELECT ServiceName, Rule, sum(Spans) FROM {REJECTIONS_TABLE} WHERE Organisation = {{o:String}} "
        "GROUP BY ServiceName, Rule",
        {"o": organisation},
    )
    return {(service, rule): int(spans) for service, rule, spans in rows}


def export(client: AsgiClient, *requests, headers: dict[str, str] | None = None) -> list[ExportTraceServiceResponse]:
    answers = []
    for request in requests:
        response = client.post("/v1/traces", content=request.SerializeToString(), headers={**PROTOBUF, **(headers or {})})
        assert response.status_code == 200
        answers.append(ExportTraceServiceResponse.FromString(response.content))
    return answers


def bad_spans() -> list:
    """Three spans that break known rules: uri; name (twice: two spans); clear-bsn plus uri."""
    return [
        make_span(ldv_attributes(**{attr.EXTERNAL_READ_API_ID: "geen uri"})),
        make_span(name=" "),
        make_span(name=" "),
        make_span(ldv_attributes(**{"note": f"bsn {VALID_BSN}", attr.EXTERNAL_READ_API_ID: "geen uri"})),
    ]


def test_rejected_spans_become_per_rule_counts_and_the_answer_is_unchanged(store: LogStore) -> None:
    app = create_app(store, CollectorSettings(max_batch_wait_ms=0))
    app.state.writer.start()
    client = AsgiClient(app)
    spans = [make_span(), *bad_spans()]
    resource = {attr.SERVICE_NAME: "huurtoeslag-api", attr.ORGANISATION: "org-counts"}
    [answer] = export(client, make_request(spans, resource=resource))
    # The sender's answer: four spans refused, each listed with its reasons, no BSN.
    assert answer.partial_success.rejected_spans == 4
    message = answer.partial_success.error_message
    assert [line.split(" ", 2)[1] for line in message.splitlines()] == [
        f"{s.trace_id.hex()}/{s.span_id.hex()}" for s in spans[1:]
    ]
    assert "clear-bsn" in message and VALID_BSN not in message
    assert [r.span_id for r in store.find(RecordQuery(trace_id=spans[0].trace_id)).records] == [spans[0].span_id]
    # Stored within about a second, while the collector runs.
    deadline = time.monotonic() + 5
    while not counts(store, "org-counts") and time.monotonic() < deadline:
        time.sleep(0.1)
    app.state.writer.stop()
    assert counts(store, "org-counts") == {
        ("huurtoeslag-api", "uri"): 2,  # the bad uri span and the BSN span (its other rule)
        ("huurtoeslag-api", "name"): 2,
        ("huurtoeslag-api", "clear-bsn"): 1,
    }
    # Counts only: nothing of the spans is in the table.
    [[text]] = store.query_rows(f"SELECT toString(groupArray(tuple(*))) FROM {REJECTIONS_TABLE}")
    assert VALID_BSN not in text and "geen uri" not in text and spans[1].span_id.hex() not in text


def test_many_requests_go_in_one_flush_at_shutdown(store: LogStore) -> None:
    """Counts are added up in memory: 20 requests give one row per key, not one per request."""
    app = create_app(store, CollectorSettings(max_batch_wait_ms=0))
    app.state.writer.start()
    client = AsgiClient(app)
    resource = {attr.SERVICE_NAME: "batch", attr.ORGANISATION: "org-batch"}
    export(client, *[make_request([make_span(name=" ")], resource=resource) for _ in range(20)])
    app.state.writer.stop()
    assert counts(store, "org-batch") == {("batch", "name"): 20}
    [[rows]] = store.query_rows(f"SELECT count() FROM {REJECTIONS_TABLE} WHERE Organisation = 'org-batch'")
    assert rows <= 3  # at most one flush a second (the requests take well under 3 s here)


def test_spans_of_another_organisation_count_under_the_authenticated_sender(store: LogStore) -> None:
    settings = CollectorSettings(
        max_batch_wait_ms=0,
        senders={"toeslagen": SenderSettings(organisation="org-sender", token_sha256=token_sha256(TOKEN))},
    )
    app = create_app(store, settings)
    app.state.writer.start()
    client = AsgiClient(app)
    forged = {attr.SERVICE_NAME: "svc", attr.ORGANISATION: "org-forged"}
    bsn_service = {attr.SERVICE_NAME: f"dienst {VALID_BSN}"}  # organisation stamped from the sender
    [first, second] = export(
        client,
        make_request([make_span(), make_span()], resource=forged),
        make_request([make_span()], resource=bsn_service),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert first.partial_success.rejected_spans == 2 and "sender-organisation" in first.partial_success.error_message
    assert second.partial_success.rejected_spans == 1
    app.state.writer.stop()
    assert counts(store, "org-forged") == {}
    assert counts(store, "org-sender") == {("svc", "sender-organisation"): 2, (WITHHELD, "clear-bsn"): 1}


def test_a_failed_flush_is_logged_and_fails_no_export(store: LogStore, caplog: pytest.LogCaptureFixture) -> None:
    """The store refuses the counts (their table is gone): the export is answered as always."""
    store.client.command(f"RENAME TABLE {REJECTIONS_TABLE} TO {REJECTIONS_TABLE}_away")
    try:
        app = create_app(store, CollectorSettings(max_batch_wait_ms=0))
        app.state.writer.start()
        client = AsgiClient(app)
        good = make_span()
        with caplog.at_level(logging.WARNING, logger="ldv_collector._rejections"):
            [answer] = export(client, make_request([good, make_span(name=" ")]))
            app.state.writer.stop()
        assert answer.partial_success.rejected_spans == 1
        assert store.find(RecordQuery(trace_id=good.trace_id)).records
        assert "refused the counts of 1 rejected spans" in caplog.text
    finally:
        store.client.command(f"RENAME TABLE {REJECTIONS_TABLE}_away TO {REJECTIONS_TABLE}")


def test_counts_wait_while_the_store_is_unavailable(store: LogStore, caplog: pytest.LogCaptureFixture) -> None:
    """An unavailable store keeps the counts for the next flush (a closed store is unavailable:
    the real LogStore path, on a second LogStore over the same session that only says it is closed)."""
    pending = RejectionCounts()
    pending.add("org-wait", "svc", ["uri", "name", "uri"])
    pending.add("org-wait", "svc", ["uri"])
    unavailable = LogStore(store.client)
    unavailable._closed = True  # closing it for real would close the shared chDB session
    with caplog.at_level(logging.WARNING, logger="ldv_collector._rejections"):
        assert pending.flush(unavailable) is False
    assert "counts of 3 rejected spans (store unavailable): kept" in caplog.text
    assert pending.pending() == 2
    assert pending.flush(store) is True and pending.pending() == 0
    assert counts(store, "org-wait") == {("svc", "uri"): 2, ("svc", "name"): 1}


def test_pending_keys_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Service names come from senders: past the cap, new services share one key."""
    monkeypatch.setattr(rejections, "MAX_PENDING_KEYS", 2)
    pending = RejectionCounts()
    for service in ("a", "b", "c", "d"):
        pending.add("org", service, ["name"])
    assert pending.take() == {("org", "a", "name"): 1, ("org", "b", "name"): 1, ("org", OVERFLOW_SERVICE, "name"): 2}
