"""The committed dashboards and provisioning files: up to date with the code, and shaped the way
Grafana and the ClickHouse plugin need (checks Grafana itself would only show as a broken panel)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins, runtime
from grafana_foundation_sdk.models.dashboard import Dashboard, DataSourceRef

from ldv_dashboards.build import SOURCE_ROOT, outputs, stale
from ldv_dashboards.dashboards import DASHBOARDS, dashboard_json
from ldv_dashboards.panels import TRACE_LINK_URL, VERWERKING_UID
from ldv_dashboards.provisioning import DATASOURCE_UID
from ldv_dashboards.query import PLUGIN_TYPE, ClickHouseQuery, Format
from tests.dashboards.conftest import committed_dashboards, targets
from tests.dashboards.grafana_macros import macro_args

BOARDS = committed_dashboards()
# The result format each panel type needs (plugin: 0 time series, 1 table, 3 trace).
FORMAT_OF_PANEL = {"timeseries": 0, "stat": 1, "table": 1, "nodeGraph": 1, "traces": 3}
QUERY_TYPE_OF_FORMAT = {0: "timeseries", 1: "table", 3: "traces"}


def test_committed_files_are_what_the_code_generates() -> None:
    assert stale() == [], "run `ldv dashboards build` and commit the result"
    assert {f"generated/{uid}.json" for uid in DASHBOARDS} <= set(outputs())


def test_a_changed_file_is_reported_stale(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ldv_dashboards.build import write

    write(tmp_path)
    assert stale(tmp_path) == []
    (tmp_path / "generated" / "ldv-toezicht.json").write_text("{}")
    assert stale(tmp_path) == ["generated/ldv-toezicht.json"]


@pytest.mark.parametrize("uid", list(BOARDS))
def test_targets_name_the_clickhouse_datasource(uid: str) -> None:
    board = BOARDS[uid]
    assert board["uid"] == uid
    datasource_vars = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert [(v["name"], v["query"]) for v in datasource_vars] == [("datasource", PLUGIN_TYPE)]
    for panel, target in targets(board):
        assert target["datasource"] == {"type": PLUGIN_TYPE, "uid": "${datasource}"}, panel["title"]
        assert panel["datasource"] == {"type": PLUGIN_TYPE, "uid": "${datasource}"}, panel["title"]
        assert target["editorType"] == "sql" and target["rawSql"].strip()


@pytest.mark.parametrize("uid", list(BOARDS))
def test_ref_ids_unique_and_formats_fit_the_panel(uid: str) -> None:
    for panel in BOARDS[uid]["panels"]:
        ref_ids = [t["refId"] for t in panel.get("targets", [])]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel.get("targets", []):
            assert target["format"] == FORMAT_OF_PANEL[panel["type"]], panel["title"]
            assert target["queryType"] == QUERY_TYPE_OF_FORMAT[target["format"]]
        if panel["type"] == "nodeGraph":
            assert sorted(ref_ids) == ["edges", "nodes"]
        elif panel["type"] != "text":
            assert ref_ids == ["A"], panel["title"]


@pytest.mark.parametrize("uid", list(BOARDS))
def test_panels_have_unique_ids_and_do_not_overlap(uid: str) -> None:
    panels = BOARDS[uid]["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine


@pytest.mark.parametrize("uid", list(BOARDS))
def test_every_variable_used_exists_and_conditional_all_names_it_bare(uid: str) -> None:
    board = BOARDS[uid]
    names = {v["name"] for v in board["templating"]["list"]}
    texts = [t["rawSql"] for _, t in targets(board)] + [
        v["query"]["rawSql"] for v in board["templating"]["list"] if v["type"] == "query"
    ]
    for sql in texts:
        for match in re.finditer(re.escape("$__conditionalAll("), sql):
            condition, variable = macro_args(sql, match.end() - 1)[0]
            assert re.fullmatch(r"\$\w+", variable.strip()) and variable.strip()[1:] in names, condition
        used = set(re.findall(r"\$\{(\w+)(?::\w+)?\}", sql)) | set(re.findall(r"\$(?!__)(\w+)", sql))
        assert used <= names, used - names
        assert "DataSubjectId" not in sql and "otel_traces" not in sql  # dashboards read the views only


def test_tables_link_to_the_verwerking_dashboard() -> None:
    assert VERWERKING_UID in BOARDS
    links: list[Any] = []
    for board in BOARDS.values():
        for panel in board["panels"]:
            for override in panel.get("fieldConfig", {}).get("overrides", []):
                if override["matcher"] == {"id": "byName", "options": "TraceId"}:
                    links += [p["value"] for p in override["properties"] if p["id"] == "links"]
    assert len(links) == 3  # Toezicht, Organisatie and Verwerking's own recent list
    assert all(link[0]["url"] == TRACE_LINK_URL for link in links)
    assert TRACE_LINK_URL.startswith(f"/d/{VERWERKING_UID}/") and "var-trace_id=${__value.raw}" in TRACE_LINK_URL


def _query_from_json(data: dict[str, Any]) -> ClickHouseQuery:
    return ClickHouseQuery(data["refId"], data["rawSql"], Format(data["format"]), DataSourceRef.from_json(data["datasource"]))


def test_sdk_reads_the_dashboards_back_with_clickhouse_targets() -> None:
    """The SDK decodes every committed dashboard, its targets as the ClickHouse plugin's."""
    plugins.register_default_plugins()
    runtime.register_dataquery_variant(runtime.DataqueryConfig(identifier=PLUGIN_TYPE, from_json_hook=_query_from_json))
    for uid in BOARDS:
        decoded = Dashboard.from_json(dashboard_json(uid))
        queries = [t for p in decoded.panels or [] for t in (getattr(p, "targets", None) or [])]
        assert queries and all(isinstance(q, ClickHouseQuery) for q in queries)


def test_provisioning_files() -> None:
    root = SOURCE_ROOT / "provisioning"
    datasources = yaml.safe_load((root / "datasources" / "ldv-logboek.yaml").read_text())["datasources"]
    (ds,) = datasources
    assert (ds["uid"], ds["type"]) == (DATASOURCE_UID, PLUGIN_TYPE)
    assert {k: ds["jsonData"][k] for k in ("host", "port", "protocol", "username", "defaultDatabase")} == {
        "host": "127.0.0.1", "port": 8123, "protocol": "http", "username": "grafana", "defaultDatabase": "default",
    }  # fmt: skip
    assert ds["secureJsonData"]["password"].startswith("$")  # from the environment, never on disk
    (provider,) = yaml.safe_load((root / "dashboards" / "ldv.yaml").read_text())["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == "ldv"
    rules = yaml.safe_load((root / "alerting" / "ldv-alerts.yaml").read_text())["groups"][0]["rules"]
    assert [r["uid"] for r in rules] == ["ldv-unregistered-activity", "ldv-error-share", "ldv-ingest-stall"]
    for rule in rules:
        query, condition = rule["data"]
        assert query["datasourceUid"] == DATASOURCE_UID and query["model"]["datasource"]["uid"] == DATASOURCE_UID
        assert condition["model"]["type"] == "threshold" and condition["model"]["expression"] == "A"
        assert rule["condition"] == "C"
