"""Runs a panel's SQL, expanded as Grafana would, where Grafana's data source would send it.

One place decides where that is: today the store's own chDB session. When the Logboek's
ClickHouse HTTP endpoint is available, this becomes clickhouse-connect in HTTP mode against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ldv_logboek.storage import LogStore
from tests.dashboards.grafana_macros import Context, expand


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
    """Expands and runs dashboard SQL against one store."""

    def __init__(self, store: LogStore) -> None:
        self.store = store

    def run(self, raw_sql: str, ctx: Context) -> Result:
        sql = expand(raw_sql, ctx)
        with self.store.lock:
            result = self.store.client.query(sql)
        return Result(tuple(result.column_names), result.result_rows)
