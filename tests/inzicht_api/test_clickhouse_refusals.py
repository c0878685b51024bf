"""What the ClickHouse endpoint refuses, and that an organisation's scope cannot be escaped.

Two layers, both tested: the engine's own `readonly=1` and row filters on every reader
connection (tested on a reader directly, without the endpoint's admission check), and the
admission check on the engine's query tree (tested through HTTP).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ldv_inzicht.clickhouse_http._admission import _check_tree, scoped
from ldv_inzicht.clickhouse_http.errors import ClickHouseError
from ldv_logboek.storage import LogStore
from tests.inzicht_api.clickhouse_support import (  # noqa: F401
    ACTIVITY_A,
    COUNTS,
    COUNTS_VIEW,
    ODD_NAME,
    ORG_A,
    ORG_B,
    REGISTER_VIEW,
    SUBJECT_B,
    SUBJECTS_VIEW,
    TOTALS_VIEW,
    Endpoint,
    clickhouse_endpoint,
    record,
)

# Each reads every organisation's rows if the scope leaks; for ORG_A's user each must count only ORG_A's.
ESCAPE_ATTEMPTS = {
    "plain": "SELECT count() FROM otel_traces",
    "alias": "SELECT count() FROM otel_traces AS other WHERE other.Organisation != ''",
    "or-true": f"SELECT count() FROM otel_traces WHERE Organisation = '{ORG_B}' OR 1 = 1",
    "subquery": "SELECT count() FROM (SELECT * FROM otel_traces)",
    "cte": "WITH alles AS (SELECT * FROM otel_traces) SELECT count() FROM alles",
    "scalar-subquery": "SELECT (SELECT count() FROM otel_traces)",
    "in-subquery": "SELECT count() FROM otel_traces WHERE TraceId NOT IN (SELECT TraceId FROM otel_traces WHERE 0)",
    "self-join": "SELECT count() FROM otel_traces a LEFT JOIN otel_traces b ON a.SpanId = b.SpanId",
    "union": "SELECT sum(c) FROM (SELECT count() c FROM otel_traces UNION ALL SELECT 0)",
    "view": f"SELECT count() FROM {COUNTS_VIEW}",
    "view-join": f"SELECT count() FROM {COUNTS_VIEW} v JOIN otel_traces t ON v.Timestamp = t.Timestamp",
    "subject-of-other-org": f"SELECT count() FROM otel_traces WHERE DataSubjectId = '{SUBJECT_B}' OR 1",
    "final-aggregate": "SELECT uniqExact(Organisation) * 0 + count() FROM otel_traces",
}


@pytest.mark.parametrize("sql", ESCAPE_ATTEMPTS.values(), ids=ESCAPE_ATTEMPTS.keys())
def test_organisation_user_counts_only_its_own_rows(endpoint: Endpoint, sql: str) -> None:
    assert endpoint.rows(sql, user="fg-a") == [[str(COUNTS[ORG_A])]]
    assert endpoint.rows(sql, user="fg-b") == [[str(COUNTS[ORG_B])]]
    assert endpoint.rows(sql, user="toezicht") == [[str(sum(COUNTS.values()))]]


def test_qualified_names_of_scoped_relations_read_the_scope_too(endpoint: Endpoint) -> None:
    # Grafana's query builder qualifies names: they read the scope's CTE like the unqualified name.
    for sql in (
        "SELECT count() FROM default.otel_traces",
        "SELECT count() FROM `default`.`otel_traces` WHERE default.otel_traces.Organisation != 'default.otel_traces'",
        'SELECT count() FROM "default"."otel_traces" AS t JOIN default.otel_traces AS u ON t.SpanId = u.SpanId',
    ):
        assert endpoint.rows(sql, user="fg-a") == [[str(COUNTS[ORG_A])]], sql
    assert endpoint.rows("SELECT count() FROM default.otel_traces", user="toezicht") == [[str(sum(COUNTS.values()))]]


def test_organisation_user_sees_no_other_organisation_value(endpoint: Endpoint) -> None:
    rows = endpoint.rows(
        "SELECT DISTINCT Organisation, DataSubjectId, ResourceAttributes['dpl.suite.organisation'] FROM otel_traces",
        user="fg-a",
    )
    assert len(rows) == 1 and rows[0][0] == ORG_A and rows[0][2] == ORG_A
    assert endpoint.rows(
        "SELECT count() FROM otel_traces WHERE Organisation = {o:String}", user="fg-a", param_o=ORG_B
    ) == [["0"]]
    # min/max and count could come from part metadata instead of rows: the filter holds there too.
    assert endpoint.rows("SELECT count(), max(DataSubjectId) FROM otel_traces", user="fg-b")[0][1] == SUBJECT_B


ESCAPES_REFUSED = {
    "merge()": "SELECT count() FROM merge('^otel')",
    "merge(db)": "SELECT count() FROM merge(currentDatabase(), 'otel_traces')",
    "mergeTreeIndex()": "SELECT * FROM mergeTreeIndex(default, otel_traces)",
    "mergeTreeProjection()": "SELECT count() FROM mergeTreeProjection(default, otel_traces, by_trace)",
    "view()": "SELECT count() FROM view(SELECT * FROM otel_traces)",
    "cluster()": "SELECT count() FROM cluster('default', default.otel_traces)",
    "remote()": "SELECT count() FROM remote('127.0.0.1', default.otel_traces)",
    "loop()": "SELECT count() FROM loop(default, otel_traces) LIMIT 1",
    "system.parts": "SELECT sum(rows) FROM system.parts WHERE table = 'otel_traces'",
    "system.processes": "SELECT query FROM system.processes",
    "system.user_query_log": "SELECT count() FROM system.user_query_log",
    "information_schema": "SELECT * FROM information_schema.tables",
    "show processlist": "SHOW PROCESSLIST",
    "show tables where": "SHOW TABLES WHERE name IN (SELECT TraceId FROM mergeTreeIndex(default, otel_traces))",
    "show tables limit": "SHOW TABLES LIMIT (SELECT count() FROM merge('^otel'))",
    "kill query": "KILL QUERY WHERE 1",
    "settings override": "SELECT count() FROM otel_traces SETTINGS additional_table_filters = {'default.otel_traces': '1'}",
    "file() function": "SELECT file('/etc/hostname')",
    "describe file()": "DESCRIBE TABLE file('/etc/hostname')",
    "dictGet": "SELECT dictGet('d', 'x', 1)",
    "joinGet": "SELECT joinGet('default.otel_traces', 'TraceId', '1')",
}


@pytest.mark.parametrize("sql", ESCAPES_REFUSED.values(), ids=ESCAPES_REFUSED.keys())
def test_ways_around_the_filters_are_refused(endpoint: Endpoint, sql: str) -> None:
    for user in ("fg-a", "toezicht"):
        response = endpoint.post(sql, user=user)
        assert response.status_code in (403, 404), (user, response.text)
        assert response.headers["x-clickhouse-exception-code"] in ("497", "164", "60"), response.text
        assert response.text.startswith("Code: ")


# Statements both layers refuse: the endpoint's admission check, and the engine on a reader.
WRITES_AND_DDL = {
    "insert": "INSERT INTO otel_traces (TraceId) VALUES ('x')",
    "create": "CREATE TABLE t (x UInt8) ENGINE = Memory",
    "drop": "DROP TABLE otel_traces",
}
OUTSIDE_DATA = {
    "s3()": "SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv', 'CSV')",
    "url()": "SELECT * FROM url('http://127.0.0.1:9/x.csv', 'CSV')",
    "file()": "SELECT * FROM file('/etc/hostname', 'LineAsString')",
    "executable()": "SELECT * FROM executable('true', 'TSV', 'x String')",
    "mysql()": "SELECT * FROM mysql('127.0.0.1:9', 'db', 't', 'u', 'p')",
    "postgresql()": "SELECT * FROM postgresql('127.0.0.1:9', 'db', 't', 'u', 'p')",
}
WRITES = {
    **WRITES_AND_DDL,
    "insert select": "INSERT INTO otel_traces SELECT * FROM otel_traces",
    "truncate": "TRUNCATE TABLE otel_traces",
    "alter delete": "ALTER TABLE otel_traces DELETE WHERE 1",
    "delete": "DELETE FROM otel_traces WHERE 1",
    "optimize": "OPTIMIZE TABLE otel_traces FINAL",
    "set": "SET max_execution_time = 1000",
    "set readonly": "SET readonly = 0",
    "system": "SYSTEM FLUSH LOGS",
    "use": "USE system",
    "into outfile": "SELECT 1 INTO OUTFILE 'ldv-ch-outfile-test.txt'",
    **OUTSIDE_DATA,
    "remoteSecure()": "SELECT * FROM remoteSecure('127.0.0.1:9', system.one)",
    "python()": "SELECT * FROM python('x')",
}


@pytest.mark.parametrize("sql", WRITES.values(), ids=WRITES.keys())
def test_writes_ddl_settings_and_outside_data_are_refused(endpoint: Endpoint, sql: str) -> None:
    response = endpoint.post(sql, user="toezicht")
    assert response.status_code == 403, response.text
    assert response.headers["x-clickhouse-exception-code"] in ("497", "164")
    assert response.text.startswith(f"Code: {response.headers['x-clickhouse-exception-code']}. DB::Exception: ")
    assert not Path("ldv-ch-outfile-test.txt").exists()


ENGINE_REFUSES = {
    **WRITES_AND_DDL,
    "set": "SET max_result_rows = 0",
    "lift the filter": "SET additional_table_filters = {}",
    "settings clause": "SELECT 1 SETTINGS readonly = 0",
    "system": "SYSTEM DROP MARK CACHE",
    **OUTSIDE_DATA,
    "remote()": "SELECT * FROM remote('127.0.0.1', default.otel_traces)",
    "sqlite()": "SELECT * FROM sqlite('/nonexistent.db', 't')",
}


@pytest.mark.parametrize("sql", ENGINE_REFUSES.values(), ids=ENGINE_REFUSES.keys())
def test_the_engine_itself_refuses_on_a_reader(endpoint: Endpoint, sql: str) -> None:
    """Without the endpoint's admission check: `readonly=1` on the connection is enough for these."""
    from ldv_inzicht.clickhouse_http.errors import ClickHouseError

    pool = endpoint.app.state.endpoint.pool  # type: ignore[attr-defined]
    with pool.reader(ORG_A) as reader, pytest.raises(ClickHouseError) as refused:
        reader.run(sql, "TabSeparated")
    assert refused.value.code == 164, refused.value.message
    with pool.reader(ORG_A) as reader:  # and the reader's scope still holds afterwards
        assert reader.run("SELECT count() FROM otel_traces", "TabSeparated").data == f"{COUNTS[ORG_A]}\n".encode()


