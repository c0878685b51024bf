"""`ldv inzage BSN`: a citizen's processings from this Logboek, for a written inzage request.

For the privacy officer who answers an art. 15 AVG request by letter: the same selection as
the citizen page (the BSN pseudonymised with every served organisation's key, joined with the
register, confidential activities left out), printed in Dutch, or as the inzage API's JSON.
Only this Logboek's store is read: other parties' read APIs need the citizen's own token.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ldv_inzicht import InzageResponse


def print_report(response: InzageResponse, console: Console) -> None:
    """The processings per life event (trace) and organisation, in Dutch."""
    if not response.traces:
        console.print("Er zijn geen verwerkingen van uw gegevens gevonden in dit logboek.")
        return
    console.print(f"[bold]{response.total} verwerkingen van uw gegevens[/]")
    for trace in response.traces:
        columns = ("Wie", "Wanneer", "Wat", "Welke gegevens", "Waarom", "Wettelijke grondslag")
        table = Table(*columns, title=f"{trace.title} — {trace.start_label}", title_justify="left", show_lines=True)
        for group in trace.organisations:
            for item in group.processings:
                entry = item.register_entry
                table.add_row(
                    group.organisation.name,
                    item.time_label,
                    item.action,
                    ", ".join(entry.personal_data_categories) if entry else "",
                    entry.purpose if entry else (item.unknown_activity_label or ""),
                    "\n".join(f"{b.law}, {b.article}" for b in entry.legal_basis) if entry else "",
                )
        console.print(table)
    if response.truncated:
        console.print("[yellow]Let op: niet alle verwerkingen zijn getoond (maximum bereikt).[/]")
