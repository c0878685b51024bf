"""UWV: the WW benefit after losing a job, and income from the polisadministratie for others."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, FastAPI, HTTPException

import ldv_sdk
from ldv_suite.demo.people import PERSONEN, Persoon
from ldv_suite.demo.services.app import beslist, service_app, verzoek_verwerking
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers

ORGANISATION = "uwv"
SERVICE_NAME = "uwv-api"
REGISTER_BASE_URI = "https://register.uwv.example/processing-activities"

router = APIRouter()


class WwAanvraag(Verzoek):
    laatste_werkdag: date


@router.post("/ww/aanvragen")
@verzoek_verwerking("ww", "WW-aanvraag beoordelen")
async def ww_aanvragen(verzoek: WwAanvraag) -> dict[str, object]:
    werknemer = loongegevens(verzoek.bsn)
    dagloon = round(werknemer.verzamelinkomen / 261)
    beslist()
    return {"toegekend": True, "ingangsdatum": verzoek.laatste_werkdag.isoformat(), "dagloon": dagloon}


# A nested processing: a child action in the same trace, under the same activity.
@ldv_sdk.verwerking("ww", "Loongegevens raadplegen in de polisadministratie", subject="bsn", expected=(HTTPException,))
def loongegevens(bsn: str) -> Persoon:
    werknemer = PERSONEN.get(bsn)
    if werknemer is None or werknemer.werkgever is None:
        raise HTTPException(status_code=404, detail="geen dienstverband bekend in de polisadministratie")
    return werknemer


@router.post("/polisadministratie/inkomen")
@verzoek_verwerking("polisadministratie-inkomen-verstrekken", "Inkomen uit loondienst verstrekken")
async def polis_inkomen(verzoek: Verzoek) -> dict[str, object]:
    werknemer = PERSONEN.get(verzoek.bsn)
    if werknemer is None:
        raise HTTPException(status_code=404, detail="niet bekend in de polisadministratie")
    return {
        "werkgever": werknemer.werkgever,
        "uren_per_week": werknemer.uren_per_week,
        "loon_per_jaar": werknemer.verzamelinkomen,
    }


def create_app(peers: Peers) -> FastAPI:
    return service_app("UWV", ORGANISATION, peers, router)
