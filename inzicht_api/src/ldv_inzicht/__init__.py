"""ldv_inzicht: the Inzicht API of the LDV suite (read API, register API, citizen inzage).

`create_app(store, settings)` builds the FastAPI app; `ApiSettings`, `AuthSettings` and
`InzageSettings` (`ldv_inzicht.settings`) hold its options (environment prefixes `LDV_API_`,
`LDV_AUTH_`, `LDV_INZAGE_`). See inzicht_api/README.md for the endpoints and settings.
"""

from ldv_inzicht._app import create_app, include_api
from ldv_inzicht._auth import mint_demo_token
from ldv_inzicht._local_inzage import local_inzage
from ldv_inzicht._log_http import LOG_PREFIX, create_log_app, log_id, with_log_routes
from ldv_inzicht.errors import InzichtError
from ldv_inzicht.inzage._view import InzageResponse
from ldv_inzicht.settings import ApiSettings, AuthSettings, InzageSettings

__all__ = [
    "LOG_PREFIX",
    "create_log_app",
    "log_id",
    "with_log_routes",
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
