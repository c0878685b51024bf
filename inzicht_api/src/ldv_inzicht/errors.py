"""The exceptions of the Inzicht API.

    LdvError                  (ldv_logboek.errors) every exception the suite raises on purpose
    └── InzichtError          the Inzicht API refuses a request
        ├── AuthError         a token that is missing or not acceptable (401); `ldv_inzicht._auth`
        ├── CursorRefused     a paging cursor this API did not hand out (400; also a ValueError); `ldv_inzicht._cursors`
        ├── ProblemError      raised by a route to answer with problem+json; `ldv_inzicht._problems`
        ├── ClickHouseError   answered the way ClickHouse does (code, status); `ldv_inzicht.clickhouse_http.errors`
        ├── NotEmbeddedStore  the ClickHouse endpoint needs an embedded chDB store (also a ValueError); `...clickhouse_http.app`
        ├── EndpointNotStarted  the ClickHouse endpoint's server did not start; `ldv_inzicht.clickhouse_http._background`
        ├── PdfUnavailable    the overview cannot be rendered as PDF (WeasyPrint or Pango missing); `ldv_inzicht.inzage._pdf`
        └── TokenExchangeFailed  the issuer gave no token for another Logboek (it is then "not available now"); `ldv_inzicht.inzage._token_exchange`

The subclasses live next to the code that gives them their fields (the RFC 6750 error code,
the problem+json members); this module holds their common base. The store's errors
(`StorageUnavailable`, `StorageFault`) and the register's come from the core's tree.
"""

from __future__ import annotations

from ldv_logboek.errors import LdvError

__all__ = ["InzichtError"]


class InzichtError(LdvError):
    """The Inzicht API refuses a request."""
