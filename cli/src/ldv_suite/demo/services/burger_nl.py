"""Burger.nl: the citizen portal. It forwards what the citizen asks to the organisation that decides.

The portal's own processing (activity `portaal-aanvraag`) starts the trace; the instrumented
client carries it to the next organisation, and records that organisation's read API on the
portal's action, so the citizen's inzage can follow the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException

import ldv_sdk
from ldv_suite.demo.services.app import service_app
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers, PeersDep

ORGANISATION = "burger-nl"
SERVICE_NAME = "portaal"
REGISTER_BASE_URI = "https://register.burger.example/processing-activities"

router = APIRouter(prefix="/aanvragen")


def _burger(args: Mapping[str, Any]) -> str:
    """The data subject of every portal request: the citizen who is logged in."""
    return str(args["verzoek"].bsn)


def portaal_aanvraag(naam: str) -> Any:
    """The portal's processing, named after what the citizen asked for."""
    return ldv_sdk.verwerking("portaal-aanvraag", naam, subject=_burger, expected=(HTTPException,))


class Verhuizing(Verzoek):
    nieuw_adres: str
    verhuisdatum: date


class Huurtoeslag(Verzoek):
    huur_per_maand: int


class Kinderopvangtoeslag(Verzoek):
    opvanguren_per_maand: int


class Ww(Verzoek):
    laatste_werkdag: date


@router.post("/verhuizing")
@portaal_aanvraag("Verhuizing doorsturen naar de gemeente")
async def verhuizing(verzoek: Verhuizing, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("gemeente-amsterdam", "/verhuizing/doorgeven", verzoek.model_dump(mode="json"))


@router.post("/huurtoeslag")
@portaal_aanvraag("Aanvraag huurtoeslag doorsturen naar Dienst Toeslagen")
async def huurtoeslag(verzoek: Huurtoeslag, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("dienst-toeslagen", "/huurtoeslag/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/zorgtoeslag")
@portaal_aanvraag("Aanvraag zorgtoeslag doorsturen naar Dienst Toeslagen")
async def zorgtoeslag(verzoek: Verzoek, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("dienst-toeslagen", "/zorgtoeslag/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/kinderopvangtoeslag")
@portaal_aanvraag("Aanvraag kinderopvangtoeslag doorsturen naar Dienst Toeslagen")
async def kinderopvangtoeslag(verzoek: Kinderopvangtoeslag, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("dienst-toeslagen", "/kinderopvangtoeslag/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/ww")
@portaal_aanvraag("WW-aanvraag doorsturen naar UWV")
async def ww(verzoek: Ww, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("uwv", "/ww/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/bijstand")
@portaal_aanvraag("Bijstandsaanvraag doorsturen naar de gemeente")
async def bijstand(verzoek: Verzoek, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("gemeente-amsterdam", "/bijstand/aanvragen", verzoek.model_dump(mode="json"))


def create_app(peers: Peers) -> FastAPI:
    app = service_app("Burger.nl", ORGANISATION, peers)
    app.add_middleware(ldv_sdk.LdvMiddleware)
    app.include_router(router)
    return app
