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

ORGANISATIONS: tuple[str, ...] = ("burger-nl", "gemeente-amsterdam", "dienst-toeslagen", "belastingdienst", "rvig", "uwv")

MODULES: dict[str, str] = {org: f"{__name__}.{org.replace('-', '_')}" for org in ORGANISATIONS}
"""Organisation code -> module of its service (the code with `_` for `-`)."""


def service_module(organisation: str) -> ModuleType:
    """The module of `organisation`'s service; KeyError for an unknown organisation."""
    return importlib.import_module(MODULES[organisation])
