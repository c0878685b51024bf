"""A store seeded with known records and register entries, and the numbers each panel must show.

The dashboard's time range is the last two days (`WINDOW`); every record below is placed
inside it except the two `outside` ones. Counts that the panels must show are derived by hand
in the comments and asserted in test_panel_sql.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ldv_logboek import LogRecord, Status
from ldv_logboek import attributes as attr
from ldv_logboek.register._loader import parse_register_text
from ldv_logboek.storage import LogStore, RegisterStore

TOESLAGEN = "dienst-toeslagen"
BELASTING = "belastingdienst"
GEMEENTE = "gemeente-utrecht"
PORTAAL = "urn:ldv:application:burger-nl:portaal"
# How the SDK names a calling application in dpl.core.foreign_operation.processor.
TOESLAGEN_APP = f"urn:ldv:application:{TOESLAGEN}:{TOESLAGEN}-api"

HUURTOESLAG = "https://register.toeslagen.example/processing-activities/huurtoeslag"
INKOMEN = "https://register.belastingdienst.example/processing-activities/inkomen-verstrekken"
FRAUDE = "https://register.belastingdienst.example/processing-activities/fraudeonderzoek"
OUDE_REGELING = "https://register.toeslagen.example/processing-activities/oude-regeling"
NIEUWE_REGELING = "https://register.gemeente.example/processing-activities/nieuwe-regeling"
ONBEKEND = "https://register.belastingdienst.example/processing-activities/niet-geregistreerd"

HUURTOESLAG_LAW = "Wet op de huurtoeslag"
AWIR = "Algemene wet inkomensafhankelijke regelingen"
AWR = "Algemene wet inzake rijksbelastingen"
SV = "Wetboek van Strafvordering"


def register_yaml(now: datetime) -> str:
    """The register: four activities in force, one ended in 2021, one that starts next year."""
    next_year = (now + timedelta(days=365)).strftime("%Y-%m-%dT00:00:00Z")
    return f"""
organisations:
  - {{id: "https://register.toeslagen.example/organisations/{TOESLAGEN}", code: {TOESLAGEN}, name: Dienst Toeslagen}}
  - {{id: "https://register.belastingdienst.example/organisations/{BELASTING}", code: {BELASTING}, name: Belastingdienst}}
processing_activities:
  - id: {HUURTOESLAG}
    versions:
      - version: 1
        validFrom: "2015-01-01T00:00:00Z"
        name: Huurtoeslag berekenen
        purpose: Recht op huurtoeslag bepalen.
        legalBasis: [{{dpv: LegalObligation, law: {HUURTOESLAG_LAW}, article: artikel 7}}]
        controller: https://register.toeslagen.example/organisations/{TOESLAGEN}
        retentionPeriod: P7Y
  - id: {INKOMEN}
    versions:
      - version: 1
        validFrom: "2015-01-01T00:00:00Z"
        name: Inkomen verstrekken
        purpose: Inkomen doorgeven aan Dienst Toeslagen.
        legalBasis:
          - {{dpv: LegalObligation, law: {AWIR}, article: artikel 8}}
          - {{dpv: PublicInterest, law: {AWR}, article: artikel 67}}
        controller: https://register.belastingdienst.example/organisations/{BELASTING}
        retentionPeriod: P7Y
  - id: {FRAUDE}
    versions:
      - version: 1
        validFrom: "2015-01-01T00:00:00Z"
        name: Fraudeonderzoek
        purpose: Opsporing.
        legalBasis: [{{dpv: OfficialAuthorityOfController, law: {SV}}}]
        controller: https://register.belastingdienst.example/organisations/{BELASTING}
        confidential: true
  - id: {OUDE_REGELING}
    endedAt: "2021-01-01T00:00:00Z"
    versions:
      - version: 1
        validFrom: "2015-01-01T00:00:00Z"
        name: Oude regeling
        purpose: Afgeschaft.
        legalBasis: [{{dpv: LegalObligation, law: Wet oude regeling}}]
        controller: https://register.toeslagen.example/organisations/{TOESLAGEN}
  - id: {NIEUWE_REGELING}
    versions:
      - version: 1
        validFrom: "{next_year}"
        name: Nieuwe regeling
        purpose: Nog niet begonnen.
        legalBasis: [{{dpv: PublicInterest, law: Wet nieuwe regeling}}]
        controller: https://register.toeslagen.example/organisations/{TOESLAGEN}
