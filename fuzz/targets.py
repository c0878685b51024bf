"""The fuzz targets: each turns arbitrary bytes into an input from outside and feeds the real code.

A target's `check(data)` returns when the code answered as documented (a result, or one of the
errors it documents for bad input: UndecodableBody, RegisterFileError, AuthError, CursorRefused,
a 4xx problem, a ClickHouse-shaped 4xx error) and raises for anything else: an undocumented
exception, or a 5xx for input that is the caller's fault. `fuzz/run.py` runs one under atheris;
tests/faults/test_fuzz_corpus.py runs every committed input through them in the test suite.

Heavy state (a chDB store, the apps) is made once per process by `setup()`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "corpus"


class Finding(AssertionError):
    """The code under test did something it must not for any input."""


@dataclass
class Target:
    name: str
    setup: Callable[[], Callable[[bytes], None]]
    _check: Callable[[bytes], None] | None = field(default=None, repr=False)

    def check(self, data: bytes) -> None:
        if self._check is None:
            self._check = self.setup()
        self._check(data)


def _otlp(encoding_name: str) -> Callable[[bytes], None]:
    from ldv_collector._decode import Encoding, decode_request
    from ldv_collector._ingest import Ingester
    from ldv_collector.errors import UndecodableBody
    from ldv_collector.settings import CollectorSettings

    encoding = Encoding[encoding_name]
    ingester = Ingester(CollectorSettings(pseudonymisation_key="fuzz-organisation-key-0123456789"))

    def check(data: bytes) -> None:
        try:
            request = decode_request(data, encoding)
        except UndecodableBody:
            return
        result = ingester.ingest(request)  # the checks of the standard: must take any decoded request
        result.error_message(8192)
        for record in result.records:
            record.span_id.hex()

    return check


def _store() -> Any:
    """One migrated chDB store per process, with a few records (made once)."""
    global _STORE
    if _STORE is None:
        from ldv_logboek.storage import LogStore, connect

        _STORE = LogStore(connect(f"chdb://{tempfile.mkdtemp(prefix='ldv-fuzz-')}"))
        _STORE.migrate()
    return _STORE


_STORE: Any = None


def bind_store(store: Any) -> None:
    """Use `store` (a migrated LogStore) for the targets that need one, from now on; None: make one.

    chDB opens one data directory per process: the test suite hands its own store in.
    """
    global _STORE
    _STORE = store
    for target in TARGETS.values():
        target._check = None


def _asgi(app: Any) -> Callable[..., Any]:
    """A synchronous request function on an ASGI app, in process (no sockets)."""
    import anyio
    import httpx

    def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fuzz.test") as client:
                return await client.request(method, url, **kwargs)

        return anyio.run(send)

    return request


def _read_api() -> Callable[[bytes], None]:
    """POST /lezenapi/v1/processing-activities with a fuzzed body and a fuzzed or real cursor."""
    from tests.inzicht_api.inzage_support import Signer, make_app, seed, write_jwks

    store = _store()
    seed(store)
    signer = Signer.generate("fuzz")
    jwks = write_jwks(Path(tempfile.mkdtemp(prefix="ldv-fuzz-jwks-")) / "jwks.json", signer)
    request = _asgi(make_app(store, jwks, follow_chain=False))
    headers = {"Authorization": "Bearer " + signer.token(exp_in=10**8, roles=["supervisor"]), "Content-Type": "application/json"}
    path = "/lezenapi/v1/processing-activities"
    first = request("POST", path, json={}, headers=headers, params={"limit": 1})
    real_cursor = first.json().get("nextCursor", "")

    def check(data: bytes) -> None:
        mode, body = (data[0] % 4, data[1:]) if data else (0, b"")
        params: dict[str, str] = {}
        if mode == 1:  # the cursor is the fuzzed part (the body empty)
            params, body = {"cursor": body.decode("utf-8", "replace")}, b"{}"
        elif mode == 2:  # a real cursor with the fuzzed body: bound to another search, refused
            params = {"cursor": real_cursor, "limit": "2"}
        elif mode == 3:  # a real cursor, changed by the fuzzer
            params = {"cursor": real_cursor[: len(body) % (len(real_cursor) + 1)] + body.decode("latin-1")[:64]}
            body = b"{}"
        response = request("POST", path, content=body, headers=headers, params=params)
        if response.status_code >= 500:
            raise Finding(f"read API answered {response.status_code} to a body/cursor of the caller: {response.text[:500]}")
        if response.status_code != 200 and "application/problem+json" not in response.headers.get("content-type", ""):
            raise Finding(f"read API error {response.status_code} is not problem+json")

    return check


def _clickhouse_endpoint() -> Callable[[bytes], None]:
    """The read-only ClickHouse HTTP endpoint: request handling and query admission, on the real engine."""
    from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings, create_app

    store = _store()
    settings = ClickHouseHttpSettings.model_validate({
        "users": {"toezicht": {"password": "toezicht-pw", "scope": "supervisor"},
                  "org": {"password": "org-pw", "scope": "dienst-toeslagen"}},
        "max_execution_time": 2, "max_result_rows": 1000, "max_query_bytes": 8192, "pool_size": 1,
    })  # fmt: skip
    request = _asgi(create_app(store, settings))

    def check(data: bytes) -> None:
        mode, rest = (data[0] % 4, data[1:]) if data else (0, b"")
        user = ("toezicht", "toezicht-pw") if mode % 2 == 0 else ("org", "org-pw")
        text = rest.decode("utf-8", "replace")
        if mode < 2:  # the query in the body
            response = request("POST", "/", content=rest, auth=user)
        else:  # the query and settings in the URL, as Grafana sends them
            query, _, setting = text.partition("&")
            response = request("GET", "/", params={"query": query, "default_format": setting[:40]}, auth=user)
        if response.status_code >= 500 and response.status_code not in (503,):
            raise Finding(f"ClickHouse endpoint answered {response.status_code}: {response.text[:500]}")

    return check


def _register() -> Callable[[bytes], None]:
    from ldv_logboek.register import RegisterFileError, parse_register_text

    def check(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        for source in ("fuzz.yaml", "fuzz.json"):
            try:
                register = parse_register_text(text, source)
            except RegisterFileError:
                continue
            for activity in register.activities.values():
                activity.versions  # noqa: B018 - a parsed register is usable

    return check


def _token() -> Callable[[bytes], None]:
    """Token parsing and checking: raw token text, or fuzzed claims and headers signed with the trusted key."""
    import jwt

    from ldv_inzicht._auth import AuthError, TokenVerifier
    from tests.inzicht_api.inzage_support import Signer, auth_settings, write_jwks

    signer = Signer.generate("fuzz")
    jwks = write_jwks(Path(tempfile.mkdtemp(prefix="ldv-fuzz-jwks-")) / "jwks.json", signer)
    verifier = TokenVerifier(auth_settings(jwks))

    def check(data: bytes) -> None:
        mode, rest = (data[0] % 3, data[1:]) if data else (0, b"")
        if mode == 0:
            token = rest.decode("utf-8", "replace")
        else:
            if mode == 1:
                try:
                    claims = json.loads(rest)
                except ValueError:
                    return
                if not isinstance(claims, dict):
                    return
            else:
                claims = _claims(rest, now=int(time.time()))
            try:
                token = jwt.encode(claims, signer.private_pem, algorithm="ES256", headers={"kid": "fuzz"})
            except (TypeError, ValueError):
                return  # not a token anyone could send
        try:
            principal = verifier.verify(token)
        except AuthError:
            return
        principal.has  # noqa: B018

    return check


_CLAIM_KEYS = ("sub", "iss", "aud", "iat", "exp", "nbf", "roles", "bsn", "organisation")


def _claims(data: bytes, now: int) -> dict[str, Any]:
    """Token claims built from bytes: each byte pair picks whether a claim is there and which
    kind of value it gets (a right one, a wrong type, a near miss), so the fuzzer reaches the
    checks behind the signature without having to write JSON."""
    from tests.inzicht_api.inzage_support import AUDIENCE, ISSUER

    right: dict[str, Any] = {"sub": "fuzz-user", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
                             "nbf": now, "roles": ["citizen"], "bsn": "123456782", "organisation": "dienst-toeslagen"}
    claims: dict[str, Any] = {}
    text = data.decode("latin-1")
    for i, key in enumerate(_CLAIM_KEYS):
        pick = data[i] if i < len(data) else 0
        piece = text[i * 7 : i * 7 + 7 + pick % 9]
        kind = pick % 8
        if kind == 7:
            continue  # left out
        roles = [r for n, r in enumerate(("citizen", "organisation", "supervisor", piece)) if pick >> n & 1]
        wrong = roles if key == "roles" else -pick * 10**9
        claims[key] = [right[key], piece, pick, [piece, right[key]], {"v": piece}, None, wrong][kind]
    return claims


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("otlp_protobuf", lambda: _otlp("PROTOBUF")),
        Target("otlp_json", lambda: _otlp("JSON")),
        Target("read_api", _read_api),
        Target("clickhouse_endpoint", _clickhouse_endpoint),
        Target("register", _register),
        Target("token", _token),
    )
}


def inputs(name: str) -> list[Path]:
    """The committed inputs of a target: its seed corpus and the crashes found (fixed since)."""
    return sorted(p for d in (CORPUS / name, REPO / "fuzz" / "crashes" / name) if d.is_dir() for p in d.iterdir())


os.environ.setdefault("LDV_API_CURSOR_KEY", "fuzz-cursor-key-0123456789-0123456789")
