"""The citizen page in a real headless Chromium: demo login, the chain across a real second read
API, an unreachable party, screenshots of the main states, axe-core (WCAG 2.1 AA), and the
Content-Security-Policy (the page works under it, with no violation reported).

Needs Debian's `chromium` (/usr/bin/chromium) and the pip package `axe-playwright-python`,
which ships axe.min.js; Playwright's own browser download is never used.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from ldv_inzicht._app import create_app
from ldv_inzicht.settings import ApiSettings
from ldv_logboek.storage import LogStore, connect
from ldv_suite.demo.token_service import DemoIssuer, create_token_service_app
from tests.inzicht_api.browser_support import axe as _axe
from tests.inzicht_api.browser_support import browser, open_all_details
from tests.inzicht_api.browser_support import login as _login
from tests.inzicht_api.browser_support import shot as _shot
from tests.inzicht_api.inzage_support import (
    AUDIENCE,
    DEMO_REGISTER,
    ISSUER,
    LINDA,
    Server,
    Signer,
    auth_settings,
    free_port,
    make_app,
    other_key,
    record,
    seed,
    write_jwks,
)

__all__ = ["browser"]  # the shared Chromium fixture, used by the tests below
UWV_POLIS = "https://register.uwv.example/processing-activities/polisadministratie-inkomen-verstrekken"
NOBODY = "999999990"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("page")
    store = LogStore(connect(f"chdb://{tmp / 'store'}"))
    store.migrate()
    uwv_port, dead_port = free_port(), free_port()  # nothing will listen on dead_port
    uwv_api, rvig_api = f"http://127.0.0.1:{uwv_port}/lezenapi/v1", f"http://127.0.0.1:{dead_port}/lezenapi/v1"
    # The demo register, with UWV's and RvIG's read APIs on loopback addresses.
    register = tmp / "register"
    shutil.copytree(DEMO_REGISTER, register)
    for name, url in (("uwv.yaml", uwv_api), ("rvig.yaml", rvig_api)):
        path = register / name
        path.write_text(path.read_text().replace(f"https://lezen.{name.split('.')[0]}.example/lezenapi/v1", url))
    seeded = seed(store, read_api_of={"huurtoeslag": uwv_api})
    # UWV's record in the same life event; UWV's key is not this Logboek's: only the chain finds it.
    store.insert([
        record(LINDA, "uwv", UWV_POLIS, name="inkomen uit polisadministratie verstrekken",
               when=time.time() - 30 * 86_400 + 2, trace_id=seeded.move_trace),
        record(LINDA, "gemeente-amsterdam", "https://register.amsterdam.example/processing-activities/adreswijziging",
               name="verhuizing vastleggen", when=time.time() - 29 * 86_400, trace_id=seeded.move_trace,
               **{"dpl.read.externalReadAPI_id": rvig_api}),
    ])
    issuer, demo = Signer.generate("issuer-1"), Signer.generate("demo")
    jwks = write_jwks(tmp / "jwks.json", issuer, demo)
    demo_key = tmp / "demo.pem"
    demo_key.write_bytes(demo.private_pem)
    # The token service that exchanges the page's login token for one for UWV (or RvIG) only.
    tokens = DemoIssuer(ISSUER, demo.private_pem, demo.kid, json.loads(jwks.read_text()), frozenset({AUDIENCE, uwv_api, rvig_api}))
    tokens.register_client("logboek-test", SecretStr("logboek-test-secret-0123456789"), AUDIENCE)
    # UWV's read API: the real app on the same store, serving UWV (its key), trusting the same
    # issuer with its own audience: it finds Linda's UWV records from her token alone (the inzage sends no BSN).
    uwv_auth = auth_settings(jwks, audience=uwv_api)
    uwv_app = create_app(store, ApiSettings(organisation_keys={"uwv": other_key("uwv")}), auth_settings=uwv_auth)
    with Server(create_token_service_app(tokens)) as token_service, Server(uwv_app, uwv_port):
        app = make_app(
            store, jwks, register_paths=[register], demo_key=demo_key, timeout=2.0,
            token_endpoint=token_service + "/token", client_id="logboek-test", client_secret="logboek-test-secret-0123456789",
        )  # fmt: skip
        with Server(app) as base:
            yield base
    # chDB serves one data directory per process: close it so the next module can open its own.
    store.close()


def test_records_state_follows_the_chain_and_passes_axe(browser, site: str) -> None:
    page = _login(browser, site, LINDA)
    page.goto(f"{site}/inzage/?organisatie=dienst-toeslagen")
    open_all_details(page)
    text = page.inner_text("main")
    assert "Wie heeft mijn gegevens gebruikt?" in text
    assert "Huurtoeslag berekenen en toekennen" in text and "Wet op de huurtoeslag, artikel 7" in text
    assert "niet beschikbaar op dit moment" not in text
    link = page.get_by_role("link", name="Wet op de huurtoeslag, artikel 7").first
    assert link.get_attribute("href") == "https://wetten.overheid.nl/jci1.3:c:BWBR0008659&artikel=7"
    assert _axe(page) == []
    _shot(page, "records")
    page.close()


def test_unreachable_party_is_shown_not_an_error(browser, site: str) -> None:
    page = _login(browser, site, LINDA)
    open_all_details(page)
    text = page.inner_text("main")
    # The chain: UWV's record came from UWV's read API; RvIG's read API is down.
    assert "Inkomen uit de polisadministratie verstrekken" in text
    assert "Rijksdienst voor Identiteitsgegevens (RvIG): niet beschikbaar op dit moment" in text
    assert "Verhuizing verwerken in de BRP" in text
    # The confidential FIOD investigation and Ben's records never show.
    assert "FIOD" not in text and "fraude" not in text.lower()
    assert _axe(page) == []
    _shot(page, "party-unreachable")
    page.close()


def test_no_records_state(browser, site: str) -> None:
    page = _login(browser, site, NOBODY)
    text = page.inner_text("main")
    assert "Er zijn geen verwerkingen van uw gegevens gevonden" in text
    assert _axe(page) == []
    _shot(page, "none")
    page.close()


def test_login_page_and_logged_out_page_pass_axe(browser, site: str) -> None:
    page = browser.new_page(bypass_csp=True)
    response = page.goto(f"{site}/inzage/")
    assert response is not None and response.status == 401
    assert "U bent niet ingelogd" in page.inner_text("main")
    assert _axe(page) == []
    page.goto(f"{site}/inzage/inloggen")
    assert _axe(page) == []
    response = page.goto(f"{site}/inzage/bestaat-niet")  # an error page
    assert response is not None and response.status == 404 and "Pagina niet gevonden" in page.inner_text("main")
    assert _axe(page) == []
    page.goto(f"{site}/inzage/inloggen")
    page.fill("#bsn", "123456789")  # fails the elfproef
    page.click("button[type=submit]")
    assert "geen geldig BSN" in page.inner_text("main")
    page.close()


# Collects every CSP violation the page reports; an init script runs outside the page's CSP.
_CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline')));
"""


