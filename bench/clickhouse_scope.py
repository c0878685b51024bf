"""Cost of the ClickHouse endpoint's organisation scope (issue 19): a dashboard query and a trace lookup,
as an organisation user, with the scope of before (additional_table_filters only) and of now
(the scope's CTEs and SCOPE_SETTINGS), on the same store in the same run.

    .venv/bin/python bench/clickhouse_scope.py [records]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

import chdb

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests.* helpers

from ldv_inzicht.clickhouse_http._access import Access, Catalog, row_filter_settings  # noqa: E402
from ldv_inzicht.clickhouse_http._admission import scoped
from ldv_inzicht.clickhouse_http.settings import ClickHouseUser
from ldv_logboek.storage import READ_SETTINGS, LogStore, connect
from tests.inzicht_api.clickhouse_support import ORG_A, ORG_B, record

RECORDS = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
QUERIES = {
    "dashboard: processings per hour, last 7 days": (
        "SELECT toStartOfHour(Timestamp) AS t, uniqExact(TraceId, SpanId) FROM ldv_dashboard_records "
        "WHERE Timestamp >= now() - INTERVAL 7 DAY AND ProcessingActivityId != '' GROUP BY t ORDER BY t"
    ),
    "dashboard: top activities": (
        "SELECT ProcessingActivityId, count() AS n FROM ldv_dashboard_records "
        "WHERE Timestamp >= now() - INTERVAL 30 DAY GROUP BY ProcessingActivityId ORDER BY n DESC LIMIT 10"
    ),
    "trace lookup (otel_traces)": "SELECT SpanName, Duration FROM otel_traces WHERE TraceId = '{trace}'",
}


def main() -> None:
    directory = tempfile.mkdtemp(prefix="ldv-bench-scope-")
    store = LogStore(connect(f"chdb://{directory}"))
    store.migrate()
    batch = 5_000
    first = None
    for start in range(0, RECORDS, batch):
        rows = [record(ORG_A if i % 2 else ORG_B) for i in range(start, min(start + batch, RECORDS))]
        first = first or rows[1]
        store.insert(rows)
    trace = first.trace_id.hex() if first else ""
    path = os.path.realpath(directory)
    setup = chdb.connect(path)
    catalog = Catalog.from_columns(
        tuple(line.split("\t"))
        for line in setup.query(
            "SELECT t.database, t.name, c.name, c.type FROM system.tables AS t LEFT JOIN system.columns AS c "
            "ON c.database = t.database AND c.table = t.name WHERE NOT t.is_temporary AND t.database = 'default' "
            "ORDER BY t.database, t.name, c.position",
            "TabSeparated",
        )
        .bytes()
        .decode()
        .splitlines()
    )
    setup.close()
    access = Access.for_user(ClickHouseUser(password="x", scope=ORG_A, raw_rows=True), catalog)  # type: ignore[call-arg]
    filters = row_filter_settings(ORG_A, catalog, supervisor=False)
    before = chdb.connect(path)
    for statement in [f"SET {READ_SETTINGS}", filters[0], "SET readonly = 1"]:
        before.query(statement)
    after = chdb.connect(path)
    for statement in [f"SET {READ_SETTINGS}", *filters, "SET readonly = 1"]:
        after.query(statement)
    print(f"{RECORDS} records, two organisations; median of 15 runs, ms (machine shared with other jobs)")
    for name, sql in QUERIES.items():
        sql = sql.format(trace=trace)
        timings: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(15):  # interleaved, so that load on the machine hits both alike
            for label, connection, text in (("before", before, sql), ("after", after, scoped(sql, access))):
                started = time.perf_counter()
                connection.query(text, "TabSeparated")
                timings[label].append((time.perf_counter() - started) * 1000)
        b, a = statistics.median(timings["before"]), statistics.median(timings["after"])
        print(f"{name}: before {b:.1f} ms, after {a:.1f} ms, ratio {a / b:.2f}")
    before.close()
    after.close()
    store.close()


if __name__ == "__main__":
    main()
