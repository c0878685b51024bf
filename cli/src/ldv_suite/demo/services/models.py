"""Request bodies shared by the demo services. A BSN travels in a JSON body, never in a URL."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from ldv_logboek import is_bsn


def _check_bsn(value: str) -> str:
    if not is_bsn(value):
        # Never echo the value: it may be someone's real BSN typed by mistake.
        raise ValueError("geen geldig BSN (negen cijfers die de elfproef doorstaan)")
    return value


Bsn = Annotated[str, AfterValidator(_check_bsn)]


class Verzoek(BaseModel):
    """A request about one citizen."""

    model_config = ConfigDict(extra="forbid")

    bsn: Bsn
