"""ldv_inzicht: the Inzicht API of the LDV suite (read API, register API, citizen inzage).

`create_app(store, settings)` builds the FastAPI app; `ApiSettings` holds its options
(environment prefix `LDV_API_`). See inzicht_api/README.md for the endpoints and settings.
"""

from ldv_inzicht.app import create_app, include_api
from ldv_inzicht.auth import AuthSettings, mint_demo_token
from ldv_inzicht.errors import InzichtError
from ldv_inzicht.inzage import InzageResponse, InzageSettings
from ldv_inzicht.local_inzage import local_inzage
from ldv_inzicht.settings import ApiSettings

__all__ = [
    "ApiSettings",
    "AuthSettings",
    "InzageResponse",
    "InzageSettings",
    "InzichtError",
    "create_app",
    "include_api",
    "local_inzage",
    "mint_demo_token",
]
