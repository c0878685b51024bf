"""An organisation user's expressions never see another organisation's rows (issue 19, item 1).

Two organisations in one store: A's records spread over two dozen small inserts and in one big
part that also holds B's; A's and B's rejection counts written in the same insert. Every
relation with an `Organisation` column served to an organisation user is attacked with
expressions that raise, or take time, only on a row of B: in PREWHERE, WHERE, a CTE, a
subquery, a JOIN, IN, the SELECT list and GROUP BY. The answer (status, exception code, body,
result) must be the same as for an organisation that has no rows, carry none of B's values,
and take no longer.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import httpx
import pytest

from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings, create_app, running
from ldv_logboek.storage import LogStore
from tests.inzicht_api.clickhouse_support import ACTIVITY_B, ORG_A, ORG_B, SUBJECT_B, record

NOBODY = "gemeente-nergens"  # an organisation without rows: the answer every attack must give
B_SERVICE = f"{ORG_B}-api"
B_REJECTED_SERVICE = "geheime-dienst-b"
USERS = {
    "fg-a": {"password": "fg-a-pw", "scope": ORG_A, "raw_rows": True},
    "fg-a-telling": {"password": "fg-a-telling-pw", "scope": ORG_A},
    "toezicht": {"password": "toezicht-pw", "scope": "supervisor", "raw_rows": True},
}
A_RECORDS = 24 + 300
B_RECORDS = 6
# Relations with an Organisation column, by who may read them; a string column of each to leak.
RAW_RELATIONS = {"otel_traces": "DataSubjectId", "ldv_records_with_register": "DataSubjectId"}
COUNT_RELATIONS = {
    "ldv_dashboard_records": "ServiceName",
    "ldv_ingest_rejections": "ServiceName",
    "ldv_dashboard_rejections": "ServiceName",
}
# Each is true on every row, and raises, sleeps or works hard only on a row of organisation {X}.
EXPRESSIONS = {
    "cast": "toUInt64(if(Organisation = '{X}', concat('LEAK|', toString({col})), '1')) = 1",
    "throwIf": "throwIf(Organisation = '{X}') = 0",
    "assumeNotNull": "assumeNotNull(if(Organisation = '{X}', NULL, 1)) = 1",
    "intDiv-by-zero": "intDiv(1, if(Organisation = '{X}', 0, 1)) = 1",
    "array-index": "throwIf(arrayElement([1], if(Organisation = '{X}', 5, 1)) = 0) = 0",
    "range-negative": "length(range(if(Organisation = '{X}', -1, 1))) >= 0",
    "regex": "match('a', if(Organisation = '{X}', concat('(', toString({col})), 'a'))",
    "sleep": "if(Organisation = '{X}', sleepEachRow(0.4), 0) = 0",
    "heavy": "length(arrayMap(x -> sipHash64(x), range(if(Organisation = '{X}', 3000000, 1)))) > 0",
    "dictionary": "throwIf(ServiceName IN ('{X}-api', '{X}')) = 0",
}
RAW_EXPRESSIONS = {
    "subject": f"throwIf(DataSubjectId = 'hmac-sha256:' || if('{{X}}' = '{ORG_B}', '{'bb' * 32}', '00')) = 0",
    "activity": "throwIf(ProcessingActivityId = if('{X}' = '" + ORG_B + "', '" + ACTIVITY_B + "', 'none')) = 0",
}
CLAUSES = {
    "PREWHERE": "SELECT count() FROM {rel} PREWHERE {e}",
    "WHERE": "SELECT count() FROM {rel} WHERE {e}",
    "CTE": "WITH x AS (SELECT * FROM {rel} WHERE {e}) SELECT count() FROM x",
    "subquery": "SELECT count() FROM (SELECT * FROM {rel}) WHERE {e}",
    "JOIN": "SELECT count() FROM {rel} AS l JOIN (SELECT 1 AS k) AS r ON r.k = 1 WHERE {le}",
    "IN": "SELECT count() FROM numbers(3) WHERE number IN (SELECT 1 FROM {rel} WHERE {e})",
    "SELECT": "SELECT sum({e}) > 0 FROM {rel}",
    "GROUP BY": "SELECT count() FROM (SELECT 1 FROM {rel} GROUP BY {e})",
    "qualified PREWHERE": "SELECT count() FROM default.{rel} PREWHERE {e}",
    "qualified WHERE": "SELECT count() FROM `default`.{rel} WHERE {e}",
}
MARKERS = ("LEAK|", SUBJECT_B, B_SERVICE, B_REJECTED_SERVICE, ACTIVITY_B)


@pytest.fixture(scope="module", name="url")
def scoped_endpoint(store: LogStore) -> Iterator[str]:
    for _ in range(24):  # many small parts of A
        store.insert([record(ORG_A)])
    big = [record(ORG_A) for _ in range(A_RECORDS - 24)] + [record(ORG_B) for _ in range(B_RECORDS)]
    store.insert(big)  # one big part with A's and B's records
    # Rejection counts of A and B in one insert (one part, one dictionary), and of A alone.
    store.client.command(
        f"INSERT INTO ldv_ingest_rejections VALUES (now64(3), '{ORG_A}', 'dienst-a', 'r1', 3), "
        f"(now64(3), '{ORG_B}', '{B_REJECTED_SERVICE}', 'r1', 2)"
    )
    store.client.command(f"INSERT INTO ldv_ingest_rejections VALUES (now64(3), '{ORG_A}', 'dienst-a', 'r2', 3)")
    settings = ClickHouseHttpSettings.model_validate({"users": USERS, "max_execution_time": 20, "pool_size": 2})
    with running(create_app(store, settings)) as url:
        yield url


def _ask(url: str, user: str, sql: str) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    response = httpx.post(url + "/", content=sql.encode(), auth=(user, USERS[user]["password"]), timeout=60)
    elapsed = time.perf_counter() - started
    return response.status_code, response.headers.get("x-clickhouse-exception-code", ""), response.text, elapsed


@dataclasses.dataclass(frozen=True)
class Attack:
    user: str
    relation: str
    column: str
    expression: str
    clause: str

    def sql(self, organisation: str) -> str:
        e = self.expression.replace("{col}", self.column).replace("{X}", organisation)
        joined = e.replace("Organisation", "l.Organisation").replace(self.column, f"l.{self.column}")
        joined = joined.replace("ServiceName", "l.ServiceName").replace("l.l.", "l.")
        return CLAUSES[self.clause].format(rel=self.relation, e=e, le=joined)


# Every clause on the relations the issue attacked; the plain ones on the views over them.
EVERY_CLAUSE = {"otel_traces", "ldv_dashboard_records", "ldv_ingest_rejections"}
PLAIN_CLAUSES = ("PREWHERE", "WHERE", "CTE", "subquery", "qualified PREWHERE")


def _attacks() -> list[Attack]:
    attacks = []
    for user, relations in (("fg-a", {**RAW_RELATIONS, **COUNT_RELATIONS}), ("fg-a-telling", COUNT_RELATIONS)):
        for relation, column in relations.items():
            expressions = dict(EXPRESSIONS)
            if relation in RAW_RELATIONS:
                expressions |= RAW_EXPRESSIONS
            for expression in expressions.values():
                for clause in CLAUSES:
                    if user == "fg-a-telling" and clause not in ("PREWHERE", "WHERE", "qualified WHERE"):
                        continue  # the same relations as fg-a's, on a reader of its own
                    if relation not in EVERY_CLAUSE and clause not in PLAIN_CLAUSES:
                        continue
                    attacks.append(Attack(user, relation, column, expression, clause))
    return attacks


ATTACKS = _attacks()


@pytest.mark.parametrize(
    "attack", ATTACKS, ids=[f"{a.user}:{a.relation}:{a.clause}:{a.expression[:24]}" for a in ATTACKS]
)
def test_no_value_of_another_organisation_reaches_a_users_expression(url: str, attack: Attack) -> None:
    status_b, code_b, body_b, time_b = _ask(url, attack.user, attack.sql(ORG_B))
    status_n, code_n, body_n, time_n = _ask(url, attack.user, attack.sql(NOBODY))
    assert (status_b, code_b) == (status_n, code_n), f"B's rows change the answer: {body_b[:300]} vs {body_n[:300]}"
    if status_b == 200:
        assert body_b == body_n
    else:
        assert status_b < 500, body_b  # a refusal of the user's query, not the server's fault
    for marker in MARKERS:
        if marker not in attack.sql(ORG_B):
            assert marker not in body_b, body_b[:400]
    # B has 6 records: a sleep of 0.4 s or heavy work per B row would show as seconds, every time.
    # A pause of the machine shows once: when the first pair differs, the fastest of three counts.
    if time_b >= time_n + 1.0:
        time_b = min([time_b] + [_ask(url, attack.user, attack.sql(ORG_B))[3] for _ in range(2)])
        time_n = min([time_n] + [_ask(url, attack.user, attack.sql(NOBODY))[3] for _ in range(2)])
    assert time_b < time_n + 1.0, f"{time_b:.2f}s with B's rows against {time_n:.2f}s without"


def test_every_relation_with_an_organisation_column_is_attacked(url: str) -> None:
    """The attack list covers every relation an organisation user may read that has an Organisation column."""
    status, _, body, _ = _ask(
        url,
        "toezicht",
        "SELECT DISTINCT table FROM system.columns WHERE database = 'default' AND name = 'Organisation' ORDER BY table",
    )
    assert status == 200
    with_organisation = set(body.split())
    attacked = set(RAW_RELATIONS) | set(COUNT_RELATIONS)
    assert with_organisation == attacked


def test_scoped_users_still_read_their_own_rows(url: str) -> None:
    for user, relation in (("fg-a", "otel_traces"), ("fg-a-telling", "ldv_dashboard_records")):
        status, _, body, _ = _ask(url, user, f"SELECT count(), uniqExact(Organisation) FROM {relation}")
        assert (status, body.split()) == (200, [str(A_RECORDS), "1"])
    status, _, body, _ = _ask(url, "fg-a-telling", "SELECT sum(Spans) FROM ldv_ingest_rejections")
    assert (status, body.strip()) == (200, "6")
    # Grafana's trace view: nested columns, maps and ARRAY JOIN work through the scope.
    status, _, body, _ = _ask(
        url,
        "fg-a",
        "SELECT count() FROM otel_traces ARRAY JOIN Events.Name AS n WHERE ResourceAttributes['service.name'] != ''",
    )
    assert status == 200, body
    status, _, body, _ = _ask(url, "toezicht", "SELECT count() FROM otel_traces")
    assert (status, body.strip()) == (200, str(A_RECORDS + B_RECORDS))


def test_a_settings_clause_is_still_refused(url: str) -> None:
    status, code, _, _ = _ask(url, "fg-a", "SELECT count() FROM otel_traces SETTINGS query_plan_filter_push_down = 1")
    assert (status, code) == (403, "164")
