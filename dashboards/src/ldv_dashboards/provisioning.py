"""Grafana provisioning as code: the data source, the dashboard provider and the alert rules.

Grafana reads these files from /etc/grafana/provisioning at start (see docs/dashboards.md);
`ldv dashboards push` sends the same data source and dashboards over Grafana's HTTP API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.models.dashboard import DataSourceRef

from ldv_dashboards import sql
from ldv_dashboards.query import PLUGIN_TYPE, ClickHouseQuery, Format

DATASOURCE_UID = "ldv-logboek"
DATASOURCE_NAME = "LDV Logboek"
FOLDER_UID = "ldv"
FOLDER_TITLE = "LDV"
# Where the provider reads the dashboard JSON inside Grafana (mount dashboards/generated there).
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/ldv"
# Grafana replaces $NAME in provisioning files with the environment variable: no secret on disk.
PASSWORD_FROM_ENVIRONMENT = "$LDV_GRAFANA_CLICKHOUSE_PASSWORD"


@dataclass(frozen=True)
class Endpoint:
    """Where Grafana reaches the Logboek's ClickHouse HTTP interface (`ldv serve`)."""

    host: str = "127.0.0.1"
    port: int = 8123
    username: str = "grafana"
    database: str = "default"
    secure: bool = False


def datasource(endpoint: Endpoint, password: str) -> dict[str, Any]:
    """The ClickHouse data source in HTTP mode (the Logboek offers no native TCP protocol)."""
    return {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": PLUGIN_TYPE,
        "access": "proxy",
        "editable": False,
        "jsonData": {
            "host": endpoint.host,
            "port": endpoint.port,
            "protocol": "http",
            "secure": endpoint.secure,
            "username": endpoint.username,
            "defaultDatabase": endpoint.database,
        },
        "secureJsonData": {"password": password},
    }


def datasources_file(endpoint: Endpoint = Endpoint()) -> dict[str, Any]:
    return {"apiVersion": 1, "datasources": [datasource(endpoint, PASSWORD_FROM_ENVIRONMENT)]}


def dashboards_file() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "ldv",
                "orgId": 1,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


@dataclass(frozen=True)
class AlertRule:
    uid: str
    title: str
    raw_sql: str
    above: float  # fires when the query's number is above this
    window_seconds: int
    summary: str
    no_data_state: str = "OK"


ALERT_RULES = (
    AlertRule(
        "ldv-unregistered-activity",
        "Verwerking zonder geldige registeractiviteit",
        sql.ALERT_UNREGISTERED,
        above=0,
        window_seconds=900,
        summary="Er zijn verwerkingen vastgelegd waarvan de activiteit niet in het register staat of op dat moment niet gold.",
    ),
    AlertRule(
        "ldv-error-share",
        "Foutaandeel boven 5%",
        sql.ALERT_ERROR_SHARE,
        above=0.05,
        window_seconds=3600,
        summary="Meer dan 5% van de verwerkingen van het afgelopen uur eindigde met status Error.",
    ),
    AlertRule(
        "ldv-ingest-stall",
        "Logboek slaat niets meer op",
        sql.ALERT_INGEST_STALL,
        above=900,
        window_seconds=900,
        summary="Al meer dan 15 minuten is geen verwerking opgeslagen: staat de collector stil? "
        "Stel de drempel af op het verkeer van uw organisaties.",
        no_data_state="Alerting",
    ),
)


def _alert(rule: AlertRule) -> dict[str, Any]:
    # Alert rules run without dashboard variables: the data source is named by its uid.
    query = ClickHouseQuery("A", rule.raw_sql, Format.TABLE, DataSourceRef(type_val=PLUGIN_TYPE, uid=DATASOURCE_UID))
    model = query.to_json()
    model.update(intervalMs=1000, maxDataPoints=43200)
    return {
        "uid": rule.uid,
        "title": rule.title,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": rule.window_seconds, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": model,
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "A",
                    "datasource": {"type": "__expr__", "uid": "__expr__"},
                    "conditions": [{"evaluator": {"type": "gt", "params": [rule.above]}}],
                },
            },
        ],
        "noDataState": rule.no_data_state,
        "execErrState": "Error",
        "for": "0s",
        "annotations": {"summary": rule.summary},
        "labels": {"component": "ldv-logboek"},
        "isPaused": False,
    }


def alerting_file() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "ldv-toezicht",
                "folder": FOLDER_TITLE,
                "interval": "5m",
                "rules": [_alert(rule) for rule in ALERT_RULES],
            }
        ],
    }

