"""The Grafana ClickHouse plugin's query (`grafana-clickhouse-datasource`) for the foundation SDK.

The SDK has no ClickHouse module, so this is the plugin's SQL-editor target: `rawSql`, `format`
(how the backend turns rows into frames), `queryType` and `editorType: "sql"`, with the data
source taken from the dashboard's `${datasource}` variable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

PLUGIN_TYPE = "grafana-clickhouse-datasource"
DATASOURCE_VARIABLE = "datasource"
# Panels and targets name the data source through the dashboard variable, so one dashboard
# works against any ClickHouse data source the user picks.
DATASOURCE = DataSourceRef(type_val=PLUGIN_TYPE, uid="${" + DATASOURCE_VARIABLE + "}")


class Format(enum.IntEnum):
    """The plugin's result formats (grafana-plugin-sdk-go sqlutil)."""

    TIME_SERIES = 0
    TABLE = 1
    LOGS = 2
    TRACE = 3


# The plugin's queryType that matches each format (used by Explore and the query editor).
_QUERY_TYPES = {Format.TIME_SERIES: "timeseries", Format.TABLE: "table", Format.LOGS: "logs", Format.TRACE: "traces"}


@dataclass
class ClickHouseQuery(cogvariants.Dataquery, cogbuilder.Builder["ClickHouseQuery"]):
    """One SQL target of the ClickHouse plugin; its own builder, for `Panel.with_target`."""

    ref_id: str
    raw_sql: str
    format: Format
    datasource: DataSourceRef = DATASOURCE

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": self.datasource.to_json(),
            "editorType": "sql",
            "rawSql": self.raw_sql,
            "format": int(self.format),
            "queryType": _QUERY_TYPES[self.format],
        }

    def build(self) -> ClickHouseQuery:
        return self
