"""The ClickHouse HTTP endpoint's wire contract: routes, parameters, credentials, headers, errors, real clients.

Clients: httpx shaped as curl requests, and clickhouse-connect in HTTP mode (a real ClickHouse
client nobody here wrote). The store is real chDB with two organisations' records.
"""

from __future__ import annotations

import gzip
import json
import uuid

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, ProgrammingError

from ldv_logboek.storage import READ_SETTINGS
from tests.inzicht_api.clickhouse_support import COUNTS, ORG_A, ORG_B, USERS, Endpoint, clickhouse_endpoint  # noqa: F401

COUNT_BY_ORG = "SELECT Organisation, count() FROM otel_traces GROUP BY Organisation ORDER BY Organisation"


def test_ping_and_bare_get_answer_ok_without_credentials(endpoint: Endpoint) -> None:
    for response in (httpx.get(endpoint.url + "/ping"), httpx.get(endpoint.url + "/")):
        assert response.status_code == 200
        assert response.content == b"Ok.\n"
        assert response.headers["content-length"] == "4"
    assert httpx.head(endpoint.url + "/ping").status_code == 200


def test_get_with_query_answers_tabseparated_with_clickhouse_headers(endpoint: Endpoint) -> None:
    response = httpx.get(endpoint.url + "/", params={"query": COUNT_BY_ORG}, auth=("toezicht", "toezicht-pw"))
    assert response.status_code == 200, response.text
    assert response.text == f"{ORG_A}\t{COUNTS[ORG_A]}\n{ORG_B}\t{COUNTS[ORG_B]}\n"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["x-clickhouse-format"] == "TabSeparated"
    assert response.headers["x-clickhouse-timezone"] == "Etc/UTC"
    uuid.UUID(response.headers["x-clickhouse-query-id"])  # generated when the client gives none
    summary = json.loads(response.headers["x-clickhouse-summary"])
    assert int(summary["read_rows"]) == sum(COUNTS.values())
    assert all(isinstance(value, str) for value in summary.values())


def test_post_body_param_plus_body_and_chunked_body(endpoint: Endpoint) -> None:
    auth = ("toezicht", "toezicht-pw")
    assert httpx.post(endpoint.url, content=b"SELECT 40 + 2", auth=auth).text == "42\n"
    # The start of the query in `query`, the rest in the body (ClickHouse joins them).
    joined = httpx.post(endpoint.url, params={"query": "SELECT 40"}, content=b"+ 2", auth=auth)
    assert joined.text == "42\n"

    def chunks():  # no Content-Length: Transfer-Encoding: chunked, as @clickhouse/client sends
        yield b"SELECT count() "
        yield b"FROM otel_traces"

    chunked = httpx.post(endpoint.url, content=chunks(), auth=auth)
    assert chunked.status_code == 200 and chunked.text == f"{sum(COUNTS.values())}\n"


def test_url_parameters(endpoint: Endpoint) -> None:
    # default_format; a FORMAT clause wins over it; query_id is echoed; param_* binds placeholders.
    response = endpoint.post(
        "SELECT count() AS n FROM otel_traces WHERE Organisation = {org:String}",
        default_format="JSONEachRow",
        query_id="panel-7",
        param_org=ORG_B,
        # Settings and session parameters are accepted and ignored.
        max_execution_time="65",
        session_id="abc",
        wait_end_of_query="1",
        limit="10",
    )
    assert response.status_code == 200, response.text
    assert json.loads(response.text) == {"n": COUNTS[ORG_B]}
    assert response.headers["x-clickhouse-query-id"] == "panel-7"
    assert response.headers["x-clickhouse-format"] == "JSONEachRow"
    assert response.headers["content-type"].startswith("application/json")
    overridden = endpoint.post("SELECT 1 AS one FORMAT JSONCompactEachRow", default_format="CSV")
    assert overridden.text == "[1]\n" and overridden.headers["x-clickhouse-format"] == "JSONCompactEachRow"
    # database: the current database of the query; an unknown one is ClickHouse's 404.
    assert endpoint.rows("SELECT count() FROM one", database="system") == [["1"]]
    assert endpoint.rows("SELECT currentDatabase()") == [["default"]]  # no USE carries over to the next request
    unknown = endpoint.post("SELECT 1", database="nergens")
    assert unknown.status_code == 404 and unknown.headers["x-clickhouse-exception-code"] == "81"


