"""The Fieldlab scenario: Linda divorces, moves to a rental, loses her job; Ben moves house.

Every step is a real HTTP request to a demo service: most go through the Burger.nl portal
(which forwards them with trace context), the tax return and the FIOD investigation go to the
Belastingdienst directly. The requests themselves carry no trace context: each step is a new
processing, so a new trace (one "life event" on the citizen page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from ldv_suite.demo.people import BEN_BSN, LINDA_BSN
from ldv_suite.errors import SuiteError


@dataclass(frozen=True)
class Step:
    """One request of the scenario."""

    who: str
    what: str
    organisation: str  # the service the request goes to
    path: str
    body: Mapping[str, Any]


def steps(today: date | None = None) -> list[Step]:
    """The scenario's requests, in order."""
    today = today or date.today()
    return [
        Step("Linda", "verhuist naar een huurwoning", "burger-nl", "/aanvragen/verhuizing",
             {"bsn": LINDA_BSN, "nieuw_adres": "Jan Evertsenstraat 12-2, 1056 EC Amsterdam",
              "verhuisdatum": (today - timedelta(days=2)).isoformat()}),
        Step("Linda", "vraagt huurtoeslag aan", "burger-nl", "/aanvragen/huurtoeslag",
             {"bsn": LINDA_BSN, "huur_per_maand": 845}),
        Step("Linda", "vraagt zorgtoeslag aan", "burger-nl", "/aanvragen/zorgtoeslag", {"bsn": LINDA_BSN}),
        Step("Linda", "vraagt kinderopvangtoeslag aan", "burger-nl", "/aanvragen/kinderopvangtoeslag",
             {"bsn": LINDA_BSN, "opvanguren_per_maand": 60}),
        Step("Linda", "doet aangifte inkomstenbelasting", "belastingdienst", "/aangifte",
             {"bsn": LINDA_BSN, "jaar": today.year - 1, "inkomen": 31_500}),
        Step("FIOD", "onderzoekt Linda (vertrouwelijk)", "belastingdienst", "/fiod/onderzoek", {"bsn": LINDA_BSN}),
        Step("Linda", "verliest haar baan en vraagt WW aan", "burger-nl", "/aanvragen/ww",
             {"bsn": LINDA_BSN, "laatste_werkdag": (today - timedelta(days=1)).isoformat()}),
        Step("Linda", "vraagt bijstand aan", "burger-nl", "/aanvragen/bijstand", {"bsn": LINDA_BSN}),
        Step("Ben", "verhuist", "burger-nl", "/aanvragen/verhuizing",
             {"bsn": BEN_BSN, "nieuw_adres": "Molukkenstraat 5, 1095 AT Amsterdam", "verhuisdatum": today.isoformat()}),
        Step("Ben", "vraagt zorgtoeslag aan", "burger-nl", "/aanvragen/zorgtoeslag", {"bsn": BEN_BSN}),
    ]  # fmt: skip


class ScenarioFailed(SuiteError):
    """A step was not answered with 200."""


async def run_scenario(service_urls: Mapping[str, str], *, timeout: float = 30.0) -> list[tuple[Step, dict[str, Any]]]:
    """Send every step to its service; returns each step with the service's answer."""
    done: list[tuple[Step, dict[str, Any]]] = []
    async with httpx.AsyncClient(timeout=timeout) as client:
        for step in steps():
            url = service_urls[step.organisation].rstrip("/") + step.path
            response = await client.post(url, json=dict(step.body))
            if response.status_code != 200:
                raise ScenarioFailed(f"{step.who} {step.what}: {step.organisation} answered {response.status_code}")
            done.append((step, response.json()))
    return done
