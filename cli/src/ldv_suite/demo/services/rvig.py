"""RvIG: provides persons data from the BRP (Basisregistratie Personen) to other organisations."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException

import ldv_sdk
from ldv_suite.demo.people import persoon
from ldv_suite.demo.services.app import service_app
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers

ORGANISATION = "rvig"  # the organisation's `code` in its register: resource attribute dpl.suite.organisation
SERVICE_NAME = "brp-api"
REGISTER_BASE_URI = "https://register.rvig.example/processing-activities"

router = APIRouter()


@router.post("/brp/persoonsgegevens")
@ldv_sdk.verwerking(
    "brp-verstrekking",  # becomes <REGISTER_BASE_URI>/brp-verstrekking, the id in the register
    "Persoonsgegevens uit de BRP verstrekken",
    subject=lambda args: args["verzoek"].bsn,  # the citizen; the SDK pseudonymises it
    expected=(HTTPException,),  # an unknown person is handled input, not a fault
)
async def persoonsgegevens(verzoek: Verzoek) -> dict[str, object]:
    gevonden = persoon(verzoek.bsn)
    if gevonden is None:
        raise HTTPException(status_code=404, detail="persoon niet gevonden in de BRP")
    return {
        "naam": gevonden.naam,
        "geboortedatum": gevonden.geboortedatum.isoformat(),
        "adres": gevonden.adres,
        "kinderen": list(gevonden.kinderen),
    }


def create_app(peers: Peers) -> FastAPI:
    app = service_app("RvIG", ORGANISATION, peers)
    app.add_middleware(ldv_sdk.LdvMiddleware)  # continue the caller's trace and record who called
    app.include_router(router)
    return app