@pytest.mark.parametrize("how", ["basic", "headers", "params"])
def test_three_ways_to_give_credentials(endpoint: Endpoint, how: str) -> None:
    request: dict = {"params": {"query": "SELECT currentDatabase()"}}
    if how == "basic":
        request["auth"] = ("fg-b", "fg-b-pw")  # this user is configured by password_sha256_hex
    elif how == "headers":
        request["headers"] = {"X-ClickHouse-User": "fg-b", "X-ClickHouse-Key": "fg-b-pw"}
    else:
        request["params"] |= {"user": "fg-b", "password": "fg-b-pw"}
    response = httpx.get(endpoint.url, **request)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "auth",
    [("toezicht", "wrong"), ("niemand", "toezicht-pw"), None, ("toezicht", "")],
    ids=["wrong password", "unknown user", "no credentials", "empty password"],
)
def test_failed_authentication_is_403_516_and_never_echoes_the_password(endpoint: Endpoint, auth) -> None:
    response = httpx.post(endpoint.url, content=b"SELECT 1", auth=auth)
    assert response.status_code == 403
    assert response.headers["x-clickhouse-exception-code"] == "516"
    assert response.text.startswith("Code: 516. DB::Exception: ")
    assert "(AUTHENTICATION_FAILED)" in response.text
    assert "toezicht-pw" not in response.text
    assert response.headers["content-length"] == str(len(response.content))


@pytest.mark.parametrize(
    ("sql", "status", "code"),
    [
        ("SELEC 1", 400, "62"),
        ("SELECT 1; SELECT 2", 400, "62"),
        ("SELECT * FROM bestaat_niet", 404, "60"),
        ("SELECT geen_functie(1)", 404, "46"),
        ("SELECT {x:UInt8}", 400, "456"),
    ],
)
def test_errors_are_shaped_like_clickhouse(endpoint: Endpoint, sql: str, status: int, code: str) -> None:
    response = endpoint.post(sql)
    assert response.status_code == status, response.text
    assert response.headers["x-clickhouse-exception-code"] == code
    assert response.text.startswith(f"Code: {code}. DB::Exception: ")
    assert response.headers["content-length"] == str(len(response.content))
    assert "formatQuery" not in response.text  # the endpoint's own checks stay out of the message


def test_gzip_only_when_asked_with_enable_http_compression(endpoint: Endpoint) -> None:
    sql = "SELECT number FROM numbers(500)"
    plain = httpx.post(endpoint.url, content=sql.encode(), auth=("toezicht", "toezicht-pw"),
                       headers={"Accept-Encoding": "gzip"})  # fmt: skip
    assert "content-encoding" not in plain.headers  # as ClickHouse: Accept-Encoding alone does not compress
    # httpx would decompress transparently; read the raw bytes to see what went over the wire.
    with httpx.stream(
        "POST", endpoint.url, content=sql.encode(), params={"enable_http_compression": "1"},
        auth=("toezicht", "toezicht-pw"), headers={"Accept-Encoding": "gzip"},
    ) as compressed:  # fmt: skip
        raw = b"".join(compressed.iter_raw())
        assert compressed.headers["content-encoding"] == "gzip"
        assert compressed.headers["content-length"] == str(len(raw))
    assert gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content)


