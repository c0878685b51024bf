"""Tokens for other Logboeken: OAuth 2.0 Token Exchange (RFC 8693) at the issuer, with Authlib.

The inzage reads the citizen's records at other Logboeken, but never with the citizen's own
token: that token's audience is this Logboek, and a party that received it could replay it
at every Logboek that trusted the same audience (RFC 9700 section 2.3). Instead, per target
Logboek, this Logboek authenticates itself at the issuer as an OAuth client (HTTP Basic,
`client_secret_basic`) and exchanges the citizen's token (`subject_token`) for a new, short
lived one whose audience is that target only (`audience` and `resource` both name it). The
target accepts it because its audience is its own; no other Logboek does.

The protocol (request encoding, client authentication, error responses) is Authlib's
`AsyncOAuth2Client` (on httpx2, the client Authlib's integration is built on); this module only says which grant, which target and what to do when the
issuer refuses: the target is then "not available now", like one that does not answer.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from pydantic import SecretStr

from ldv_inzicht.errors import InzichtError

log = logging.getLogger(__name__)

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class TokenExchangeFailed(InzichtError):
    """The issuer gave no token for a target; the message names the target and the OAuth error code only."""


class TokenExchanger:
    """Exchanges a citizen's token for one per target Logboek, each at most once per exchanger.

    One exchanger serves one inzage (one citizen, one subject token): it keeps the tokens it
    obtained for that inzage's targets in memory and forgets them with the inzage.
    """

    def __init__(
        self,
        token_endpoint: str,
        client_id: str,
        client_secret: SecretStr,
        subject_token: str,
        *,
        timeout: float,
    ) -> None:
        self._token_endpoint = token_endpoint
        self._client = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret.get_secret_value(),
            token_endpoint_auth_method="client_secret_basic",
            timeout=timeout,
            follow_redirects=False,
        )
        self._subject_token = subject_token
        self._tokens: dict[str, str] = {}

    async def __aenter__(self) -> TokenExchanger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def token_for(self, audience: str) -> str:
        """A token for the citizen whose only audience is `audience`; TokenExchangeFailed if refused."""
        if audience in self._tokens:
            return self._tokens[audience]
        try:
            answer: dict[str, Any] = await self._client.fetch_token(
                self._token_endpoint,
                grant_type=TOKEN_EXCHANGE_GRANT,
                subject_token=self._subject_token,
                subject_token_type=ACCESS_TOKEN_TYPE,
                requested_token_type=ACCESS_TOKEN_TYPE,
                audience=audience,
                resource=audience,
            )
        except OAuthError as exc:
            # The issuer's error code only: its description might quote the request.
            raise TokenExchangeFailed(f"the issuer refused a token for {audience}: {exc.error}") from None
        except (httpx2.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise TokenExchangeFailed(f"no token for {audience}: {type(exc).__name__}") from None
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenExchangeFailed(f"the issuer's answer for {audience} holds no access token")
        self._tokens[audience] = token
        return token