def test_page_works_under_its_content_security_policy(browser, site: str) -> None:
    """Every state of the page, with the CSP enforced: styled, forms working, no violation."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(_CSP_WATCH)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    def check(response, status: int) -> None:  # noqa: ANN001 - playwright Response
        assert response is not None and response.status == status, page.url
        policy = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, page.url
        assert response.headers.get("x-frame-options") == "DENY"
        assert response.headers.get("x-content-type-options") == "nosniff"
        # The stylesheet applied: the header band has the style sheet's dark blue.
        assert page.evaluate("getComputedStyle(document.querySelector('.kop')).backgroundColor") != "rgba(0, 0, 0, 0)"
        assert page.evaluate("window.__csp") == [], page.url

    check(page.goto(f"{site}/inzage/"), 401)
    check(page.goto(f"{site}/inzage/bestaat-niet"), 404)
    check(page.goto(f"{site}/inzage/inloggen"), 200)
    page.fill("#bsn", LINDA)
    with page.expect_navigation():
        page.click("button[type=submit]")  # the form post and its redirect: form-action 'self'
    assert page.url == f"{site}/inzage/"
    assert page.evaluate("window.__csp") == []
    check(page.goto(f"{site}/inzage/?organisatie=dienst-toeslagen"), 200)
    page.click("summary:has-text('waarom en op grond')")  # details open without any script
    assert "Huurtoeslag berekenen en toekennen" in page.inner_text("main")
    with page.expect_navigation():
        page.click("text=Uitloggen")
    assert page.evaluate("window.__csp") == []
    assert not [m for m in console if "Content Security Policy" in m], console
    # The watches themselves work: an inline style, which the policy forbids, is reported.
    page.evaluate("document.head.appendChild(document.createElement('style')).textContent = 'body {}'")
    page.wait_for_function("window.__csp.length > 0")
    assert set(page.evaluate("window.__csp")) == {"style-src-elem blocked inline"}
    page.wait_for_timeout(200)
    assert [m for m in console if "Content Security Policy" in m], console  # and the console watch too
    context.close()


@pytest.mark.parametrize("width", [320, 390])
def test_page_reflows_on_a_narrow_screen(browser, site: str, width: int) -> None:
    """WCAG 2.1 AA 1.4.10 (Reflow): at 320 CSS px, every `details` open, nothing scrolls sideways.

    axe does not test this. The states with most content: the chain (a read API of another
    Logboek, an unreachable party) and the tables per life event.
    """
    page = _login(browser, site, LINDA, viewport={"width": width, "height": 800})
    open_all_details(page)
    too_wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
                 .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
                 .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 40))"""
    )
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page is {scroll_width} px wide at {width} px; too wide: {too_wide[:8]}"
    assert page.evaluate("document.body.scrollWidth") <= width
    sources = page.inner_text("section[aria-labelledby=bronnen-kop]")
    assert "opgevraagd bij het Logboek van UWV" in sources and "http" not in sources  # a name, not an address
    _shot(page, f"reflow-{width}")
    page.close()
