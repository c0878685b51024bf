"""`ldv dashboards push` against a fake Grafana (fake_grafana.py): Grafana cannot run here, so a
real HTTP server on 127.0.0.1 answers the few API routes push calls, as Grafana documents them.
grafana-client is the real client."""

from __future__ import annotations

import pytest
from grafana_client.client import GrafanaUnauthorizedError
from typer.testing import CliRunner

from ldv_dashboards.dashboards import DASHBOARDS, dashboard_json
from ldv_dashboards.provisioning import DATASOURCE_UID, FOLDER_UID, Endpoint
from ldv_dashboards.push import push
from ldv_suite.cli import app
from tests.dashboards.fake_grafana import FakeGrafana

TOKEN = "glsa_test-token-0123456789"
PASSWORD = "endpoint-password-for-grafana"


def test_first_push_creates_folder_datasource_and_dashboards() -> None:
    with FakeGrafana(TOKEN) as grafana:
        result = push(grafana.url, TOKEN, Endpoint(host="ldv.example.internal", port=8123), PASSWORD)
        state = grafana.state
    assert (result.folder, result.datasource) == ("created", "created")
    assert set(result.dashboards) == set(DASHBOARDS) and result.dashboards["ldv-toezicht"] == "/d/ldv-toezicht/ldv-toezicht"
    assert state.folders[FOLDER_UID]["title"] == "LDV"
    ds = state.datasources[DATASOURCE_UID]
    assert ds["type"] == "grafana-clickhouse-datasource"
    assert {k: ds["jsonData"][k] for k in ("host", "port", "protocol", "username", "defaultDatabase")} == {
        "host": "ldv.example.internal", "port": 8123, "protocol": "http", "username": "grafana", "defaultDatabase": "default",
    }  # fmt: skip
    assert ds["secureJsonData"] == {"password": PASSWORD}
    for uid in DASHBOARDS:
        stored = state.dashboards[uid]
        assert stored["folderUid"] == FOLDER_UID
        assert stored["dashboard"] == {**dashboard_json(uid), "id": None}


def test_pushing_again_changes_nothing_but_versions() -> None:
    with FakeGrafana(TOKEN) as grafana:
        endpoint = Endpoint()
        push(grafana.url, TOKEN, endpoint, PASSWORD)
        first = {uid: d["dashboard"] for uid, d in grafana.state.dashboards.items()}
        creations = [w for w in grafana.writes() if w[0] == "POST" and w[1] in ("/api/folders", "/api/datasources")]
        second = push(grafana.url, TOKEN, endpoint, PASSWORD)
        again = [w for w in grafana.writes() if w[0] == "POST" and w[1] in ("/api/folders", "/api/datasources")]
        state = grafana.state
    assert len(creations) == 2 and again == creations  # nothing created twice
    assert (second.folder, second.datasource) == ("unchanged", "updated")
    assert {uid: d["dashboard"] for uid, d in state.dashboards.items()} == first
    assert {d["version"] for d in state.dashboards.values()} == {2}
    assert len(state.folders) == 1 and len(state.datasources) == 1


def test_a_renamed_folder_is_renamed_back() -> None:
    with FakeGrafana(TOKEN) as grafana:
        grafana.state.folders[FOLDER_UID] = {"uid": FOLDER_UID, "title": "oud", "id": 1, "version": 1}
        result = push(grafana.url, TOKEN, Endpoint(), PASSWORD)
        assert (result.folder, grafana.state.folders[FOLDER_UID]["title"]) == ("updated", "LDV")


def test_wrong_token_writes_nothing() -> None:
    with FakeGrafana(TOKEN) as grafana:
        with pytest.raises(GrafanaUnauthorizedError):
            push(grafana.url, "wrong", Endpoint(), PASSWORD)
        assert grafana.writes() == [] and not grafana.state.dashboards


def test_cli_push_reports_and_never_prints_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDV_GRAFANA_CLICKHOUSE_PASSWORD", PASSWORD)
    runner = CliRunner()
    with FakeGrafana(TOKEN) as grafana:
        ok = runner.invoke(app, ["dashboards", "push", "--grafana-url", grafana.url, "--token", TOKEN, "--clickhouse-host", "ldv"])
        refused = runner.invoke(app, ["dashboards", "push", "--grafana-url", grafana.url, "--token", "wrong"])
        assert grafana.state.datasources[DATASOURCE_UID]["secureJsonData"] == {"password": PASSWORD}
    assert ok.exit_code == 0, ok.output
    assert "folder created, data source created" in ok.output and "ldv-verwerking" in ok.output
    assert refused.exit_code == 1 and "HTTP 401" in refused.output
    for output in (ok.output, refused.output):
        assert TOKEN not in output and PASSWORD not in output


def test_cli_push_to_nothing_is_a_clear_error() -> None:
    with FakeGrafana(TOKEN) as grafana:
        url = grafana.url  # closed when the block ends: nothing listens there any more
    result = CliRunner().invoke(app, ["dashboards", "push", "--grafana-url", url, "--token", TOKEN])
    assert result.exit_code == 1 and "cannot reach Grafana" in result.output


def test_push_client_leaves_urllib3_alone() -> None:
    """grafana-client 4 and later pull niquests, whose urllib3-future overwrites the urllib3
    package in place and breaks requests (schemathesis failed on it): ldv-dashboards pins
    grafana-client below 4, which uses requests."""
    from importlib.metadata import PackageNotFoundError, distribution, version

    import urllib3

    assert version("grafana-client").startswith("3.")
    for name in ("niquests", "urllib3-future"):
        with pytest.raises(PackageNotFoundError):
            distribution(name)
    assert urllib3.__version__ == version("urllib3")
