"""The citizen's overview as a PDF (WeasyPrint), for a written inzage request (AVG art. 15).

The same overview as the page, with every detail open, rendered from the same partial
templates. WeasyPrint is imported on first use (it loads Pango through cffi; the rest of the
app does not need it), and it fetches nothing: every URL the HTML names (the links to the legal
texts) stays a link, and `_refuse` makes sure no resource is ever loaded while rendering.

The records' receipts (their inclusion in the Logboek's transparency log) are printed in an
appendix and attached to the PDF as `RECEIPTS_NAME` (JSON: `{"receipts": [{"record": "<trace
id>/<span id>", "receipt": "<C2SP tlog-proof>"}]}`), so the overview can be checked offline
later: `ldv verify pdf FILE --log-key ... --witness-key ...`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment

from ldv_inzicht.errors import InzichtError
from ldv_inzicht.inzage._overview import Overview
from ldv_inzicht.inzage._view import date_nl

_CSS = Path(__file__).parent / "static" / "overzicht_pdf.css"
RECEIPTS_NAME = "ldv-ontvangstbewijzen.json"


class PdfUnavailable(InzichtError):
    """WeasyPrint or the system libraries it needs (Pango) are not installed."""


def _refuse(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"the PDF loads no resources ({url[:40]})")


def filename() -> str:
    """`inzage-gegevensgebruik-2026-11-29.pdf`: the download's name (today's date)."""
    return f"inzage-gegevensgebruik-{datetime.now(UTC):%Y-%m-%d}.pdf"


def render_pdf(env: Environment, overview: Overview, filters: dict[str, str | bool]) -> bytes:
    """The overview as PDF bytes. Raises `PdfUnavailable` when WeasyPrint cannot be loaded."""
    try:
        import weasyprint  # noqa: PLC0415 - heavy, and needs Pango: loaded only for a download
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(str(exc)) from exc
    html = env.get_template("overzicht_pdf.html").render(
        overview=overview, filters=filters, made_label=date_nl(datetime.now(UTC)), receipts_name=RECEIPTS_NAME
    )
    document = weasyprint.HTML(string=html, url_fetcher=_refuse)
    stylesheet = weasyprint.CSS(string=_CSS.read_text(encoding="utf-8"), url_fetcher=_refuse)
    attachments = []
    if overview.receipts:
        receipts = [{"record": ident, "receipt": text} for ident, text in overview.receipts]
        attachments.append(weasyprint.Attachment(
            string=json.dumps({"receipts": receipts}, indent=1), base_url=None, url_fetcher=_refuse, name=RECEIPTS_NAME,
            description="Bewijzen uit het onveranderbare logboek (C2SP tlog-proof)",
        ))
    pdf = document.write_pdf(stylesheets=[stylesheet], attachments=attachments)
    assert pdf is not None
    return bytes(pdf)
