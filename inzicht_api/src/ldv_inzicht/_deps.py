"""What the routes of the Inzicht app run on, as FastAPI dependencies (`Depends(get_store)` ...).

`create_app` builds one `AppContext` and keeps it on the app (`app.state.context`); routes never read
`request.app.state` themselves: they name the dependency of what they need, so a route's
signature says what it uses and a test can override it (`app.dependency_overrides`). The token
verifier is the auth layer's own (`ldv_inzicht._auth.get_verifier`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request

from ldv_inzicht._log_receipts import ReceiptMaker
from ldv_inzicht._subject_keys import SubjectKeys
from ldv_inzicht._versioning import ApiRegistry
from ldv_inzicht.inzage._service import InzageService
from ldv_inzicht.settings import ApiSettings, AuthSettings
from ldv_logboek.register import Register
from ldv_logboek.storage import LogStore, RegisterStore


@dataclass(frozen=True)
class AppContext:
    """The store, settings and services one app serves every API with (made by `create_app`)."""

    store: LogStore
    settings: ApiSettings
    auth_settings: AuthSettings
    apis: ApiRegistry
    register_store: RegisterStore
    subject_keys: SubjectKeys  # the keys of the organisations this Logboek serves
    receipts: ReceiptMaker  # receipts of the records a reader may read
    inzage: InzageService


def app_context(app: FastAPI) -> AppContext:
    """The context `create_app` gave `app` (also for code outside a route, e.g. error handlers)."""
    context: AppContext = app.state.context
    return context


def get_store(request: Request) -> LogStore:
    """The LogStore the app was created with (`create_app(store, ...)`)."""
    return app_context(request.app).store


def get_auth_settings(request: Request) -> AuthSettings:
    return app_context(request.app).auth_settings


def get_subject_keys(request: Request) -> SubjectKeys:
    """The keys of the organisations this Logboek serves (`ApiSettings.organisation_keys`)."""
    return app_context(request.app).subject_keys


def get_register(request: Request) -> Register:
    """The register as stored now."""
    return app_context(request.app).register_store.load()


def get_register_source(request: Request) -> Callable[[], Register]:
    """Loads the register when called: for a route that needs it only for some callers."""
    return app_context(request.app).register_store.load


def get_receipts(request: Request) -> ReceiptMaker:
    return app_context(request.app).receipts


def get_inzage_service(request: Request) -> InzageService:
    return app_context(request.app).inzage
