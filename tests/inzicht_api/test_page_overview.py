"""The citizen page people read: a summary per life event, a picture of who asked whom, details on
demand, a PDF for a written inzage request, all WCAG 2.1 AA and usable by keyboard alone.

Real everything: the app on a chDB store seeded with Linda's records of three life events,
served by uvicorn, driven by Debian's headless Chromium (see `browser_support`); the PDF comes
from WeasyPrint and is read back as text with pypdf. Screenshots of every state at desktop
(1280) and mobile (390) width go to tests/inzicht_api/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page
from pypdf import PdfReader

from ldv_logboek import LogRecord
from ldv_logboek import attributes as attr
from ldv_logboek.storage import LogStore, connect
from tests.inzicht_api.browser_support import (
    DESKTOP,
    MOBILE,
    axe,
    browser,
    login,
    open_all_details,
    page_height,
    shot,
)
from tests.inzicht_api.inzage_support import (
    DEMO_REGISTER,
    KEYS,
    LINDA,
    Server,
    Signer,
    free_port,
    make_app,
    organisation,
    other_key,
    record,
    write_jwks,
)

__all__ = ["browser"]  # the shared Chromium fixture
NOBODY = "999999990"
RVIG = "Rijksdienst voor Identiteitsgegevens (RvIG)"
_ACT = "https://register.{}.example/processing-activities/{}"
PORTAAL = _ACT.format("burger", "portaal-aanvraag")
BIJSTAND = _ACT.format("amsterdam", "bijstand")
INKOMEN = _ACT.format("belastingdienst", "inkomen-verstrekken")
AANGIFTE = _ACT.format("belastingdienst", "inkomstenbelasting")
BRP = _ACT.format("rvig", "brp-verstrekking")
HUURTOESLAG = _ACT.format("toeslagen", "huurtoeslag")
BIJSTAND_PURPOSE = "Beoordelen of u recht hebt op een bijstandsuitkering en hoe hoog die is, en de uitkering betalen."
# Linda's page before the summary (31 full cards in the demo) measured 11,366 px at 1280 wide;
# the summary of these 9 records must stay within a screen or three (2,661 px with the section
# "Is dit overzicht volledig en ongewijzigd?" of issue #15, which these unlogged records fill with
# a "Niet gecontroleerd" line).
MAX_DESKTOP_HEIGHT = 2750

# What the seeded records must show: per life event, newest first, processings per organisation.
EXPECTED_EVENTS = [
    ("Aangifte inkomstenbelasting verwerken", {"Belastingdienst": 1}),
    ("Bijstandsaanvraag doorsturen naar de gemeente",
     {"Burger.nl": 1, "Gemeente Amsterdam": 3, "Belastingdienst": 1, RVIG: 1}),
    ("Huurtoeslag berekenen", {"Dienst Toeslagen": 2}),
]  # fmt: skip
EXPECTED_FLOWS = {
    ("Burger.nl", "Gemeente Amsterdam"): "BSN, naam en adres, inkomen, vermogen, woonsituatie",
    ("Gemeente Amsterdam", "Belastingdienst"): "BSN, verzamelinkomen, toetsingsinkomen",
    ("Gemeente Amsterdam", RVIG): "BSN, naam, geboortedatum, adres, burgerlijke staat, kinderen",
}


@dataclass
class Site:
    base: str
    issuer: Signer


def _linked(bsn: str, org: str, activity: str, name: str, when: float, trace: bytes, caller: LogRecord | None = None,
            read_api: str = "") -> LogRecord:  # fmt: skip
    """A record; `caller`: the other party's action that asked for it (the standard's foreign operation)."""
    extra = {attr.FOREIGN_OPERATION_SPAN_ID: caller.span_id.hex()} if caller else {}
    if read_api:
        extra[attr.EXTERNAL_READ_API_ID] = read_api
    return record(bsn, org, activity, name=name, when=when, trace_id=trace, **extra)


def _seed(store: LogStore, uwv_api: str) -> None:
    now, day = time.time(), 86_400
    bijstand, huur, aangifte = (bytes([n]) * 16 for n in (1, 2, 3))
    t = now - 10 * day
    portaal = _linked(LINDA, "burger-nl", PORTAAL, "Bijstandsaanvraag doorsturen naar de gemeente", t, bijstand,
                      read_api="https://lezen.amsterdam.example/lezenapi/v1")
    beoordelen = _linked(LINDA, "gemeente-amsterdam", BIJSTAND, "Bijstandsaanvraag beoordelen", t + 1, bijstand, portaal)
    inkomen = _linked(LINDA, "gemeente-amsterdam", BIJSTAND, "Inkomen opvragen bij de Belastingdienst", t + 2, bijstand)
    woon = _linked(LINDA, "gemeente-amsterdam", BIJSTAND, "Woonsituatie opvragen bij de RvIG", t + 3, bijstand)
    store.insert([
        portaal, beoordelen, inkomen, woon,
        _linked(LINDA, "belastingdienst", INKOMEN, "Verzamelinkomen verstrekken", t + 2.5, bijstand, inkomen),
        _linked(LINDA, "rvig", BRP, "Persoonsgegevens uit de BRP verstrekken", t + 3.5, bijstand, woon),
        # Huurtoeslag: Dienst Toeslagen asked UWV, whose read API does not answer.
        _linked(LINDA, "dienst-toeslagen", HUURTOESLAG, "Huurtoeslag berekenen", now - 20 * day, huur),
        _linked(LINDA, "dienst-toeslagen", HUURTOESLAG, "Gewerkte uren opvragen bij UWV", now - 20 * day + 1, huur,
                read_api=uwv_api),
        _linked(LINDA, "belastingdienst", AANGIFTE, "Aangifte inkomstenbelasting verwerken", now - 5 * day, aangifte),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("overview")
    store = LogStore(connect(f"chdb://{tmp / 'store'}"))
    store.migrate()
    uwv_api = f"http://127.0.0.1:{free_port()}/lezenapi/v1"  # nothing listens there: UWV is down
    register = tmp / "register"
    shutil.copytree(DEMO_REGISTER, register)
    path = register / "uwv.yaml"
    path.write_text(path.read_text().replace("https://lezen.uwv.example/lezenapi/v1", uwv_api))
    _seed(store, uwv_api)
    issuer, demo = Signer.generate("issuer-1"), Signer.generate("demo")
    jwks = write_jwks(tmp / "jwks.json", issuer, demo)
    demo_key = tmp / "demo.pem"
    demo_key.write_bytes(demo.private_pem)
    keys = {**KEYS, "burger-nl": other_key("burger-nl"), "rvig": other_key("rvig")}  # the keys `record` pseudonymised with
    app = make_app(store, jwks, register_paths=[register], demo_key=demo_key, timeout=2.0, keys=keys)
    with Server(app) as base:
        yield Site(base, issuer)
    store.close()  # chDB: one data directory per process


def _event_counts(page: Page) -> list[tuple[str, dict[str, int]]]:
    events = []
    for event in page.locator("li.gebeurtenis").all():
        rows = event.locator("table.gebruik tbody tr").all()
        counts = {r.locator("th").inner_text(): int(r.locator("td.getal").inner_text()) for r in rows}
        events.append((event.locator("h3").inner_text(), counts))
    return events


def test_summary_per_life_event_with_counts_and_details_closed(browser: Any, site: Site) -> None:
    page = login(browser, site.base, LINDA, viewport=DESKTOP)
    assert _event_counts(page) == EXPECTED_EVENTS
    main = page.inner_text("main")
    assert "5 organisaties gebruikten uw gegevens 9 keer, bij 3 gebeurtenissen." in main
    total = {r.locator("th").inner_text(): int(r.locator("td").inner_text()) for r in page.locator("table.totaal tbody tr").all()}
    assert total == {"Gemeente Amsterdam": 3, "Belastingdienst": 2, "Dienst Toeslagen": 2, "Burger.nl": 1, RVIG: 1}
    assert "6 keer gebruikt door 4 organisaties" in main
    # Purpose and law are behind a toggle, and said once per activity, not per action.
    assert BIJSTAND_PURPOSE not in main and "Participatiewet" not in main
    height = page_height(page)
    assert height < MAX_DESKTOP_HEIGHT, height
    assert axe(page) == []
    shot(page, "overzicht-desktop")
    page.click("#gebeurtenis-2 summary:has-text('waarom en op grond')")
    details = page.inner_text("#gebeurtenis-2")
    assert details.count(BIJSTAND_PURPOSE) == 1 and details.count("Participatiewet, artikel 11") == 1
    for action in ("Bijstandsaanvraag beoordelen", "Inkomen opvragen bij de Belastingdienst", "Woonsituatie opvragen bij de RvIG"):
        assert action in details
    page.close()


def test_mobile_width_summary_fits_and_passes_axe(browser: Any, site: Site) -> None:
    page = login(browser, site.base, LINDA, viewport=MOBILE)
    assert _event_counts(page) == EXPECTED_EVENTS
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    assert axe(page) == []
    shot(page, "overzicht-mobiel")
    open_all_details(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    assert axe(page) == []
    shot(page, "overzicht-mobiel-open")
    page.close()


def _box(svg: Any, name: str) -> tuple[float, float, float, float]:
    rect = svg.locator(f"g.stroom-doos[data-organisatie='{name}'] rect")
    x, y, w, h = (float(rect.get_attribute(a) or "nan") for a in ("x", "y", "width", "height"))
    return x, y, w, h


def test_flow_picture_is_accessible_svg_with_the_right_edges_and_the_same_flows_in_words(browser: Any, site: Site) -> None:
    page = login(browser, site.base, LINDA, viewport=DESKTOP)
    event = page.locator("#gebeurtenis-2")  # the bijstand life event: the first with flows, shown open
    assert event.locator("details:has(svg)").get_attribute("open") is not None
    svg = event.locator("svg")
    assert svg.get_attribute("role") == "img"
    title_id, desc_id = (svg.get_attribute("aria-labelledby") or "").split()
    assert (svg.locator(f"title#{title_id}").text_content() or "").endswith("Bijstandsaanvraag doorsturen naar de gemeente")
    desc = svg.locator(f"desc#{desc_id}").text_content() or ""
    # The edges drawn, the edges listed in words, and the edges in the description are the same.
    arrows = {(g.get_attribute("data-van"), g.get_attribute("data-naar")): g.get_attribute("data-nummer")
              for g in svg.locator("g.stroom-pijl").all()}  # fmt: skip
    items = event.locator("ol.stroom-lijst li").all()
    listed = {(li.get_attribute("data-van"), li.get_attribute("data-naar")): li for li in items}
    assert set(arrows) == set(listed) == set(EXPECTED_FLOWS)
    for (caller, callee), data in EXPECTED_FLOWS.items():
        sentence = listed[(caller, callee)].inner_text()
        assert sentence == f"{caller} vroeg gegevens op bij {callee}: {data}."
        assert sentence in desc
        assert listed[(caller, callee)].get_attribute("data-nummer") == arrows[(caller, callee)]
        # Each arrow really joins the two boxes: from the caller's bottom edge to the callee's top.
        line = svg.locator(f"g.stroom-pijl[data-nummer='{arrows[(caller, callee)]}'] line")
        x1, y1, x2, y2 = (float(line.get_attribute(a) or "nan") for a in ("x1", "y1", "x2", "y2"))
        cx, cy, cw, ch = _box(svg, caller)
        tx, ty, tw, _ = _box(svg, callee)
        assert cx <= x1 <= cx + cw and y1 == cy + ch, (caller, callee)
        assert tx <= x2 <= tx + tw and ty - 4 <= y2 <= ty, (caller, callee)
    # The boxes show every organisation of the flows, RvIG by its short name.
    names = {g.get_attribute("data-organisatie") for g in svg.locator("g.stroom-doos").all()}
    assert names == {"Burger.nl", "Gemeente Amsterdam", "Belastingdienst", RVIG}
    assert svg.locator(f"g.stroom-doos[data-organisatie='{RVIG}'] text").text_content() == "RvIG"
    # The life event without flows between organisations has no picture.
    assert page.locator("#gebeurtenis-1 svg").count() == 0
    page.close()


def test_unavailable_party_in_summary_flow_and_every_detail_open_passes_axe(browser: Any, site: Site) -> None:
    page = login(browser, site.base, LINDA, viewport=DESKTOP)
    warning = page.locator("section.melding-waarschuwing").inner_text()
    assert "UWV: niet beschikbaar op dit moment" in warning
    open_all_details(page)
    huur = page.locator("#gebeurtenis-3 ol.stroom-lijst").inner_text()
    assert huur == (
        "Dienst Toeslagen vroeg gegevens op bij UWV. Welke gegevens, kunnen wij nu niet zien: "
        "UWV is niet beschikbaar op dit moment."
    )
    assert axe(page) == []
    shot(page, "overzicht-alles-open")
    page.close()


def test_keyboard_alone_reaches_every_toggle_and_the_pdf_link_with_visible_focus(browser: Any, site: Site) -> None:
    page = login(browser, site.base, LINDA, viewport=DESKTOP, bypass_csp=False)
    toggles = page.locator("summary").count()
    reached: list[tuple[str, str]] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement, s = getComputedStyle(e);
                return {tag: e.tagName, text: e.innerText.trim(), outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
        )
        if focused["tag"] == "BODY":
            break
        assert focused["outline"] != "none" and focused["width"] >= 2, focused  # focus is visible
        reached.append((focused["tag"], focused["text"]))
    texts = [text for _, text in reached]
    assert texts[:3] == ["Direct naar de inhoud", "Uitloggen", "Download dit overzicht als PDF"]
    assert sum(1 for tag, _ in reached if tag == "SUMMARY") == toggles
    # The open picture holds no links; links in closed details are not in the tab order.
    assert not any("artikel" in text for text in texts)
    # Enter on a toggle opens it, with no script at all.
    summary = page.locator("#gebeurtenis-1 summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("#gebeurtenis-1 details").last.get_attribute("open") is not None
    assert "Wet inkomstenbelasting 2001" in page.inner_text("#gebeurtenis-1")
    page.close()


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    return " ".join(" ".join(p.extract_text() for p in reader.pages).split())


def test_pdf_download_with_the_page_session_holds_the_whole_overview(browser: Any, site: Site) -> None:
    page = login(browser, site.base, LINDA, viewport=DESKTOP, bypass_csp=False)
    with page.expect_download() as info:
        page.click("text=Download dit overzicht als PDF")
    download = info.value
    assert re.fullmatch(r"inzage-gegevensgebruik-\d{4}-\d{2}-\d{2}\.pdf", download.suggested_filename)
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = _pdf_text(data)
    assert "5 organisaties gebruikten uw gegevens 9 keer, bij 3 gebeurtenissen." in text
    for name, count in (("Gemeente Amsterdam", 3), ("Belastingdienst", 2), ("Dienst Toeslagen", 2), ("Burger.nl", 1), (RVIG, 1)):
        assert re.search(rf"{re.escape(name)} {count}\b", text), name
    for number, (title, _) in enumerate(EXPECTED_EVENTS, start=1):
        assert f"{number}. {title}" in text
    assert "6 keer gebruikt door 4 organisaties" in text
    # Purposes, laws and every flow in words; the party that did not answer.
    assert BIJSTAND_PURPOSE in text and "Participatiewet, artikel 11" in text and "Wet op de huurtoeslag" in text
    for (caller, callee), data_kinds in EXPECTED_FLOWS.items():
        assert f"{caller} vroeg gegevens op bij {callee}: {data_kinds}." in text
    assert "UWV: niet beschikbaar op dit moment" in text
    assert "artikel 15 AVG" in text
    page.close()


def test_pdf_is_behind_the_same_login_and_never_cached(site: Site) -> None:
    url = f"{site.base}/inzage/overzicht.pdf"
    with httpx.Client() as client:
        anonymous = client.get(url)
        assert anonymous.status_code == 401 and "U bent niet ingelogd" in anonymous.text
        assert anonymous.headers["content-type"].startswith("text/html")
        other_role = client.get(url, headers=organisation(site.issuer, "belastingdienst"))
        assert other_role.status_code == 403
        login_answer = client.post(f"{site.base}/inzage/inloggen", data={"bsn": LINDA})
        assert login_answer.status_code == 303
        pdf = client.get(url, params={"organisatie": "belastingdienst"})
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["cache-control"] == "no-store"
        assert re.fullmatch(r'attachment; filename="inzage-gegevensgebruik-\d{4}-\d{2}-\d{2}\.pdf"',
                            pdf.headers["content-disposition"])  # fmt: skip
        text = _pdf_text(pdf.content)  # the page's filters apply to the PDF too
        assert "1 organisatie gebruikte uw gegevens 2 keer, bij 2 gebeurtenissen." in text
        assert "Gemeente Amsterdam" not in text
        bad = client.get(url, params={"vanaf": "2026-02-30"})
        assert bad.status_code == 400 and "De periode klopt niet" in bad.text


def test_empty_state_page_and_pdf(browser: Any, site: Site) -> None:
    for name, viewport in (("leeg-desktop", DESKTOP), ("leeg-mobiel", MOBILE)):
        page = login(browser, site.base, NOBODY, viewport=viewport)
        main = page.inner_text("main")
        assert "Er zijn geen verwerkingen van uw gegevens gevonden." in main
        assert page.locator("li.gebeurtenis").count() == 0
        assert axe(page) == []
        shot(page, name)
        page.close()
    with httpx.Client() as client:
        client.post(f"{site.base}/inzage/inloggen", data={"bsn": NOBODY})
        text = _pdf_text(client.get(f"{site.base}/inzage/overzicht.pdf").content)
    assert "Er zijn geen verwerkingen van uw gegevens gevonden." in text


def test_error_pages_pass_axe_at_both_widths(browser: Any, site: Site) -> None:
    for name, viewport in (("fout-desktop", DESKTOP), ("fout-mobiel", MOBILE)):
        page = login(browser, site.base, LINDA, viewport=viewport)
        response = page.goto(f"{site.base}/inzage/?vanaf=2026-05-01&tot=2026-04-01")
        assert response is not None and response.status == 400
        assert "De periode klopt niet" in page.inner_text("main")
        # No summary of nothing and no PDF of it: only the form to put the period right.
        assert page.locator("#samenvatting-kop").count() == 0 and page.locator("a[href*='overzicht.pdf']").count() == 0
        assert page.locator("details.filters-uitklap").get_attribute("open") is not None  # the form to fix it
        assert axe(page) == []
        shot(page, name)
        response = page.goto(f"{site.base}/inzage/bestaat-niet")
        assert response is not None and response.status == 404
        assert axe(page) == []
        page.close()
