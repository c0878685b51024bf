"""Dienst Toeslagen: huurtoeslag, zorgtoeslag and kinderopvangtoeslag (Awir and the specific laws).

Each call to another organisation is its own child action (`async with ldv_sdk.verwerking`):
an action records at most one other party's read API (`dpl.read.externalReadAPI_id`), so a
processing that asks two parties makes one child action per party, and the chain can be
followed to both.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

import ldv_sdk
from ldv_suite.demo.services.app import beslist, service_app, verzoek_verwerking
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers, PeersDep

ORGANISATION = "dienst-toeslagen"
SERVICE_NAME = "toeslagen-api"
REGISTER_BASE_URI = "https://register.toeslagen.example/processing-activities"

router = APIRouter()
HUISHOUDEN = "Huishouden opvragen bij de RvIG (BRP)"


class HuurtoeslagAanvraag(Verzoek):
    huur_per_maand: int


class KinderopvangAanvraag(Verzoek):
    opvanguren_per_maand: int


@router.post("/huurtoeslag/aanvragen")
@verzoek_verwerking("huurtoeslag", "Huurtoeslag berekenen")
async def huurtoeslag(verzoek: HuurtoeslagAanvraag, peers: PeersDep) -> dict[str, object]:
    inkomen = await inkomen_opvragen("huurtoeslag", verzoek.bsn, peers)
    huishouden = await peers.ask_about("huurtoeslag", HUISHOUDEN, "rvig", "/brp/persoonsgegevens", verzoek.bsn)
    personen = 1 + len(huishouden["kinderen"])
    bedrag = max(0, min(verzoek.huur_per_maand, 880) - 250 - max(0, inkomen - 22_000) // 60 + 15 * (personen - 1))
    beslist()
    return {"toeslag": "huurtoeslag", "voorschot_per_maand": bedrag}


@router.post("/zorgtoeslag/aanvragen")
@verzoek_verwerking("zorgtoeslag", "Zorgtoeslag berekenen")
async def zorgtoeslag(verzoek: Verzoek, peers: PeersDep) -> dict[str, object]:
    inkomen = await inkomen_opvragen("zorgtoeslag", verzoek.bsn, peers)
    bedrag = max(0, 131 - max(0, inkomen - 26_000) // 100)
    beslist()
    return {"toeslag": "zorgtoeslag", "voorschot_per_maand": bedrag}


@router.post("/kinderopvangtoeslag/aanvragen")
@verzoek_verwerking("kinderopvangtoeslag", "Kinderopvangtoeslag berekenen")
async def kinderopvangtoeslag(verzoek: KinderopvangAanvraag, peers: PeersDep) -> dict[str, object]:
    huishouden = await peers.ask_about("kinderopvangtoeslag", HUISHOUDEN, "rvig", "/brp/persoonsgegevens", verzoek.bsn)
    # The children are data subjects too, known only from the BRP's answer (rule 6): adding them
    # now gives one record per child, each starting at this moment.
    if (v := ldv_sdk.current()) is not None:
        v.add_subjects(huishouden["kinderen"])
    werk = await peers.ask_about(
        "kinderopvangtoeslag", "Gewerkte uren opvragen bij UWV", "uwv", "/polisadministratie/inkomen", verzoek.bsn
    )
    inkomen = await inkomen_opvragen("kinderopvangtoeslag", verzoek.bsn, peers)
    uren = min(verzoek.opvanguren_per_maand, 140 * werk["uren_per_week"] // 40 + 1)
    vergoeding = 0.96 if inkomen < 25_000 else 0.9
    beslist()
    return {
        "toeslag": "kinderopvangtoeslag",
        "kinderen": len(huishouden["kinderen"]),
        "voorschot_per_maand": round(uren * 10.25 * vergoeding) * len(huishouden["kinderen"]),
    }


async def inkomen_opvragen(activiteit: str, bsn: str, peers: Peers) -> int:
    """The income from the Belastingdienst, as a child action of the toeslag's processing."""
    antwoord = await peers.ask_about(
        activiteit, "Inkomen opvragen bij de Belastingdienst", "belastingdienst", "/inkomen", bsn
    )
    return int(antwoord["verzamelinkomen"])


def create_app(peers: Peers) -> FastAPI:
    return service_app("Dienst Toeslagen", ORGANISATION, peers, router)
