"""The OpenTelemetry Collector's ClickHouse exporter writes into a store made by our migrations,
and the read API finds what it wrote: the exporter's own code (opentelemetry-collector-contrib
exporter/clickhouseexporter v0.165.1, `create_schema: false`), not a copy of its SQL.

tests/go/clickhouseexporter is a small Go program around the exporter; it writes through a
ClickHouse HTTP DSN into `ldv serve`'s ClickHouse endpoint as a user with `write` (the way
another `ldv serve --store-dsn` writes there). Its module tree is the collector's: a cold build
takes minutes, so `make peers` (part of `make test`) builds it first and this test finds it warm
(docs/other-languages.md has the measured build time).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ldv_logboek import attributes as attr
from tests.e2e.serve_process import ServeProcess
from tests.peers.go_support import REPO, go_binary, run

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(1800),
]

MODULE = REPO / "tests" / "go" / "clickhouseexporter"
PASSWORD = "otelcol-schrijft"
WRITER = {"otelcol": {"password": PASSWORD, "scope": "supervisor", "raw_rows": True, "write": True}}


def test_the_collectors_clickhouse_exporter_lands_in_our_table(tmp_path: Path) -> None:
    binary = tmp_path / "clickhouseexporter"
    built = run([go_binary(), "build", "-o", str(binary), "."], MODULE, timeout=1500)
    assert built.returncode == 0, built.stdout
    serve = ServeProcess(tmp_path / "data", env={"LDV_CLICKHOUSE_USERS": json.dumps(WRITER)}).start()
    try:
        env = {
            "LDV_EXPORTER_ENDPOINT": f"http://127.0.0.1:{serve.clickhouse_port}",
            "LDV_EXPORTER_USERNAME": "otelcol", "LDV_EXPORTER_PASSWORD": PASSWORD,
        }  # fmt: skip
        exported = run([str(binary)], MODULE, env, timeout=120)
        assert exported.returncode == 0, exported.stdout
        ids = json.loads(exported.stdout.strip().splitlines()[-1])
        records = serve.read_all({"traceId": ids["traceId"]})
    finally:
        serve.kill()
    by_span = {r["spanId"]: r for r in records}
    assert set(by_span) == {ids["actionSpanId"], *ids["childSpanIds"]}
    action = by_span[ids["actionSpanId"]]
    assert action["name"] == "inkomen verstrekken" and action["status"] == "Ok"
    assert action["resource"]["attributes"][attr.ORGANISATION] == "belastingdienst"
    for child in ids["childSpanIds"]:
        record = by_span[child]
        assert record["parentSpanId"] == ids["actionSpanId"]
        assert record["attributes"][attr.DATA_SUBJECT_ID].startswith("hmac-sha256:")
        assert record["attributes"][attr.DATA_SUBJECT_ID_TYPE] == "BSN"
        assert record["attributes"][attr.PROCESSING_ACTIVITY_ID].endswith("/inkomen-verstrekken")
