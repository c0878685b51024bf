"""Security headers on every response of the Inzicht app: every route, every kind of caller.

`Cache-Control: no-store` (OWASP ASVS 8.2.1: personal data stays out of caches), `nosniff`,
no referrer, and framing protection with a strict Content-Security-Policy. The routes are
taken from the app itself, so a route added later is covered without touching this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ldv_collector import GroupCommitWriter
from ldv_logboek.storage import LogStore, TransparencyLog, connect
from ldv_logboek.tlog import Signer as LogSigner
from tests.conftest import make_record
from tests.inzicht_api.inzage_support import (
    ACT,
    LINDA,
    Signer,
    citizen,
    make_app,
    organisation,
    seed,
    supervisor,
    write_jwks,
)

PATH_VALUES = {
    "traceId": "0" * 32,
    "spanId": "0" * 16,
    "activity_id": quote(ACT["huurtoeslag"], safe=""),
    "number": "1",
    "organisation_id": quote("https://register.toeslagen.example/organisations/dienst-toeslagen", safe=""),
}
BODIES = {
    ("POST", "/lezenapi/v1/processing-activities"): {"json": {"dpl.core.data_subject_id": LINDA}},
    ("POST", "/inzage/inloggen"): {"data": {"bsn": LINDA}},
}


@dataclass
class Env:
    client: TestClient
    signer: Signer
    routes: list[tuple[str, str]]  # (method, path template)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("headers")
    store = LogStore(connect(f"chdb://{tmp / 'store'}"))
    store.migrate()
    seed(store)
    # One record through the collector's writer with the transparency log on: the proof route's
    # receipt (a supervisor reads it) is a success answer too.
    log = TransparencyLog.open(store, LogSigner.generate("logboek.test/headers"))
    logged = make_record()
    writer = GroupCommitWriter(store, max_batch_wait_ms=0, log=log)
    writer.start()
    try:
        writer.submit([logged]).result(timeout=60)
    finally:
        writer.stop()
    log.sign_checkpoint()
    PATH_VALUES.update(traceId=logged.trace_id.hex(), spanId=logged.span_id.hex())
    signer, demo = Signer.generate("issuer-1"), Signer.generate("demo")
    jwks = write_jwks(tmp / "jwks.json", signer, demo)
    demo_key = tmp / "demo.pem"
    demo_key.write_bytes(demo.private_pem)
    app = make_app(store, jwks, follow_chain=False, demo_key=demo_key)
    routes = [(method, route.path) for route in app_routes(app) for method in sorted(route.methods or ()) if method != "HEAD"]
    # chDB serves one data directory per process: close it so the next module can open its own.
    yield Env(TestClient(app, follow_redirects=False), signer, routes)
    store.close()


def app_routes(app: FastAPI) -> list[Any]:
    """Every route of `app` with its full path (also those of included routers)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # a FastAPI without lazily included routers: app.routes is already flat
        return [r for r in app.routes if getattr(r, "methods", None)]
    return [r for r in iter_route_contexts(app.routes) if r.methods]


def _callers(signer: Signer) -> dict[str, dict[str, str]]:
    return {
        "anonymous": {},
        "citizen": citizen(signer, LINDA),
        "organisation": organisation(signer, "dienst-toeslagen"),
        "supervisor": supervisor(signer),
    }


def assert_security_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    headers = response.headers
    assert headers.get("Cache-Control") == "no-store", where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "no-referrer", where
    assert headers.get("X-Frame-Options") == "DENY", where
    directives = {d.split()[0]: d.split()[1:] for d in headers.get("Content-Security-Policy", "").split(";") if d.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert directives.get("default-src") == ["'none'"], where  # so no script-src: no script at all
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"], where


def test_every_route_for_every_caller_has_the_security_headers(env: Env) -> None:
    assert len(env.routes) == 23, env.routes  # the app's routes really were found
    succeeded: set[tuple[str, str]] = set()
    for method, template in env.routes:
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES[m[1]], template)
        for caller, headers in _callers(env.signer).items():
            response = env.client.request(method, path, headers=headers, **BODIES.get((method, template), {}))
            assert response.status_code < 500, (method, path, caller, response.text)
            assert_security_headers(response)
            if response.status_code < 400:
                succeeded.add((method, template))
    # Every route answered at least one caller with its content, not only refusals.
    assert succeeded == set(env.routes)


def test_personal_data_responses_are_not_stored(env: Env) -> None:
    """The responses that hold a citizen's records, each checked to really hold them."""
    client, signer = env.client, env.signer
    read = client.post("/lezenapi/v1/processing-activities", json={"dpl.core.data_subject_id": LINDA},
                       headers=citizen(signer, LINDA))
    inzage = client.get("/inzage/v1/mijn-verwerkingen", headers=citizen(signer, LINDA))
    page = client.get("/inzage/", headers=citizen(signer, LINDA))
    pdf = client.get("/inzage/overzicht.pdf", headers=citizen(signer, LINDA))
    counts = client.get("/overzicht/v1/counts", headers=supervisor(signer))
    assert read.json()["processingActivities"]
    assert inzage.json()["total"] > 0
    assert "Huurtoeslag berekenen en toekennen" in page.text and page.headers["content-type"].startswith("text/html")
    assert pdf.content.startswith(b"%PDF-") and pdf.headers["content-disposition"].startswith("attachment;")
    assert counts.json()["rows"]
    for response in (read, inzage, page, pdf, counts):
        assert response.status_code == 200
        assert_security_headers(response)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/lezenapi/v1/nothing-here", {}, 404),
        ("GET", "/inzage/nothing-here", {}, 404),
        ("DELETE", "/lezenapi/v1/processing-activities", {}, 405),
        ("POST", "/lezenapi/v1/processing-activities", {"content": b"{not json", "citizen": True}, 400),
        ("GET", "/inzage/v1/mijn-verwerkingen?vanaf=2025-02-01&tot=2025-01-01", {"citizen": True}, 400),
        ("GET", "/inzage/?vanaf=2025-02-01&tot=2025-01-01", {"citizen": True}, 400),
        ("GET", "/overzicht/v1/counts", {"citizen": True}, 403),
    ],
)
def test_refusals_have_the_security_headers_too(env: Env, method: str, path: str, kwargs: dict, status: int) -> None:
    headers = citizen(env.signer, LINDA) if kwargs.pop("citizen", False) else {}
    response = env.client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert_security_headers(response)


def test_the_page_has_no_inline_script_or_style_for_the_policy_to_block(env: Env) -> None:
    """The CSP allows only the page's own stylesheet: the HTML must not need more."""
    pages = [
        env.client.get("/inzage/", headers=citizen(env.signer, LINDA)),
        env.client.get("/inzage/"),
        env.client.get("/inzage/inloggen"),
        env.client.get("/inzage/nothing-here"),
    ]
    for page in pages:
        html = page.text
        assert "<script" not in html and "<style" not in html and " style=" not in html, page.request.url
        assert not re.search(r"\son[a-z]+=", html), page.request.url  # no event handler attributes
        assert 'rel="stylesheet" href="/inzage/static/inzage.css"' in html
