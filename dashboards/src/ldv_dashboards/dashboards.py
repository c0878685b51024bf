"""The three LDV dashboards: Toezicht (supervisors), Organisatie (an organisation's FG/DPO) and
Verwerking (one processing as a trace), built with grafana-foundation-sdk.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from ldv_dashboards import sql
from ldv_dashboards.panels import (
    VERWERKING_UID,
    Grid,
    datasource_variable,
    flows_panel,
    query_variable,
    series_panel,
    stat_panel,
    table_panel,
    trace_panel,
)

TOEZICHT_UID = "ldv-toezicht"
ORGANISATIE_UID = "ldv-organisatie"
TAGS = ["ldv", "logboek-dataverwerkingen"]


def _base(title: str, uid: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone("browser")
        .time("now-7d", "now")
        .refresh("5m")
        .readonly()
        .link(
            dash.DashboardLink("LDV-dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["ldv"])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )


def _with_panels(board: dash.Dashboard, variables: list[cogbuilder.Builder[model.VariableModel]], grid: Grid) -> dash.Dashboard:
    """`board` with the data source variable, `variables`, the activity and legal basis variables, and the grid's panels."""
    for variable in [datasource_variable(), *variables, query_variable("activity"), query_variable("legal_basis")]:
        board = board.with_variable(variable)
    for panel in grid.panels:
        board = board.with_panel(panel)
    return board


def _questions_dashboard(title: str, uid: str, description: str, *, per_organisation: bool) -> dash.Dashboard:
    """The supervisor's questions, filtered by the dashboard's variables: over every organisation
    (Toezicht), or for one (Organisatie: its organisation variable holds exactly one)."""
    grid = Grid()
    grid.add(stat_panel("Verwerkingen", sql.STAT_PROCESSINGS, description="Vastgelegde verwerkingen (handelingen), elk één keer geteld."), 5, 4)
    grid.add(
        stat_panel(
            "Betrokkenen",
            sql.STAT_SUBJECTS,
            description="Verschillende betrokkenen (data subjects): geteld in het Logboek zelf, geen dashboard ziet hun pseudoniemen.",
        ),
        5, 4,
    )  # fmt: skip
    grid.add(
        stat_panel("Foutaandeel", sql.STAT_ERROR_SHARE, description="Aandeel verwerkingen met status Error.", unit="percentunit", red_above=0.05),
        4, 4,
    )  # fmt: skip
    grid.add(
        stat_panel(
            "Niet geregistreerd",
            sql.STAT_UNREGISTERED,
            description="Verwerkingen waarvan de activiteit niet in het register staat of op dat moment niet geldig was.",
            red_above=1,
        ),
        5, 4,
    )  # fmt: skip
    grid.add(
        stat_panel("Vertrouwelijk", sql.STAT_CONFIDENTIAL, description="Verwerkingen van activiteiten die op dat moment vertrouwelijk waren."),
        5, 4,
    )  # fmt: skip
    if per_organisation:
        grid.add(series_panel("Verwerkingen per organisatie", sql.SERIES_PER_ORGANISATION, description="Per interval, per organisatie."), 12, 8)
        grid.add(series_panel("Verwerkingen per activiteit", sql.SERIES_PER_ACTIVITY, description="Per interval, per verwerkingsactiviteit."), 12, 8)
    else:
        grid.add(series_panel("Verwerkingen per activiteit", sql.SERIES_PER_ACTIVITY, description="Per interval, per verwerkingsactiviteit."), 24, 8)
    grid.add(
        table_panel(
            "Per wet en grondslag",
            sql.TABLE_PER_LAW,
            description="Volgens de versie van de activiteit die gold op het moment van de verwerking (register).",
        ),
        12, 8,
    )  # fmt: skip
    grid.add(
        table_panel("Activiteiten met foutpercentage", sql.TABLE_TOP_ACTIVITIES, description="De 20 activiteiten met de meeste verwerkingen."),
        12, 8,
    )  # fmt: skip
    grid.add(
        table_panel(
            "Niet in het register of niet geldig",
            sql.TABLE_NOT_REGISTERED,
            description="unknown: de activiteit staat niet in het register; not_valid: geen versie gold op dat moment. "
            "Klik op een TraceId om de verwerking te openen.",
            trace_link=True,
        ),
        12, 9,
    )  # fmt: skip
    grid.add(
        flows_panel(description="Wie roept wie aan: een verwerking waarvan de aanroepende handeling bij een andere organisatie hoort."),
        12, 9,
    )  # fmt: skip
    grid.add(
        table_panel(
            "Bewaartermijn verstreken, nog aanwezig",
            sql.TABLE_RETENTION,
            description="Nu, los van de gekozen periode: verwerkingen voorbij de bewaartermijn uit het register, "
            "en voorbij de TTL van de opslag (ClickHouse ruimt die bij het samenvoegen van parts op).",
        ),
        24, 7,
    )  # fmt: skip
    grid.add(
        series_panel("Vertraging verwerking → opslag", sql.SERIES_INGEST_DELAY, description="Van het einde van de verwerking tot de opslag.", unit="s"),
        9, 7,
    )  # fmt: skip
    grid.add(series_panel("Opgeslagen per interval", sql.SERIES_INGESTED, description="Op het moment van opslag."), 9, 7)
    grid.add(
        stat_panel("Sinds laatste opslag", sql.STAT_SINCE_LAST_INGEST, description="Over het hele Logboek.", unit="s", red_above=900),
        6, 3,
    )  # fmt: skip
    grid.add(
        series_panel(
            "Geweigerde spans per regel",
            sql.SERIES_REJECTIONS,
            description="Spans die de collector weigerde (niet opgeslagen), per geschonden regel: alleen aantallen. "
            "Een span die twee regels schendt telt bij beide. De zender kreeg per span de reden terug.",
        ),
        24, 7,
    )  # fmt: skip
    return _with_panels(_base(title, uid, description), [query_variable("organisation", multi=per_organisation)], grid)


