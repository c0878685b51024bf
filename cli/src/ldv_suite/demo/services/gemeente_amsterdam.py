"""Gemeente Amsterdam: moving house (BRP address change) and bijstand (Participatiewet)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI

from ldv_suite.demo.services.app import beslist, service_app, verzoek_verwerking
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
@verzoek_verwerking("adreswijziging", "Verhuizing vastleggen")
async def verhuizing(verzoek: Verhuizing, peers: PeersDep) -> dict[str, Any]:
    # One call to one other party: the action itself records RvIG's read API.
    huidig = await peers.post("rvig", "/brp/persoonsgegevens", {"bsn": verzoek.bsn})
    beslist()
    return {"oud_adres": huidig["adres"], "nieuw_adres": verzoek.nieuw_adres, "ingangsdatum": verzoek.verhuisdatum}


@router.post("/bijstand/aanvragen")
@verzoek_verwerking("bijstand", "Bijstandsaanvraag beoordelen")
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
    beslist()
    return {"regeling": "bijstand", "aanvulling_per_maand": aanvulling}


def create_app(peers: Peers) -> FastAPI:
    return service_app("Gemeente Amsterdam", ORGANISATION, peers, router)
