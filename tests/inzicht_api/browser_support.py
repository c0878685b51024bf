"""Shared Chromium helpers of the citizen page tests: Debian's headless Chromium driven by
Playwright (never Playwright's own browser download), axe-core (WCAG 2.1 AA), screenshots.

Needs Debian's `chromium` (/usr/bin/chromium, `make browser`) and the pip package
`axe-playwright-python`, which ships axe.min.js.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
AXE_JS = Path(axe_playwright_python.__file__).parent / "axe.min.js"
SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored: the test output to look at
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(browser: Any, site: str, bsn: str, *, bypass_csp: bool = True, viewport: dict[str, int] | None = None) -> Page:
    """A new page logged in as `bsn` through the demo login form.

    axe-core is injected as an inline script, which the page's CSP rightly blocks: the axe
    tests bypass the CSP; the CSP test in test_page_axe does not.
    """
    page = browser.new_page(viewport=viewport or {"width": 1100, "height": 900}, bypass_csp=bypass_csp)
    page.goto(f"{site}/inzage/inloggen")
    page.fill("#bsn", bsn)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/inzage/")
    return page


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page as it is now."""
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a','wcag2aa','wcag21a','wcag21aa']}})"
    )
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]]


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot in `SCREENSHOTS` (look at them: they are the visual check)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 20_000, f"{name} screenshot looks empty"
    return path


def page_height(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))


def open_all_details(page: Page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