def test_oversized_query_is_413(endpoint: Endpoint) -> None:
    big = "SELECT '" + "x" * 9000 + "'"
    response = endpoint.post(big)
    assert response.status_code == 413
    assert response.headers["x-clickhouse-exception-code"] == "229"

    def chunks():  # no Content-Length to trust: the limit holds while reading
        for _ in range(20):
            yield b"-- " + b"y" * 1000 + b"\n"

    chunked = httpx.post(endpoint.url, content=chunks(), auth=("toezicht", "toezicht-pw"))
    assert chunked.status_code == 413


def test_external_tables_and_compressed_bodies_are_refused(endpoint: Endpoint) -> None:
    auth = ("toezicht", "toezicht-pw")
    multipart = httpx.post(endpoint.url, params={"query": "SELECT 1"}, files={"t": b"1\n"}, auth=auth)
    assert multipart.status_code == 415
    compressed = httpx.post(
        endpoint.url, content=gzip.compress(b"SELECT 1"), headers={"Content-Encoding": "gzip"}, auth=auth
    )
    assert compressed.status_code == 415 and compressed.headers["x-clickhouse-exception-code"] == "779"


def _client(endpoint: Endpoint, user: str) -> clickhouse_connect.driver.Client:
    return clickhouse_connect.get_client(
        host="127.0.0.1", port=endpoint.port, username=user, password=USERS[user][0], interface="http"
    )


def test_clickhouse_connect_in_http_mode(endpoint: Endpoint) -> None:
    client = _client(endpoint, "toezicht")
    assert client.ping()
    assert client.server_version == "26.9.2.1"
    rows = client.query(
        "SELECT Organisation, count() AS n, max(Timestamp) AS last, any(SpanAttributes) AS attrs "
        "FROM otel_traces WHERE Organisation = {org:String} GROUP BY Organisation",
        parameters={"org": ORG_A},
    ).named_results()
    (row,) = list(rows)
    assert row["Organisation"] == ORG_A and row["n"] == COUNTS[ORG_A]
    assert row["last"].year >= 2026  # DateTime64(9, 'UTC') decoded as a datetime
    assert row["attrs"]["dpl.core.data_subject_id"].startswith("hmac-sha256:")  # Map(LowCardinality(String), String)
    assert client.query("SELECT name FROM system.tables WHERE name = 'otel_traces'").result_rows == [("otel_traces",)]
    arrow = client.query_arrow("SELECT Organisation, count() AS n FROM otel_traces GROUP BY 1 ORDER BY 1")
    assert arrow.column("n").to_pylist() == [COUNTS[ORG_A], COUNTS[ORG_B]]
    frame = client.query_df("SELECT Organisation, StatusCode, Timestamp FROM otel_traces ORDER BY Timestamp")
    assert len(frame) == sum(COUNTS.values()) and set(frame["Organisation"]) == {ORG_A, ORG_B}
    # The reader reports every setting read-only (system.settings), so the client sends none.
    with pytest.raises(ProgrammingError, match="readonly"):
        client.query("SELECT 1", settings={"max_threads": 1})
    raw = client.raw_query("SELECT 1 AS a", fmt="JSONEachRow")
    assert json.loads(raw) == {"a": 1}
    with pytest.raises(DatabaseError) as refused:
        client.command("DROP TABLE otel_traces")
    assert "497" in str(refused.value)
    client.close()


def test_readers_use_the_trace_projection_of_small_parts_too(endpoint: Endpoint) -> None:
    """Grafana cannot add the store's read settings to its queries: each reader has them already."""
    client = _client(endpoint, "toezicht")
    setting = READ_SETTINGS.split("=")[0].strip()
    assert client.query(f"SELECT getSetting('{setting}')").result_rows == [(0,)]
    client.close()


def test_clickhouse_connect_as_an_organisation_user(endpoint: Endpoint) -> None:
    client = _client(endpoint, "fg-b")
    assert client.query(COUNT_BY_ORG).result_rows == [(ORG_B, COUNTS[ORG_B])]
    client.close()
