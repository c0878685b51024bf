"""`ldv dashboards push`: upsert the LDV folder, data source and dashboards into a running Grafana
over its HTTP API (grafana-client), idempotently: pushing twice leaves the same state.

Calls: GET/POST/PUT /api/folders[/{uid}], GET/POST/PUT /api/datasources[/uid/{uid}],
POST /api/dashboards/db (with overwrite). Alert rules travel as a provisioning file only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from ldv_dashboards.dashboards import DASHBOARDS, dashboard_json
from ldv_dashboards.provisioning import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, Endpoint, datasource

PUSH_MESSAGE = "ldv dashboards push"


@dataclass
class PushResult:
    """What each upsert did: "created", "updated" or "unchanged"."""

    folder: str = ""
    datasource: str = ""
    dashboards: dict[str, str] = field(default_factory=dict)  # uid -> Grafana's URL of it


def _upsert_folder(api: GrafanaApi) -> str:
    try:
        folder: dict[str, Any] = api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:  # anything but "not there yet"
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        return "created"
    if folder.get("title") == FOLDER_TITLE:
        return "unchanged"
    api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
    return "updated"


def _upsert_datasource(api: GrafanaApi, endpoint: Endpoint, password: str) -> str:
    wanted = datasource(endpoint, password)
    try:
        api.datasource.get_datasource_by_uid(DATASOURCE_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:  # anything but "not there yet"
            raise
        api.datasource.create_datasource(wanted)
        return "created"
    # Always sent: Grafana never returns the stored password, so it cannot be compared.
    api.datasource.update_datasource_by_uid(DATASOURCE_UID, wanted)
    return "updated"


def push(grafana_url: str, token: str, endpoint: Endpoint, password: str, *, timeout: float = 10.0) -> PushResult:
    """Upsert folder, data source and the three dashboards. Raises grafana_client's
    GrafanaException (e.g. GrafanaUnauthorizedError) or a connection error."""
    api = GrafanaApi.from_url(grafana_url, credential=token, timeout=timeout)
    result = PushResult(folder=_upsert_folder(api), datasource=_upsert_datasource(api, endpoint, password))
    for uid in DASHBOARDS:
        board = dashboard_json(uid)
        board["id"] = None  # Grafana matches on uid; an id would have to be this Grafana's own
        answer = api.dashboard.update_dashboard(
            {"dashboard": board, "folderUid": FOLDER_UID, "overwrite": True, "message": PUSH_MESSAGE}
        )
        result.dashboards[uid] = str(answer.get("url", ""))
    return result
