"""A citizen's processings in this Logboek's own store, for `ldv inzage BSN` (a written inzage request).

The same selection as the citizen page (the BSN pseudonymised with every served organisation's
key, joined with the register, confidential activities left out), but only this store: other
parties' read APIs would need the citizen's own token, which a letter does not carry.
"""

from __future__ import annotations

import asyncio

from ldv_inzicht._subject_keys import SubjectKeys
from ldv_inzicht.inzage._service import InzageService
from ldv_inzicht.inzage._view import InzageResponse, build_response
from ldv_inzicht.settings import ApiSettings, InzageSettings
from ldv_logboek.storage import LogStore, RegisterStore


def local_inzage(store: LogStore, bsn: str, api_settings: ApiSettings) -> InzageResponse:
    """The citizen's processings in `store`, as the inzage API would answer them (no other Logboek asked)."""
    service = InzageService(
        store,
        RegisterStore(store).load,
        InzageSettings(follow_chain=False),
        SubjectKeys(api_settings.organisation_keys),
    )
    return build_response(asyncio.run(service.inzage(bsn, token="")))
