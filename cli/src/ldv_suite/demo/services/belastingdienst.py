"""Belastingdienst: income for Dienst Toeslagen, the income tax return, and the FIOD.

The FIOD's fraud investigation is a confidential activity in the register: it is logged like
every other processing, and the register (not the code) keeps it off the citizen's page.
It calls no other organisation, so no other party's record gives it away either.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException

from ldv_suite.demo.people import PERSONEN
from ldv_suite.demo.services.app import beslist, service_app, verzoek_verwerking
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers

ORGANISATION = "belastingdienst"
SERVICE_NAME = "belastingen-api"
REGISTER_BASE_URI = "https://register.belastingdienst.example/processing-activities"

router = APIRouter()


class Aangifte(Verzoek):
    jaar: int
    inkomen: int


@router.post("/inkomen")
@verzoek_verwerking("inkomen-verstrekken", "Verzamelinkomen verstrekken")
async def inkomen(verzoek: Verzoek) -> dict[str, int]:
    gevonden = PERSONEN.get(verzoek.bsn)
    if gevonden is None:
        raise HTTPException(status_code=404, detail="geen inkomensgegevens bekend")
    return {"verzamelinkomen": gevonden.verzamelinkomen}


@router.post("/aangifte")
@verzoek_verwerking("inkomstenbelasting", "Aangifte inkomstenbelasting verwerken")
async def aangifte(verzoek: Aangifte) -> dict[str, int]:
    beslist()  # the return is processed completely
    return {"jaar": verzoek.jaar, "aanslag": round(max(0, verzoek.inkomen - 10_000) * 0.37)}


@router.post("/fiod/onderzoek")
@verzoek_verwerking("fiod-fraudeonderzoek", "Bankgegevens analyseren")
async def fiod_onderzoek(verzoek: Verzoek) -> dict[str, str]:
    return {"status": "vastgelegd"}


def create_app(peers: Peers) -> FastAPI:
    return service_app("Belastingdienst", ORGANISATION, peers, router)
