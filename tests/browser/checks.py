"""What every page of the portal must hold in a real browser, at a phone's width (390 px) and a desktop's (1,440 px):
no horizontal scroll of the page (wide tables and code scroll inside their own boxes, and on a desktop no table
needs to), and no critical or serious accessibility violation found by axe-core, then a screenshot in
test-artifacts/screenshots/.

axe-core is vendored (tests/vendor/axe-core/, from npm, its sha256 checked here) and evaluated in the page through
the DevTools protocol: the portal's Content-Security-Policy, which forbids inline scripts, stays as it is."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # axe-core 4.14.1 (VERSION)
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE, DESKTOP = 390, 1440
WIDTHS = [PHONE, DESKTOP]
BLOCKING_IMPACTS = ("critical", "serious")


@cache
def axe_source() -> str:
    data = AXE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == AXE_SHA256, f"{AXE} is not the vendored axe-core (sha256 {digest})"
    return data.decode()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The critical and serious violations axe-core finds in the page as it is now: id, impact, help, elements."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "elements": [" ".join(node["target"]) for node in violation["nodes"][:5]],
        }
        for violation in results["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def page_overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def sticking_out(page: Page) -> list[str]:
    """The innermost elements whose right edge is past the window's, as tag.class and the start of their text."""
    return page.evaluate(
        """Array.from(document.querySelectorAll('body *'))
            .filter(e => e.getBoundingClientRect().right > window.innerWidth && !e.querySelector('*'))
            .slice(0, 5)
            .map(e => `${e.tagName.toLowerCase()}.${e.className} "${(e.textContent || '').trim().slice(0, 40)}"`)"""
    )


def tables_scrolled_sideways(page: Page) -> list[str]:
    """The tables that do not fit their scroll box (each named by its header row's start): on a desktop, a row's
    last cells, its buttons, would be out of view."""
    return page.evaluate(
        """Array.from(document.querySelectorAll('.overflow-auto'))
            .filter(box => box.querySelector('table') && box.scrollWidth > box.clientWidth + 1)
            .map(box => `"${(box.querySelector('tr') || box).textContent.replace(/\\s+/g, ' ').trim().slice(0, 50)}"`
                + ` (${box.scrollWidth - box.clientWidth} px too wide)`)"""
    )


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def check_page(page: Page, name: str, width: int) -> list[str]:
    """The page's problems at `width` as sentences (empty: none); takes the screenshot `<name>-<width>` either way."""
    # The page and the fragments htmx loads into it (hx-trigger="load" panels), not a fixed 500 ms of network
    # silence per page: htmx marks an element `htmx-request` from the moment its request starts until it settles.
    # (Polled from here: wait_for_function evaluates its text in the page, which the CSP forbids.)
    page.wait_for_load_state("load")
    for _ in range(500):
        if not page.evaluate("document.querySelectorAll('.htmx-request').length"):
            break
        page.wait_for_timeout(20)
    problems = []
    overflow = page_overflow(page)
    if overflow > 0:
        # Measured again once the page has had a moment to settle (a late swap or reflow), and named: which
        # elements stick out, so that a failure says where to look.
        page.wait_for_timeout(300)
        overflow = page_overflow(page)
    if overflow > 0:
        problems.append(
            f"{name} at {width} px: the page is {overflow} px wider than the screen ({', '.join(sticking_out(page))})"
        )
    if width >= DESKTOP:
        for table in tables_scrolled_sideways(page):
            problems.append(f"{name} at {width} px: a table scrolls sideways: {table}")
    for violation in axe_violations(page):
        problems.append(
            f"{name} at {width} px: {violation['impact']} {violation['id']} ({violation['help']}) on "
            f"{violation['elements']}"
        )
    screenshot(page, f"{name}-{width}")
    return problems


def assert_page_passes(page: Page, name: str) -> None:
    """The one check every journey makes of a page as it is now, at the window's width: fails the test with all the
    problems check_page finds (so one run names every violation, not only the first)."""
    problems = check_page(page, name, page.evaluate("innerWidth"))
    assert not problems, "\n".join(problems)
