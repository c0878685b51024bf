"""Runs a panel's SQL as Grafana's ClickHouse data source would: expanded as Grafana and the plugin
expand it (grafana_macros.py), then sent by clickhouse-connect in HTTP mode to the Logboek's
read-only ClickHouse endpoint (`ldv_inzicht.clickhouse_http`, what `ldv serve` offers on port
8123) over the store, as a user without `raw_rows`, like a dashboard's data source user.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect

from ldv_inzicht.clickhouse_http import SUPERVISOR, ClickHouseHttpSettings, create_app, running
from ldv_logboek.storage import LogStore
from tests.dashboards.grafana_macros import Context, expand

PASSWORD = "dashboard-test-password"


@dataclass
class Result:
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def scalar(self) -> Any:
        assert len(self.rows) == 1 and len(self.columns) == 1, (self.columns, self.rows)
        return self.rows[0][0]


class PanelRunner:
    """Expands dashboard SQL and runs it through the endpoint at `url` as `user`."""

    def __init__(self, url: str, user: str) -> None:
        parts = urlsplit(url)
        self.client = clickhouse_connect.get_client(
            host=parts.hostname, port=parts.port, interface="http", username=user, password=PASSWORD
        )

    def run(self, raw_sql: str, ctx: Context) -> Result:
        result = self.client.query(expand(raw_sql, ctx))
        return Result(tuple(result.column_names), result.result_rows)


@contextmanager
def endpoint_runner(store: LogStore, *, user: str = "grafana", scope: str = SUPERVISOR) -> Iterator[PanelRunner]:
    """The ClickHouse endpoint over `store` with one dashboard user (no raw rows), and a runner on it.

    Start it after the store is migrated: the endpoint reads the store's views when it starts.
    """
    settings = ClickHouseHttpSettings.model_validate({"users": {user: {"password": PASSWORD, "scope": scope}}})
    with running(create_app(store, settings)) as url:
        runner = PanelRunner(url, user)
        try:
            yield runner
        finally:
            runner.client.close()
