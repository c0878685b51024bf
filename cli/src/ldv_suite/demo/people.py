"""The fictitious people of the demo (Fieldlab persona Linda, her children, and Ben).

Test BSNs only: nine digits that pass the elfproef, chosen for demonstrations. Each
organisation's service keeps its own slice of these facts (the BRP at RvIG, income at the
Belastingdienst, employment at UWV), as the real organisations would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

LINDA_BSN = "111222333"
"""Linda (38): divorces, moves to a rental, loses her job. The demo's main citizen."""
NOOR_BSN = "111222345"
DAAN_BSN = "111222357"
BEN_BSN = "123456782"
"""A second citizen, with processings of his own that Linda must never see."""


@dataclass(frozen=True)
class Persoon:
    """What the demo's base registrations know of one person."""

    bsn: str
    naam: str
    geboortedatum: date
    adres: str
    kinderen: tuple[str, ...] = ()
    verzamelinkomen: int = 0  # euro per year, as the Belastingdienst knows it
    werkgever: str | None = None
    uren_per_week: int = 0


PERSONEN: dict[str, Persoon] = {
    p.bsn: p
    for p in (
        Persoon(
            LINDA_BSN,
            "Linda de Boer",
            date(1987, 3, 14),
            "Keizersgracht 1, 1015 AA Amsterdam",
            kinderen=(NOOR_BSN, DAAN_BSN),
            verzamelinkomen=31_500,
            werkgever="Thuiszorg Amstelland",
            uren_per_week=28,
        ),
        Persoon(NOOR_BSN, "Noor de Boer", date(2016, 9, 2), "Keizersgracht 1, 1015 AA Amsterdam"),
        Persoon(DAAN_BSN, "Daan de Boer", date(2019, 5, 21), "Keizersgracht 1, 1015 AA Amsterdam"),
        Persoon(
            BEN_BSN,
            "Ben Jansen",
            date(1971, 11, 30),
            "Javastraat 100, 1094 HL Amsterdam",
            verzamelinkomen=24_000,
            werkgever="Gemeentelijk Vervoerbedrijf",
            uren_per_week=36,
        ),
    )
}
