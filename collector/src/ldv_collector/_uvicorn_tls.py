"""The ASGI TLS extension for uvicorn, so the collector can see a sender's client certificate.

uvicorn verifies a client certificate at the handshake (`ssl_ca_certs`, `ssl_cert_reqs`) but
does not pass it to the app. `ClientCertificateHTTP` is uvicorn's HTTP/1.1 protocol that adds
`scope["extensions"]["tls"]["client_cert_chain"]` (the verified leaf certificate in PEM, as the
ASGI TLS extension specifies) to every request of a TLS connection that presented one. Give it
to uvicorn as `uvicorn.Config(..., http=ClientCertificateHTTP)`.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol


class ClientCertificateHTTP(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP/1.1 protocol, plus the ASGI TLS extension on TLS connections."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:  # not a TLS connection
            return
        der = ssl_object.getpeercert(binary_form=True)
        extension = {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else []}
        app: Any = self.app  # type: ignore[has-type]  # set by the protocol base class

        async def with_tls(scope: Any, receive: Any, send: Any) -> None:
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": extension}}
            await app(scope, receive, send)

        self.app = with_tls
