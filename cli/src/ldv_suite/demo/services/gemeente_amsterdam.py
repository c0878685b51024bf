"""Gemeente Amsterdam: moving house (BRP address change) and bijstand (Participatiewet)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException

import ldv_sdk
from ldv_suite.demo.services.app import service_app
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers, PeersDep

ORGANISATION = "gemeente-amsterdam"
SERVICE_NAME = "dienstverlening-api"
REGISTER_BASE_URI = "https://register.amsterdam.example/processing-activities"

router = APIRouter()


class Verhuizing(Verzoek):
    nieuw_adres: str
    verhuisdatum: date


@router.post("/verhuizing/doorgeven")
@ldv_sdk.verwerking(
    "adreswijziging", "Verhuizing vastleggen", subject=lambda args: args["verzoek"].bsn, expected=(HTTPException,)
)
async def verhuizing(verzoek: Verhuizing, peers: PeersDep) -> dict[str, Any]:
    # One call to one other party: the action itself records RvIG's read API.
    huidig = await peers.post("rvig", "/brp/persoonsgegevens", {"bsn": verzoek.bsn})
    if (v := ldv_sdk.current()) is not None:
        v.mark_ok()
    return {"oud_adres": huidig["adres"], "nieuw_adres": verzoek.nieuw_adres, "ingangsdatum": verzoek.verhuisdatum}


@router.post("/bijstand/aanvragen")
@ldv_sdk.verwerking(
    "bijstand", "Bijstandsaanvraag beoordelen", subject=lambda args: args["verzoek"].bsn, expected=(HTTPException,)
)
async def bijstand(verzoek: Verzoek, peers: PeersDep) -> dict[str, Any]:
    # Two other parties: one child action each, so each records its own party's read API.
    inkomen = await peers.ask_about(
        "bijstand", "Inkomen opvragen bij UWV", "uwv", "/polisadministratie/inkomen", verzoek.bsn
    )
    woonsituatie = await peers.ask_about(
        "bijstand", "Woonsituatie opvragen bij de RvIG (BRP)", "rvig", "/brp/persoonsgegevens", verzoek.bsn
    )
    norm = 1_401 if woonsituatie["kinderen"] else 1_092  # monthly norm, single (parent)
    aanvulling = max(0, norm - inkomen["loon_per_jaar"] // 12 // 4)  # WW covers most of the old wage
    if (v := ldv_sdk.current()) is not None:
        v.mark_ok()
    return {"regeling": "bijstand", "aanvulling_per_maand": aanvulling}


def create_app(peers: Peers) -> FastAPI:
    app = service_app("Gemeente Amsterdam", ORGANISATION, peers)
    app.add_middleware(ldv_sdk.LdvMiddleware)
    app.include_router(router)
    return app
