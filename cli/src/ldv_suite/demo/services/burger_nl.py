"""Burger.nl: the citizen portal. It forwards what the citizen asks to the organisation that decides.

The portal's own processing (activity `portaal-aanvraag`) starts the trace; the instrumented
client carries it to the next organisation, and records that organisation's read API on the
portal's action, so the citizen's inzage can follow the chain.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI

from ldv_suite.demo.services.app import service_app, verzoek_verwerking
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers, PeersDep

ORGANISATION = "burger-nl"
SERVICE_NAME = "portaal"
REGISTER_BASE_URI = "https://register.burger.example/processing-activities"

router = APIRouter(prefix="/aanvragen")


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
@verzoek_verwerking("portaal-aanvraag", "Verhuizing doorsturen naar de gemeente")
async def verhuizing(verzoek: Verhuizing, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("gemeente-amsterdam", "/verhuizing/doorgeven", verzoek.model_dump(mode="json"))


@router.post("/huurtoeslag")
@verzoek_verwerking("portaal-aanvraag", "Aanvraag huurtoeslag doorsturen naar Dienst Toeslagen")
async def huurtoeslag(verzoek: Huurtoeslag, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("dienst-toeslagen", "/huurtoeslag/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/zorgtoeslag")
@verzoek_verwerking("portaal-aanvraag", "Aanvraag zorgtoeslag doorsturen naar Dienst Toeslagen")
async def zorgtoeslag(verzoek: Verzoek, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("dienst-toeslagen", "/zorgtoeslag/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/kinderopvangtoeslag")
@verzoek_verwerking("portaal-aanvraag", "Aanvraag kinderopvangtoeslag doorsturen naar Dienst Toeslagen")
async def kinderopvangtoeslag(verzoek: Kinderopvangtoeslag, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("dienst-toeslagen", "/kinderopvangtoeslag/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/ww")
@verzoek_verwerking("portaal-aanvraag", "WW-aanvraag doorsturen naar UWV")
async def ww(verzoek: Ww, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("uwv", "/ww/aanvragen", verzoek.model_dump(mode="json"))


@router.post("/bijstand")
@verzoek_verwerking("portaal-aanvraag", "Bijstandsaanvraag doorsturen naar de gemeente")
async def bijstand(verzoek: Verzoek, peers: PeersDep) -> dict[str, Any]:
    return await peers.post("gemeente-amsterdam", "/bijstand/aanvragen", verzoek.model_dump(mode="json"))


def create_app(peers: Peers) -> FastAPI:
    return service_app("Burger.nl", ORGANISATION, peers, router)
