"""Citizen inzage: the service that gathers a citizen's processings, its JSON API and the web page."""

from ldv_inzicht.inzage._api import INZAGE_API, create_inzage_router, get_inzage_service
from ldv_inzicht.inzage._page import PAGE_PREFIX, create_page_router
from ldv_inzicht.inzage._service import InzageResult, InzageService, Period
from ldv_inzicht.inzage._view import InzageResponse, build_response

__all__ = [
    "INZAGE_API",
    "PAGE_PREFIX",
    "InzageResponse",
    "InzageResult",
    "InzageService",
    "Period",
    "build_response",
    "create_inzage_router",
    "create_page_router",
    "get_inzage_service",
]
