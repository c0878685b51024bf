"""The demo's organisation services: one small FastAPI app per organisation of the Fieldlab case.

Each runs in its own process (`python -m ldv_suite.demo.services <organisation> --port N ...`),
because the LDV SDK is configured once per process, for one organisation. Every module
defines `ORGANISATION` (its code in the register, which the SDK sets as the resource
attribute `dpl.suite.organisation`), `SERVICE_NAME`, `REGISTER_BASE_URI` and
`create_app(peers) -> FastAPI`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES: dict[str, str] = {
    "burger-nl": "ldv_suite.demo.services.burger_nl",
    "gemeente-amsterdam": "ldv_suite.demo.services.gemeente_amsterdam",
    "dienst-toeslagen": "ldv_suite.demo.services.dienst_toeslagen",
    "belastingdienst": "ldv_suite.demo.services.belastingdienst",
    "rvig": "ldv_suite.demo.services.rvig",
    "uwv": "ldv_suite.demo.services.uwv",
}
"""Organisation code -> module of its service."""

ORGANISATIONS: tuple[str, ...] = tuple(MODULES)


def service_module(organisation: str) -> ModuleType:
    """The module of `organisation`'s service; KeyError for an unknown organisation."""
    return importlib.import_module(MODULES[organisation])
