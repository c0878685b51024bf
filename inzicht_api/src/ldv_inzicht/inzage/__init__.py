"""Citizen inzage: the service that gathers a citizen's processings, its JSON API (`_api`), the page (`_page`)."""

from ldv_inzicht.inzage._service import InzageResult, InzageService, Period
from ldv_inzicht.inzage._view import InzageResponse, build_response

__all__ = ["InzageResponse", "InzageResult", "InzageService", "Period", "build_response"]