def toezicht() -> dash.Dashboard:
    """LDV — Toezicht: every organisation in this Logboek, for supervisors."""
    return _questions_dashboard(
        "LDV — Toezicht",
        TOEZICHT_UID,
        "Toezicht op het Logboek Dataverwerkingen: verwerkingen, betrokkenen (geteld), fouten, register, stromen, bewaartermijn en opslag.",
        per_organisation=True,
    )


def organisatie() -> dash.Dashboard:
    """LDV — Organisatie: the same questions for one organisation, for its own FG/DPO."""
    return _questions_dashboard(
        "LDV — Organisatie",
        ORGANISATIE_UID,
        "Dezelfde vragen voor één organisatie, voor haar functionaris gegevensbescherming. Geef de databron een "
        "gebruiker met die organisatie als scope: dan levert het Logboek zelf alleen haar rijen.",
        per_organisation=False,
    )


def verwerking() -> dash.Dashboard:
    """LDV — Verwerking: one processing (trace) in Grafana's trace view."""
    grid = Grid()
    grid.add(trace_panel(), 24, 14)
    grid.add(
        table_panel(
            "Handelingen van deze verwerking",
            sql.TRACE_TABLE,
            description="Per handeling: organisatie, activiteit en de registerversie die toen gold.",
        ),
        24, 8,
    )  # fmt: skip
    grid.add(
        table_panel(
            "Recente verwerkingen",
            sql.TABLE_RECENT_TRACES,
            description="Kies een verwerking: klik op een TraceId.",
            trace_link=True,
        ),
        24, 8,
    )  # fmt: skip
    board = _base(
        "LDV — Verwerking",
        VERWERKING_UID,
        "Eén verwerking (trace) over organisaties heen, in de trace-weergave van Grafana.",
    )
    return _with_panels(board, [dash.TextBoxVariable("trace_id").label("TraceId"), query_variable("organisation")], grid)


DASHBOARDS = {TOEZICHT_UID: toezicht, ORGANISATIE_UID: organisatie, VERWERKING_UID: verwerking}


def dashboard_json(uid: str) -> dict[str, object]:
    """The classic dashboard JSON of `uid`, as Grafana stores it."""
    built = DASHBOARDS[uid]().build()
    return json.loads(JSONEncoder(sort_keys=True).encode(built))


def render(uid: str) -> str:
    """The committed file's text: sorted keys, two-space indent, one trailing newline."""
    return json.dumps(dashboard_json(uid), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
