"""Benchmark: what receipts add to a citizen's inzage (issue #15 item 4).

    PYTHONPATH=. .venv/bin/python bench/inzage_receipts.py            # 500 records, logged
    NOLOG=1 PYTHONPATH=. .venv/bin/python bench/inzage_receipts.py    # the same, log off (baseline)

500 records of one citizen through the collector's writer (with or without the log), then
`GET /inzage/v1/mijn-verwerkingen` on the real app: without a log key configured (receipts made,
not checked) and with it (made and checked); best of 3. Uses the tests' fixtures (run from the
repository root with PYTHONPATH=.).
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

from fastapi.testclient import TestClient

from ldv_collector import GroupCommitWriter
from ldv_logboek.storage import LogStore, TransparencyLog, connect
from ldv_logboek.tlog import Signer
from tests.inzicht_api.inzage_support import ACT, LINDA, citizen, make_app, record, write_jwks
from tests.inzicht_api.inzage_support import Signer as TokenSigner

RECORDS = 500
URL = "/inzage/v1/mijn-verwerkingen"


def main() -> None:
    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp())
    store = LogStore(connect(f"chdb://{tmp / 'db'}"))
    store.migrate()
    key = Signer.generate("logboek.bench/inzage")
    now = time.time()
    records = [
        record(LINDA, "dienst-toeslagen", ACT["huurtoeslag"], name="x", when=now - 1000 - i, trace_id=os.urandom(16))
        for i in range(RECORDS)
    ]
    log = None if os.environ.get("NOLOG") else TransparencyLog.open(store, key)
    writer = GroupCommitWriter(store, max_batch_wait_ms=0, log=log)
    writer.start()
    writer.submit(records).result(60)
    writer.stop()
    if log is not None:
        log.sign_checkpoint()
    issuer = TokenSigner.generate("issuer")
    jwks = write_jwks(tmp / "jwks.json", issuer)
    for keys in ((), (key.verifier.vkey,)):
        client = TestClient(make_app(store, jwks, follow_chain=False, log_keys=keys))
        client.get(URL, headers=citizen(issuer, LINDA))
        times = []
        for _ in range(3):
            t = time.perf_counter()
            answer = client.get(URL, headers=citizen(issuer, LINDA))
            times.append(time.perf_counter() - t)
        labels = [c["label"][:40] for c in answer.json()["checks"]]
        print(f"{'log key' if keys else 'no key '}: {answer.json()['total']} records {labels} {min(times) * 1000:.0f} ms")
    store.close()


if __name__ == "__main__":
    main()
