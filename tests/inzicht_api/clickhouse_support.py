"""A store seeded with two organisations' records, and the ClickHouse endpoint over it, for the endpoint's tests."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings, create_app, running
from ldv_logboek import LogRecord, Status
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore
from tests.conftest import make_record

ORG_A, ORG_B = "dienst-toeslagen", "gemeente-utrecht"
ACTIVITY_A = "https://register.example/processing-activities/huurtoeslag"
ACTIVITY_B = "https://register.example/processing-activities/bijstand"
SUBJECT_A = "hmac-sha256:" + "aa" * 32
SUBJECT_B = "hmac-sha256:" + "bb" * 32
# A view as the dashboards add them: counts by organisation and activity, no subject, no attributes.
COUNTS_VIEW = "ldv_test_activity_counts"
# A parameterised dashboard view returning one number (no Organisation column), a view over the
# public register, and a view that is neither (refused to organisation users).
SUBJECTS_VIEW = "ldv_dashboard_test_subjects"
REGISTER_VIEW = "ldv_register_test_latest"
TOTALS_VIEW = "ldv_test_totals"
# A raw relation whose name has a space (the engine prints it unquoted in its query tree).
ODD_NAME = "ldv test subjects"

# user -> (password, scope, raw_rows)
USERS = {
    "toezicht": ("toezicht-pw", "supervisor", True),
    "dashboard": ("dashboard-pw", "supervisor", False),
    "fg-a": ("fg-a-pw", ORG_A, True),
    "fg-a-telling": ("fg-a-telling-pw", ORG_A, False),
    "fg-b": ("fg-b-pw", ORG_B, True),
}
# Seeded: ORG_A 3 records (1 error), ORG_B 2 records.
COUNTS = {ORG_A: 3, ORG_B: 2}


def record(org: str, *, status: Status = Status.OK) -> LogRecord:
    activity, subject = (ACTIVITY_A, SUBJECT_A) if org == ORG_A else (ACTIVITY_B, SUBJECT_B)
    base = make_record(subject=subject, activity=activity, start_ns=time.time_ns() - 60_000_000_000)
    resource = {attr.SERVICE_NAME: f"{org}-api", attr.ORGANISATION: org}
    return dataclasses.replace(base, resource_attributes=resource, status=status)


def settings(**limits: int) -> ClickHouseHttpSettings:
    users = {}
    for name, (password, scope, raw_rows) in USERS.items():
        secret = (
            {"password_sha256_hex": hashlib.sha256(password.encode()).hexdigest()}
            if name == "fg-b"  # one user configured by hash, as ClickHouse's password_sha256_hex
            else {"password": password}
        )
        users[name] = {**secret, "scope": scope, "raw_rows": raw_rows}
    return ClickHouseHttpSettings.model_validate({"users": users, **limits})


def seed(store: LogStore) -> None:
    store.insert([record(ORG_A), record(ORG_A), record(ORG_A, status=Status.ERROR), record(ORG_B), record(ORG_B)])
    store.client.command(
        f"CREATE VIEW IF NOT EXISTS {COUNTS_VIEW} AS "
        "SELECT Organisation, ProcessingActivityId, StatusCode, Timestamp FROM otel_traces"
    )
    store.client.command(
        f"CREATE VIEW IF NOT EXISTS {SUBJECTS_VIEW} AS SELECT uniqExact(DataSubjectId) AS subjects FROM otel_traces "
        "WHERE {every:UInt8} OR Organisation IN {organisations:Array(String)}"
    )
    store.client.command(
        f"CREATE VIEW IF NOT EXISTS {REGISTER_VIEW} AS SELECT ActivityId, max(Version) AS Version "
        "FROM ldv_register_activity_versions GROUP BY ActivityId"
    )
    store.client.command(f"CREATE VIEW IF NOT EXISTS {TOTALS_VIEW} AS SELECT count() AS n FROM otel_traces")
    store.client.command(f"CREATE VIEW IF NOT EXISTS `{ODD_NAME}` AS SELECT DataSubjectId FROM otel_traces")


@dataclass
class Endpoint:
    """The running endpoint: its URL and the app (whose `state.endpoint` holds the reader pool)."""

    url: str
    app: object

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def post(self, sql: str, user: str | None = "toezicht", **params: str) -> httpx.Response:
        auth = (user, USERS[user][0]) if user else None
        return httpx.post(self.url + "/", content=sql.encode(), params=params, auth=auth, timeout=30)

    def rows(self, sql: str, user: str = "toezicht", **params: str) -> list[list[str]]:
        """TabSeparated rows of a query that must succeed."""
        response = self.post(sql, user, **params)
        assert response.status_code == 200, response.text
        return [line.split("\t") for line in response.text.splitlines()]


@pytest.fixture(scope="module", name="endpoint")
def clickhouse_endpoint(store: LogStore) -> Iterator[Endpoint]:
    """The endpoint over the module's store, seeded; import this fixture as `clickhouse_endpoint`."""
    seed(store)
    app = create_app(store, settings(max_execution_time=2, max_result_rows=5000, max_query_bytes=8192, pool_size=3))
    with running(app) as url:
        yield Endpoint(url, app)