def test_the_writer_is_unaffected(endpoint: Endpoint, store: LogStore) -> None:
    """The store's own connection is not read-only: it creates, writes and reads while readers serve."""
    store.client.command("CREATE TABLE IF NOT EXISTS ldv_test_writer (x UInt8) ENGINE = Memory")
    store.client.insert("ldv_test_writer", [[7]], column_names=["x"])
    assert store.client.query("SELECT sum(x), getSetting('readonly') FROM ldv_test_writer").result_rows == [(7, 0)]
    assert endpoint.rows("SELECT count() FROM otel_traces", user="fg-a") == [[str(COUNTS[ORG_A])]]
    store.client.command("DROP TABLE ldv_test_writer")


def test_counts_only_users_read_views_not_records(endpoint: Endpoint) -> None:
    """Data minimisation: without raw_rows, the records table (pseudonyms, attributes) is refused; views serve counts."""
    for user, expected in (("dashboard", sum(COUNTS.values())), ("fg-a-telling", COUNTS[ORG_A])):
        refused = endpoint.post("SELECT count() FROM otel_traces", user=user)
        assert refused.status_code == 403 and refused.headers["x-clickhouse-exception-code"] == "497"
        hidden = endpoint.post(f"SELECT count() FROM {COUNTS_VIEW} WHERE ProcessingActivityId IN "
                               "(SELECT ProcessingActivityId FROM otel_traces)", user=user)  # fmt: skip
        assert hidden.status_code == 403
        assert endpoint.rows(f"SELECT count() FROM {COUNTS_VIEW}", user=user) == [[str(expected)]]
        errors = endpoint.rows(f"SELECT countIf(StatusCode = 'Error') FROM {COUNTS_VIEW}", user=user)
        assert errors == [["1"]]
        # The register is public: every user may join it.
        assert endpoint.rows("SELECT count() FROM ldv_register_activity_versions", user=user) == [["0"]]
    # Schema metadata stays readable (Grafana's editor lists tables and columns).
    assert "otel_traces" in {r[0] for r in endpoint.rows("SHOW TABLES", user="dashboard")}
    assert endpoint.rows("SHOW TABLES FROM \"default\" LIKE 'otel%' LIMIT 5", user="dashboard") == [["otel_traces"]]
    assert ["default"] in endpoint.rows("SHOW DATABASES", user="dashboard")
    assert ["Organisation"] in [r[:1] for r in endpoint.rows('DESC TABLE "default"."otel_traces"', user="dashboard")]
    assert endpoint.rows("EXISTS TABLE otel_traces", user="dashboard") == [["1"]]
    assert endpoint.rows(f"SELECT activity FROM (SELECT '{ACTIVITY_A}' AS activity)", user="dashboard")


