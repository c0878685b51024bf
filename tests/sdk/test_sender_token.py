"""The SDK's sender token against the real collector (uvicorn, chDB) with senders configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ldv_sdk
from ldv_collector import CollectorSettings, create_app
from ldv_collector._senders import SenderSettings, token_sha256
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, RecordQuery
from tests.sdk.conftest import make_config
from tests.servers import serving

TOKEN = "amsterdam-bijstand-sender-token-7c2e91"


@pytest.fixture
def collector(store: LogStore) -> Iterator[str]:
    senders = {"bijstand-api": SenderSettings(organisation="gemeente-amsterdam", token_sha256=token_sha256(TOKEN))}
    app = create_app(store, CollectorSettings(senders=senders))
    with serving(app) as port:
        yield f"http://127.0.0.1:{port}/v1/traces"


def test_records_without_the_token_wait_in_the_spool_and_arrive_with_it(
    tmp_path: Path, store: LogStore, collector: str, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = ldv_sdk.configure(make_config(tmp_path, collector))
    with ldv_sdk.verwerking("bijstand", "aanvraag beoordelen") as v:
        v.add_subjects("123456782")
    assert not ldv_sdk.flush(1.5)  # 401: a configuration problem, retried, never dropped
    assert runtime.spool is not None and len(runtime.spool) == 1
    assert any("collector answered 401" in r.getMessage() for r in caplog.records)
    ldv_sdk.shutdown(timeout=0)

    ldv_sdk.configure(make_config(tmp_path, collector, sender_token=TOKEN))
    assert ldv_sdk.flush(30)
    [record] = store.find(RecordQuery(trace_id=bytes.fromhex(v.trace_id))).records
    assert record.resource_attributes[attr.ORGANISATION] == "gemeente-amsterdam"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    ldv_sdk.shutdown(timeout=5)