"""


@dataclass
class Seeded:
    """What was stored, for the assertions."""

    now: datetime
    window: tuple[datetime, datetime]
    traces: dict[str, str] = field(default_factory=dict)  # name -> trace id (hex)
    records: list[LogRecord] = field(default_factory=list)


def _record(
    organisation: str,
    activity: str,
    subject: str | None,
    at: datetime,
    *,
    trace: bytes,
    parent: bytes = b"",
    status: Status = Status.OK,
    name: str = "handeling",
    foreign_processor: str = "",
) -> LogRecord:
    attributes = {attr.PROCESSING_ACTIVITY_ID: activity}
    if subject is not None:
        attributes[attr.DATA_SUBJECT_ID] = "hmac-sha256:" + subject * 32
        attributes[attr.DATA_SUBJECT_ID_TYPE] = "BSN"
    if foreign_processor:
        attributes[attr.FOREIGN_OPERATION_PROCESSOR] = foreign_processor
    if status is Status.ERROR:
        attributes[attr.EXCEPTION_MESSAGE] = "kan niet: persoonsgegevens in de melding"
    start = int(at.timestamp() * 1e9)
    return LogRecord(
        trace_id=trace,
        span_id=os.urandom(8),
        parent_span_id=parent,
        name=name,
        start_time_ns=start,
        end_time_ns=start + 250_000_000,
        status=status,
        attributes=attributes,
        resource_attributes={attr.SERVICE_NAME: f"{organisation}-api", attr.ORGANISATION: organisation},
    )


def seed(store: LogStore) -> Seeded:
    """Store the register and the records below; return what the panels must find."""
    now = datetime.now(UTC).replace(microsecond=0)
    seeded = Seeded(now=now, window=(now - timedelta(days=2), now + timedelta(minutes=10)))
    t = {name: os.urandom(16) for name in ("t1", "t2", "t3", "t4", "t5", "t6", "t7", "old", "outside")}
    seeded.traces = {name: trace.hex() for name, trace in t.items()}
    # Outside the window: 8 years old, past the register's P7Y. Stored before the register was
    # loaded, so it kept the default retention (10 years): stored after, it would get the
    # register's P7Y as its RetentionDays and the TTL would remove it at once.
    old = _record(TOESLAGEN, HUURTOESLAG, "a6", now - timedelta(days=8 * 366), trace=t["old"])
    store.insert([old])
    RegisterStore(store).save(parse_register_text(register_yaml(now)))
    day = now - timedelta(days=1)
    # t1: Toeslagen asks the Belastingdienst for an income: a flow toeslagen -> belastingdienst.
    parent = _record(TOESLAGEN, HUURTOESLAG, "a1", day, trace=t["t1"], name="huurtoeslag berekenen")
    child = _record(
        BELASTING, INKOMEN, "a1", day + timedelta(seconds=1), trace=t["t1"], parent=parent.span_id,
        name="inkomen verstrekken", foreign_processor=TOESLAGEN_APP,
    )  # fmt: skip
    records = [
        parent,
        child,
        _record(TOESLAGEN, HUURTOESLAG, "a2", day + timedelta(hours=1), trace=t["t2"], status=Status.ERROR),  # error
        _record(TOESLAGEN, HUURTOESLAG, "a3", day + timedelta(hours=2), trace=t["t3"]),
        _record(BELASTING, FRAUDE, "a1", day + timedelta(hours=3), trace=t["t4"]),  # confidential
        _record(BELASTING, ONBEKEND, "a4", day + timedelta(hours=4), trace=t["t5"]),  # unknown activity
        _record(TOESLAGEN, OUDE_REGELING, "a2", day + timedelta(hours=5), trace=t["t6"], status=Status.ERROR),  # ended
        # Called from a portal that logs elsewhere; its activity starts next year (not valid).
        _record(
            GEMEENTE, NIEUWE_REGELING, "a5", day + timedelta(hours=6), trace=t["t7"], parent=os.urandom(8),
            foreign_processor=PORTAAL,
        ),
        # Outside the window: 5 days old.
        _record(TOESLAGEN, HUURTOESLAG, "a7", now - timedelta(days=5), trace=t["outside"]),
    ]  # fmt: skip
    # t3 delivered twice (a sender's retry): stored twice, counted once. One insert, so both
    # copies share one IngestedAt and one ingest interval.
    store.insert(records + [records[3]])
    seeded.records = [*records[:-1], old, records[-1]]
    seed_rejections(store)
    return seeded


# Spans the collector refuses, per organisation and rule (what "Geweigerde spans per regel" shows):
# Toeslagen 2 x name (a blank name) and 1 x uri; the Belastingdienst 1 x clear-bsn and 1 x uri.
REJECTED = {TOESLAGEN: {"name": 2, "uri": 1}, BELASTING: {"clear-bsn": 1, "uri": 1}}


def seed_rejections(store: LogStore) -> None:
    """Send spans that break known rules through the real collector (OTLP/HTTP, protobuf); its
    writer stores the counts when it stops. Every span is refused, so no record is stored."""
    from ldv_collector import CollectorSettings, create_app
    from tests.collector.helpers import VALID_BSN, AsgiClient, ldv_attributes, make_request, make_span

    bad_uri = {**ldv_attributes(), attr.EXTERNAL_READ_API_ID: "geen uri"}
    spans = {
        TOESLAGEN: [make_span(name=" "), make_span(name=" "), make_span(bad_uri)],
        BELASTING: [make_span(ldv_attributes(note=f"bsn {VALID_BSN}")), make_span(bad_uri)],
    }
    app = create_app(store, CollectorSettings(max_batch_wait_ms=0))
    app.state.writer.start()
    client = AsgiClient(app)
    try:
        for organisation, refused in spans.items():
            resource = {attr.SERVICE_NAME: f"{organisation}-api", attr.ORGANISATION: organisation}
            response = client.post(
                "/v1/traces",
                content=make_request(refused, resource=resource).SerializeToString(),
                headers={"Content-Type": "application/x-protobuf"},
            )
            assert response.status_code == 200
    finally:
        app.state.writer.stop()