def test_dashboard_views_register_views_and_the_rest(endpoint: Endpoint) -> None:
    """Which relations without an Organisation column an organisation user reads (allowlist by name)."""
    everyone = f"SELECT subjects FROM {SUBJECTS_VIEW}(every = 1, organisations = [])"
    # A parameterised dashboard view: the row filter reaches through it; one subject per organisation here.
    assert endpoint.rows(everyone, user="dashboard") == [["2"]]
    assert endpoint.rows(everyone, user="fg-a-telling") == [["1"]]
    other = f"SELECT subjects FROM {SUBJECTS_VIEW}(every = 0, organisations = ['{ORG_B}'])"
    assert endpoint.rows(other, user="fg-a-telling") == [["0"]]
    sneaky = f"SELECT * FROM {SUBJECTS_VIEW}(every = (SELECT count() FROM otel_traces), organisations = [])"
    assert endpoint.post(sneaky, user="fg-a-telling").status_code in (400, 403)
    assert endpoint.rows(f"SELECT count() FROM {REGISTER_VIEW}", user="fg-a-telling") == [["0"]]
    assert endpoint.rows(f"SELECT n FROM {TOTALS_VIEW}", user="dashboard") == [[str(sum(COUNTS.values()))]]
    refused = endpoint.post(f"SELECT n FROM {TOTALS_VIEW}", user="fg-a")
    assert refused.status_code == 403 and refused.headers["x-clickhouse-exception-code"] == "497"
    # A name with a space is checked like any other: raw, so refused without raw_rows.
    odd = f"SELECT count() FROM `{ODD_NAME}`"
    assert endpoint.post(odd, user="dashboard").status_code == 403
    assert endpoint.rows(odd, user="toezicht") == [[str(sum(COUNTS.values()))]]


