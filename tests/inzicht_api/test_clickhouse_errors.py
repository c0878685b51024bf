"""Errors of the ClickHouse endpoint: a user's query is answered 4xx, never 5xx (issue 19, item 2), and
no server path, host name or configuration value is served (item 3)."""

from __future__ import annotations

import re

import pytest

from ldv_inzicht.clickhouse_http.errors import ClickHouseError, http_status
from ldv_logboek.storage import LogStore, embedded_path
from tests.inzicht_api.clickhouse_support import Endpoint, clickhouse_endpoint  # noqa: F401

# Each fails because of the query: (query, the engine's exception code; for FINAL and SAMPLE an
# organisation user's query reads the scope's CTE, where the engine says UNSUPPORTED_METHOD, 1).
USER_ERRORS = {
    "PREWHERE on a view": ("SELECT count() FROM ldv_dashboard_records PREWHERE Organisation = 'x'", 182),
    "throwIf": ("SELECT throwIf(1)", 395),
    "FINAL unsupported": ("SELECT count() FROM otel_traces FINAL", (181, 1)),
    "format One": ("SELECT 1 FORMAT One", 399),
    "format Form": ("SELECT 1 FORMAT Form", 399),
    "generate_series zero step": ("SELECT * FROM generate_series(1, 10, 0)", 36),
    "generate_series string": ("SELECT * FROM generate_series('a', 10)", 43),
    "generate_series one argument": ("SELECT * FROM generate_series(1)", 42),
    "cast": ("SELECT toUInt64('abc')", 6),
    "intDiv by zero": ("SELECT intDiv(1, 0)", 153),
    "modulo zero": ("SELECT 1 % 0", 153),
    "regex": ("SELECT match('a', '(')", 427),
    "date": ("SELECT CAST('x' AS Date)", 38),
    "datetime": ("SELECT parseDateTimeBestEffort('nope')", 41),
    "type family": ("SELECT JSONExtract('{', 'a', 'Foo')", 50),
    "arguments": ("SELECT arrayElement([1], 1, 2)", 42),
    "function": ("SELECT nosuchfunction()", 46),
    "identifier": ("SELECT nosuchcolumn", 47),
    "table": ("SELECT * FROM nosuchtable", 60),
    "format unknown": ("SELECT 1 FORMAT NoSuchFormat", 73),
    "syntax": ("SELECT 1 +", 62),
    "tuple index": ("SELECT tuple(1, 2).5", 69),
    "range negative": ("SELECT range(-1)", 69),
    "range too large": ("SELECT range(1000000000000)", 69),
    "repeat too large": ("SELECT repeat('a', 1000000000000)", 131),
    "sleep too long": ("SELECT sleep(10)", 160),
    "aggregate type": ("SELECT sum('a')", 43),
    "union mode": ("SELECT 1 UNION SELECT 2", 558),
    "join types": ("SELECT * FROM numbers(10) AS a JOIN numbers(10) AS b ON a.number < b.number + 'x'", 43),
    "decimal overflow": ("SELECT toDecimal32(1e20, 2)", 407),
    "parameter": ("SELECT {p:UInt8}", 456),
    "lambda argument": ("SELECT arrayMap(x -> x, 1)", 43),
    "base64": ("SELECT base64Decode('!!!')", 117),
    "argument count": ("SELECT unhex(1, 2)", 42),
    "date minus string": ("SELECT now() - 'x'", 43),
    "fill step": ("SELECT number FROM numbers(3) ORDER BY number WITH FILL STEP 0", 475),
    "scale": ("SELECT toDateTime64('2020-01-01', 99)", 69),
    "assumeNotNull": ("SELECT assumeNotNull(NULL)", 44),
    "ipv4": ("SELECT toIPv4('x')", 675),
    "enum": ("SELECT CAST(300 AS Enum8('a' = 1))", 70),
    "sample unsupported": ("SELECT * FROM otel_traces SAMPLE 0.1", (141, 1)),
    "quantile level": ("SELECT quantile(2)(number) FROM numbers(10)", 12),
    "values": ("SELECT * FROM values('x UInt8', 'a')", 53),
}


