"""ldv_inzicht: the Inzicht API of the LDV suite (read API, register API, citizen inzage).

`create_app(store, settings)` builds the FastAPI app; `ApiSettings` holds its options
(environment prefix `LDV_API_`). See inzicht_api/README.md for the endpoints and settings.
"""

from ldv_inzicht.app import create_app, include_api
from ldv_inzicht.settings import ApiSettings

__all__ = ["ApiSettings", "create_app", "include_api"]
