"""FastAPI dependencies shared by the routers: the store, settings and keys of the running app."""

from __future__ import annotations

from fastapi import Request

from ldv_inzicht._subject_keys import SubjectKeys
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


def get_subject_keys(request: Request) -> SubjectKeys:
    """The keys of the organisations this Logboek serves (`ApiSettings.organisation_keys`)."""
    keys: SubjectKeys = request.app.state.subject_keys
    return keys
