"""End to end through the real collector (ldv_collector under uvicorn) into a real LogStore on chDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ldv_sdk
from ldv_collector import CollectorSettings, create_app
from ldv_logboek import attributes as attr
from ldv_logboek._pseudonym import pseudonymise
from ldv_logboek.storage import LogStore, RecordQuery
from tests.sdk.conftest import KEY, make_config, spooled_name
from tests.servers import serving

BSNS = ["123456782", "111222333", "999999990"]
ACTIVITY = "https://register.amsterdam.example/verwerkingsactiviteiten/bijstand"



@pytest.fixture
def collector(store: LogStore) -> Iterator[str]:
    app = create_app(store, CollectorSettings(organisation_keys={"gemeente-amsterdam": KEY.decode()}))
    with serving(app) as port:
        yield f"http://127.0.0.1:{port}/v1/traces"


def test_every_record_is_stored_exactly_once_and_invalid_ones_become_dead_letters(
    tmp_path: Path, store: LogStore, collector: str
) -> None:
    before = store.count()
    # Spooled while the sender is off (a service whose collector was down), then a restart delivers.
    ldv_sdk.configure(make_config(tmp_path, collector, start_sender=False))
    traces = []
    for i in range(20):
        with ldv_sdk.verwerking("bijstand", f"aanvraag {i}") as v:
            v.add_subjects(BSNS if i % 5 == 0 else BSNS[0])
            traces.append(v.trace_id)
    with ldv_sdk.verwerking("bijstand", "ongeldig") as v:  # breaks the standard: the collector refuses it
        v.set_attribute(attr.DATA_SUBJECT_ID, "hmac-sha256:" + "c" * 64)
    ldv_sdk.shutdown(timeout=0)

    runtime = ldv_sdk.configure(make_config(tmp_path, collector, batch_size=16))
    assert ldv_sdk.flush(30)
    # 16 single-subject actions + 4 x (1 action + 3 subject records)
    assert store.count() - before == 16 + 4 * 4
    page = store.find(RecordQuery(data_subject_id=pseudonymise(BSNS[0], KEY), limit=100))
    assert len(page.records) == 20
    assert all(r.processing_activity_id == ACTIVITY for r in page.records)
    family = store.find(RecordQuery(trace_id=bytes.fromhex(traces[0]))).records
    assert len(family) == 4 and {r.data_subject_id for r in family} >= {pseudonymise(b, KEY) for b in BSNS}
    (dead,) = runtime.spool.dead_letters()
    assert spooled_name(dead.body) == "ongeldig" and dead.reason
