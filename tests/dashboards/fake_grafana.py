"""A fake of the few Grafana HTTP API routes `ldv dashboards push` calls.

It is a fake because Grafana cannot run here. It is a real HTTP server on 127.0.0.1 (a free
port), so grafana-client talks real HTTP to it; the routes answer as Grafana's HTTP API
documents them (grafana.com/docs/grafana/v11.0/developers/http_api: folder, data_source,
dashboard): 401 without the token, 404 for an unknown uid, 412-free upserts with overwrite.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class GrafanaState:
    token: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> {dashboard, folderUid, version}
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


class FakeGrafana:
    def __init__(self, token: str) -> None:
        self.state = GrafanaState(token=token)
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def _handle(self, method: str) -> None:
                state.requests.append((method, self.path))
                if self.headers.get("Authorization") != f"Bearer {state.token}":
                    return self._send(401, {"message": "Unauthorized"})
                path = self.path.split("?")[0]
                body = self._body() if method in ("POST", "PUT") else None
                if m := re.fullmatch(r"/api/folders/([\w-]+)", path):
                    folder = state.folders.get(m.group(1))
                    if folder is None:
                        return self._send(404, {"message": "folder not found"})
                    if method == "PUT":
                        folder["title"] = body["title"]
                        folder["version"] += 1
                    return self._send(200, folder)
                if path == "/api/folders" and method == "POST":
                    if body["uid"] in state.folders:
                        return self._send(409, {"message": "a folder with the same uid already exists"})
                    folder = {"uid": body["uid"], "title": body["title"], "id": len(state.folders) + 1, "version": 1}
                    state.folders[body["uid"]] = folder
                    return self._send(200, folder)
                if m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
                    uid = m.group(1)
                    if uid not in state.datasources:
                        return self._send(404, {"message": "Data source not found"})
                    if method == "PUT":
                        state.datasources[uid] = {**body, "id": state.datasources[uid]["id"]}
                        return self._send(200, {"message": "Datasource updated", "datasource": body})
                    shown = {k: v for k, v in state.datasources[uid].items() if k != "secureJsonData"}
                    return self._send(200, shown)  # Grafana never returns secrets
                if path == "/api/datasources" and method == "POST":
                    if body["uid"] in state.datasources or any(d["name"] == body["name"] for d in state.datasources.values()):
                        return self._send(409, {"message": "data source with the same name already exists"})
                    state.datasources[body["uid"]] = {**body, "id": len(state.datasources) + 1}
                    return self._send(200, {"message": "Datasource added", "id": len(state.datasources)})
                if path == "/api/dashboards/db" and method == "POST":
                    dashboard = body["dashboard"]
                    uid = dashboard["uid"]
                    if body.get("folderUid") not in state.folders:
                        return self._send(400, {"message": "folder not found"})
                    if uid in state.dashboards and not body.get("overwrite"):
                        return self._send(412, {"status": "name-exists", "message": "A dashboard with the same uid already exists"})
                    version = state.dashboards.get(uid, {}).get("version", 0) + 1
                    state.dashboards[uid] = {"dashboard": dashboard, "folderUid": body["folderUid"], "version": version}
                    slug = re.sub(r"[^a-z0-9]+", "-", dashboard["title"].lower()).strip("-")
                    return self._send(200, {"id": 1, "uid": uid, "url": f"/d/{uid}/{slug}", "status": "success", "version": version, "slug": slug})
                return self._send(404, {"message": "Not found"})

            def do_GET(self) -> None:  # noqa: N802 - http.server's names
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.state.requests if m != "GET"]
