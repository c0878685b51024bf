"""Calling other organisations' services: one instrumented httpx client per organisation.

`instrument_httpx(client)` makes every request sent during a processing carry W3C trace
context (`traceparent`, and `tracestate` with this application's `ldv` entry), and makes the
calling action record the callee's read API (`dpl.read.externalReadAPI_id`, from the SDK's
`read_apis` setting). Requests sent outside a processing carry nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request

import ldv_sdk
from ldv_sdk.clients import instrument_httpx
from ldv_suite.errors import SuiteError

TIMEOUT_SECONDS = 10.0


class PeerUnavailable(SuiteError):
    """Another organisation's service did not answer as expected.

    Not an HTTPException on purpose: a processing that fails on it is an internal fault
    (status Error in the Logboek), unlike handled bad input. The app answers 502.
    """

    def __init__(self, organisation: str) -> None:
        super().__init__(f"{organisation} is niet bereikbaar")


class Peers:
    """The base URLs of the other organisations' services, and a client for each."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.urls = dict(urls)
        self._clients: dict[str, httpx.AsyncClient] = {}

    def client(self, organisation: str) -> httpx.AsyncClient:
        """The instrumented client for `organisation`'s service (created on first use)."""
        if organisation not in self._clients:
            if organisation not in self.urls:
                raise LookupError(f"no service URL configured for organisation {organisation!r}")
            client = httpx.AsyncClient(base_url=self.urls[organisation], timeout=TIMEOUT_SECONDS)
            instrument_httpx(client)
            self._clients[organisation] = client
        return self._clients[organisation]

    async def post(self, organisation: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST JSON to `organisation`'s service and return its JSON answer.

        Personal data such as a BSN goes in the body, never in the URL: URLs end up in access logs.
        """
        try:
            response = await self.client(organisation).post(path, json=dict(body))
        except httpx.HTTPError:
            raise PeerUnavailable(organisation) from None
        if response.status_code == 404:
            raise HTTPException(status_code=404, detail=response.json().get("detail", "niet gevonden"))
        if response.status_code != 200:
            raise PeerUnavailable(organisation)
        answer: dict[str, Any] = response.json()
        return answer

    async def ask_about(self, activity: str, action: str, organisation: str, path: str, bsn: str) -> dict[str, Any]:
        """Ask `organisation` about one citizen as a child action of the running processing.

        One child action per call, so each records the read API of the party it called
        (an action names at most one); the citizen is its data subject. A 404 from the other
        party is handled input (status Unset), anything else that fails is an internal fault.
        """
        async with ldv_sdk.verwerking(activity, action, expected=(HTTPException,)) as v:
            v.add_subject(bsn)
            answer = await self.post(organisation, path, {"bsn": bsn})
            v.mark_ok()
            return answer

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """FastAPI lifespan: make the peers available to handlers, close the clients at the end."""
        app.state.peers = self
        try:
            yield
        finally:
            for client in self._clients.values():
                await client.aclose()
            self._clients.clear()


def _peers(request: Request) -> Peers:
    peers: Peers = request.app.state.peers
    return peers


PeersDep = Annotated[Peers, Depends(_peers)]
"""Handler parameter type that receives the service's `Peers`."""
