"""UWV: the WW benefit after losing a job, and income from the polisadministratie for others."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, FastAPI, HTTPException

import ldv_sdk
from ldv_suite.demo.people import Persoon, persoon
from ldv_suite.demo.services.app import service_app
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers

ORGANISATION = "uwv"
SERVICE_NAME = "uwv-api"
REGISTER_BASE_URI = "https://register.uwv.example/processing-activities"

router = APIRouter()


class WwAanvraag(Verzoek):
    laatste_werkdag: date


@router.post("/ww/aanvragen")
@ldv_sdk.verwerking("ww", "WW-aanvraag beoordelen", subject=lambda args: args["verzoek"].bsn, expected=(HTTPException,))
async def ww_aanvragen(verzoek: WwAanvraag) -> dict[str, object]:
    werknemer = loongegevens(verzoek.bsn)
    dagloon = round(werknemer.verzamelinkomen / 261)
    if (v := ldv_sdk.current()) is not None:
        v.mark_ok()
    return {"toegekend": True, "ingangsdatum": verzoek.laatste_werkdag.isoformat(), "dagloon": dagloon}


# A nested processing: a child action in the same trace, under the same activity.
@ldv_sdk.verwerking("ww", "Loongegevens raadplegen in de polisadministratie", subject="bsn", expected=(HTTPException,))
def loongegevens(bsn: str) -> Persoon:
    werknemer = persoon(bsn)
    if werknemer is None or werknemer.werkgever is None:
        raise HTTPException(status_code=404, detail="geen dienstverband bekend in de polisadministratie")
    return werknemer


@router.post("/polisadministratie/inkomen")
@ldv_sdk.verwerking(
    "polisadministratie-inkomen-verstrekken",
    "Inkomen uit loondienst verstrekken",
    subject=lambda args: args["verzoek"].bsn,
    expected=(HTTPException,),
)
async def polis_inkomen(verzoek: Verzoek) -> dict[str, object]:
    werknemer = persoon(verzoek.bsn)
    if werknemer is None:
        raise HTTPException(status_code=404, detail="niet bekend in de polisadministratie")
    return {
        "werkgever": werknemer.werkgever,
        "uren_per_week": werknemer.uren_per_week,
        "loon_per_jaar": werknemer.verzamelinkomen,
    }


def create_app(peers: Peers) -> FastAPI:
    app = service_app("UWV", ORGANISATION, peers)
    app.add_middleware(ldv_sdk.LdvMiddleware)
    app.include_router(router)
    return app
