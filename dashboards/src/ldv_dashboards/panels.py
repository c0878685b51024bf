"""Panel and variable builders shared by the three dashboards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import nodegraph, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from ldv_dashboards import sql
from ldv_dashboards.query import DATASOURCE, DATASOURCE_VARIABLE, PLUGIN_TYPE, ClickHouseQuery, Format

VERWERKING_UID = "ldv-verwerking"
# Opens one processing (trace) in the Verwerking dashboard, keeping data source and time range.
TRACE_LINK_URL = (
    f"/d/{VERWERKING_UID}/ldv-verwerking?var-trace_id=${{__value.raw}}"
    f"&var-{DATASOURCE_VARIABLE}=${{{DATASOURCE_VARIABLE}}}&${{__url_time_range}}"
)

AnyPanel = cogbuilder.Builder[model.Panel]
P = TypeVar("P")


@dataclass
class Grid:
    """Places panels left to right in rows of 24 columns, as Grafana's grid has."""

    x: int = 0
    y: int = 0
    row_height: int = 0
    panels: list[AnyPanel] = field(default_factory=list)

    def add(self, panel: AnyPanel, w: int, h: int) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        # Stable ids (1, 2, ...): Grafana's panel links and "view panel" URLs use them.
        panel.id(len(self.panels) + 1).grid_pos(model.GridPos(h=h, w=w, x=self.x, y=self.y))  # type: ignore[attr-defined]
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)


# --- variables -----------------------------------------------------------------------------


def datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable(DATASOURCE_VARIABLE).label("Databron").type(PLUGIN_TYPE)


# The filter variables: name -> (label, the query of its values).
QUERY_VARIABLES = {
    "organisation": ("Organisatie", sql.VAR_ORGANISATIONS),
    "activity": ("Verwerkingsactiviteit", sql.VAR_ACTIVITIES),
    "legal_basis": ("Wet / grondslag", sql.VAR_LAWS),
}


def query_variable(name: str, *, multi: bool = True) -> dash.QueryVariable:
    label, raw_sql = QUERY_VARIABLES[name]
    variable = (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query({"editorType": "sql", "rawSql": raw_sql})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        variable = variable.multi(True).include_all(True).current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    return variable


# --- panels --------------------------------------------------------------------------------


def _panel(panel: P, title: str, description: str, fmt: Format, **targets: str) -> P:
    """`panel` with its title and description, reading `targets` (refId -> SQL, in `fmt`) from the dashboard's
    data source."""
    built: Any = panel
    for ref_id, raw_sql in targets.items():
        built = built.with_target(ClickHouseQuery(ref_id, raw_sql, fmt))
    return built.title(title).description(description).datasource(DATASOURCE)


def stat_panel(title: str, raw_sql: str, *, description: str, unit: str = "none", red_above: float | None = None) -> stat.Panel:
    panel = _panel(stat.Panel(), title, description, Format.TABLE, A=raw_sql).unit(unit).no_value("0")
    if red_above is not None:
        panel = panel.thresholds(
            dash.ThresholdsConfig()
            .mode(model.ThresholdsMode.ABSOLUTE)
            .steps([model.Threshold(value=None, color="green"), model.Threshold(value=red_above, color="red")])
        )
    return panel


def series_panel(title: str, raw_sql: str, *, description: str, unit: str = "none") -> timeseries.Panel:
    return _panel(timeseries.Panel(), title, description, Format.TIME_SERIES, A=raw_sql).unit(unit)


def table_panel(title: str, raw_sql: str, *, description: str, trace_link: bool = False) -> table.Panel:
    panel = _panel(table.Panel(), title, description, Format.TABLE, A=raw_sql)
    if trace_link:
        panel = panel.override_by_name(
            "TraceId",
            [
                model.DynamicConfigValue(
                    id_val="links",
                    value=[{"title": "Open deze verwerking", "url": TRACE_LINK_URL, "targetBlank": False}],
                )
            ],
        )
    return panel


def flows_panel(*, description: str) -> nodegraph.Panel:
    flows = {"nodes": sql.FLOW_NODES, "edges": sql.FLOW_EDGES}
    return _panel(nodegraph.Panel(), "Stromen tussen organisaties", description, Format.TABLE, **flows)


def trace_panel() -> dash.Panel:
    """Grafana's trace view; the SDK has no builder of its own for it."""
    return _panel(
        dash.Panel().type("traces"),
        "Verwerking als trace",
        "Alle handelingen van deze verwerking, over organisaties heen (data subject ids zijn weggelaten).",
        Format.TRACE,
        A=sql.TRACE,
    )
