"""Belastingdienst: income for Dienst Toeslagen, the income tax return, and the FIOD.

The FIOD's fraud investigation is a confidential activity in the register: it is logged like
every other processing, and the register (not the code) keeps it off the citizen's page.
It calls no other organisation, so no other party's record gives it away either.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException

import ldv_sdk
from ldv_suite.demo.people import persoon
from ldv_suite.demo.services.app import service_app
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
@ldv_sdk.verwerking(
    "inkomen-verstrekken",
    "Verzamelinkomen verstrekken",
    subject=lambda args: args["verzoek"].bsn,
    expected=(HTTPException,),
)
async def inkomen(verzoek: Verzoek) -> dict[str, int]:
    gevonden = persoon(verzoek.bsn)
    if gevonden is None:
        raise HTTPException(status_code=404, detail="geen inkomensgegevens bekend")
    return {"verzamelinkomen": gevonden.verzamelinkomen}


@router.post("/aangifte")
@ldv_sdk.verwerking(
    "inkomstenbelasting", "Aangifte inkomstenbelasting verwerken", subject=lambda args: args["verzoek"].bsn
)
async def aangifte(verzoek: Aangifte) -> dict[str, int]:
    if (v := ldv_sdk.current()) is not None:
        v.mark_ok()  # the return is processed completely: status Ok instead of the default Unset
    return {"jaar": verzoek.jaar, "aanslag": round(max(0, verzoek.inkomen - 10_000) * 0.37)}


@router.post("/fiod/onderzoek")
@ldv_sdk.verwerking("fiod-fraudeonderzoek", "Bankgegevens analyseren", subject=lambda args: args["verzoek"].bsn)
async def fiod_onderzoek(verzoek: Verzoek) -> dict[str, str]:
    return {"status": "vastgelegd"}


def create_app(peers: Peers) -> FastAPI:
    app = service_app("Belastingdienst", ORGANISATION, peers)
    app.add_middleware(ldv_sdk.LdvMiddleware)
    app.include_router(router)
    return app
