"""FastAPI dependencies shared by the routers: the store and the settings of the running app."""

from __future__ import annotations

from fastapi import Request

from ldv_inzicht.settings import ApiSettings
from ldv_logboek.storage import LogStore


def get_store(request: Request) -> LogStore:
    """The LogStore the app was created with (`create_app(store, ...)`)."""
    store: LogStore = request.app.state.store
    return store


def get_settings(request: Request) -> ApiSettings:
    """The ApiSettings the app was created with."""
    settings: ApiSettings = request.app.state.settings
    return settings