@pytest.mark.parametrize(("sql", "code"), USER_ERRORS.values(), ids=USER_ERRORS.keys())
def test_a_users_error_is_4xx_with_the_engines_code(endpoint: Endpoint, sql: str, code: int | tuple[int, int]) -> None:
    for user, expected in (("toezicht", code), ("fg-a", code)):
        if isinstance(expected, tuple):
            expected = expected[0] if user == "toezicht" else expected[1]
        response = endpoint.post(sql, user)
        assert 400 <= response.status_code < 500, (user, response.status_code, response.text)
        assert response.headers["x-clickhouse-exception-code"] == str(expected), response.text
        assert response.text.startswith(f"Code: {expected}. DB::Exception: ")


@pytest.mark.parametrize("fmt", ["Avro", "Npy", "One", "Form", "Parquet", "Arrow", "ORC", "CapnProto", "Protobuf"])
def test_every_output_format_answers_200_or_4xx(endpoint: Endpoint, fmt: str) -> None:
    for sql in (
        f"SELECT 1 AS n FORMAT {fmt}",
        f"SELECT Organisation, ResourceAttributes FROM otel_traces FORMAT {fmt}",
    ):
        response = endpoint.post(sql, "fg-a")
        assert response.status_code == 200 or 400 <= response.status_code < 500, (sql, response.text[:300])


def test_only_the_servers_faults_are_5xx() -> None:
    assert {code: http_status(code) for code in (49, 173, 243, 1001, 1002)} == dict.fromkeys(
        (49, 173, 243, 1001, 1002), 500
    )
    assert http_status(439) == 503  # every reader busy, or stopping
    assert http_status(159) == 408
    assert ClickHouseError.from_engine(RuntimeError("no code in this")).status == 500


SERVER_DETAILS = {
    "getServerSetting": "SELECT getServerSetting('path')",
    "getMergeTreeSetting": "SELECT getMergeTreeSetting('index_granularity')",
    "hostName": "SELECT hostName()",
    "hostname": "SELECT hostname()",
    "FQDN": "SELECT FQDN()",
    "fullHostName": "SELECT fullHostName()",
    "getMacro": "SELECT getMacro('replica')",
    "serverUUID": "SELECT serverUUID()",
    "filesystemCapacity": "SELECT filesystemCapacity()",
    "getOSKernelVersion": "SELECT getOSKernelVersion()",
    "tcpPort": "SELECT tcpPort()",
    "databases.data_path": "SELECT data_path FROM system.databases",
    "databases.metadata_path": "SELECT name, metadata_path FROM system.databases",
    "databases.*": "SELECT * FROM system.databases",
    "tables.data_paths": "SELECT data_paths FROM system.tables",
    "tables.metadata_path": "SELECT metadata_path FROM system.tables WHERE database = 'default'",
    "tables.*": "SELECT * FROM system.tables",
    "in a subquery": "SELECT count() FROM (SELECT data_path AS p FROM system.databases) WHERE p != ''",
    "in a CTE": "WITH (SELECT getServerSetting('path')) AS p SELECT length(p)",
}


@pytest.mark.parametrize("sql", SERVER_DETAILS.values(), ids=SERVER_DETAILS.keys())
def test_no_server_path_host_or_configuration_is_served(endpoint: Endpoint, store: LogStore, sql: str) -> None:
    path = embedded_path(store.client)
    assert path
    for user in ("toezicht", "fg-a-telling"):
        response = endpoint.post(sql, user)
        assert response.status_code == 403, (user, response.text)
        assert path not in response.text and "/tmp" not in response.text


def test_what_grafana_reads_of_the_catalog_is_still_served(endpoint: Endpoint) -> None:
    assert ["default"] in endpoint.rows("SELECT name FROM system.databases", user="fg-a-telling")
    rows = endpoint.rows("SELECT name, engine, total_rows FROM system.tables WHERE database = 'default'", user="fg-a")
    assert any(row[0] == "otel_traces" for row in rows)
    assert endpoint.rows("SELECT displayName() != '', version() != ''", user="fg-a") == [["1", "1"]]


def test_error_messages_carry_no_table_uuid(endpoint: Endpoint) -> None:
    # The engine names a view with its UUID (the name of its directory in the store).
    response = endpoint.post("SELECT count() FROM ldv_dashboard_records PREWHERE Organisation = 'x'", "toezicht")
    assert response.status_code == 400 and "ldv_dashboard_records" in response.text
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", response.text) is None, (
        response.text
    )
