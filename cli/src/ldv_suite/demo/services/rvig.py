"""RvIG: provides persons data from the BRP (Basisregistratie Personen) to other organisations."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException

from ldv_suite.demo.people import PERSONEN
from ldv_suite.demo.services.app import service_app, verzoek_verwerking
from ldv_suite.demo.services.models import Verzoek
from ldv_suite.demo.services.peers import Peers

ORGANISATION = "rvig"  # the organisation's `code` in its register: resource attribute dpl.suite.organisation
SERVICE_NAME = "brp-api"
REGISTER_BASE_URI = "https://register.rvig.example/processing-activities"

router = APIRouter()


@router.post("/brp/persoonsgegevens")
@verzoek_verwerking("brp-verstrekking", "Persoonsgegevens uit de BRP verstrekken")  # activity, action
async def persoonsgegevens(verzoek: Verzoek) -> dict[str, object]:
    gevonden = PERSONEN.get(verzoek.bsn)
    if gevonden is None:
        raise HTTPException(status_code=404, detail="persoon niet gevonden in de BRP")
    return {
        "naam": gevonden.naam,
        "geboortedatum": gevonden.geboortedatum.isoformat(),
        "adres": gevonden.adres,
        "kinderen": list(gevonden.kinderen),
    }


def create_app(peers: Peers) -> FastAPI:
    return service_app("RvIG", ORGANISATION, peers, router)