def test_timeout_is_408(endpoint: Endpoint) -> None:
    response = endpoint.post("SELECT sum(number % 7) FROM numbers(1000000000000)", user="fg-a")
    assert response.status_code == 408, response.text
    assert response.headers["x-clickhouse-exception-code"] == "159"
    assert response.text.startswith("Code: 159. DB::Exception: ")


def test_row_cap_refuses_a_larger_result(endpoint: Endpoint) -> None:
    assert len(endpoint.rows("SELECT number FROM numbers(5000)", user="fg-a")) == 5000
    response = endpoint.post("SELECT number FROM numbers(5001)", user="fg-a")
    assert response.status_code == 400, response.text
    assert response.headers["x-clickhouse-exception-code"] == "396"
    assert "TOO_MANY_ROWS_OR_BYTES" in response.text


def test_concurrent_users_keep_their_scopes(endpoint: Endpoint) -> None:
    """Many queries at once from several users, more than the pool has readers: no filter travels between them."""
    expected = {"fg-a": COUNTS[ORG_A], "fg-b": COUNTS[ORG_B], "toezicht": sum(COUNTS.values())}
    sql = "SELECT count(), getSetting('additional_table_filters') FROM otel_traces a JOIN otel_traces b USING SpanId"

    def ask(user: str) -> tuple[str, list[list[str]]]:
        return user, endpoint.rows(sql, user=user)

    users = [user for _ in range(12) for user in expected]
    with ThreadPoolExecutor(max_workers=9) as pool:
        answers = list(pool.map(ask, users))
    assert len(answers) == 36
    for user, rows in answers:
        (count, filters), = rows  # fmt: skip
        assert int(count) == expected[user], (user, rows)
        if user == "toezicht":
            assert filters == "{}"
        else:
            own = ORG_A if user == "fg-a" else ORG_B
            other = ORG_B if own == ORG_A else ORG_A
            assert own in filters and other not in filters


def test_secrets_are_not_in_the_settings_repr() -> None:
    from tests.inzicht_api.clickhouse_support import settings

    text = repr(settings()) + str(settings().model_dump())
    assert "toezicht-pw" not in text and "fg-a-pw" not in text
    assert os.environ.get("LDV_CLICKHOUSE_USERS") is None


def test_a_scoped_relation_read_outside_the_scopes_cte_is_refused(endpoint: Endpoint) -> None:
    """The backstop behind the rewrite: the query tree may read a scoped relation only as its CTE's body."""
    state = endpoint.app.state.endpoint  # type: ignore[attr-defined]
    access = state.access["fg-a"]
    with state.pool.reader(access.scope) as reader:
        with pytest.raises(ClickHouseError) as refused:
            _check_tree(reader, "SELECT count() FROM default.otel_traces", {}, access, "default")
        assert refused.value.status == 403 and "outside the organisation's scope" in refused.value.message
        # The same query as admitted (under the scope's CTEs) passes.
        _check_tree(reader, scoped("SELECT count() FROM default.otel_traces", access), {}, access, "default")
