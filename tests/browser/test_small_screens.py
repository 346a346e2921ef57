"""The first hour in a browser on a tablet and a phone: the library fits the screen, its Search button
stays in view, results say how many; errors are pages; scripts tell the time as the server does."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build
from witnessbox.core.localtime import LocalTime, zone_named
from witnessbox.evidence.categorise import Categorisation

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

PATROLS = 53  # more than a page (50)
FIRST = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
TABLET = {"width": 820, "height": 1180}  # a tablet, upright
PHONE = {"width": 390, "height": 844}
LONDON = LocalTime(zone_named("Europe/London"))


@dataclass
class Site:
    """A running server with a page and a bit of the owner's recordings."""

    server: LiveServer
    knife: list[str]  # three recordings titled about a knife


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server for the module, the owner's patrols, three of them categorised with long words."""
    folder = tmp_path_factory.mktemp("screens")
    with fresh_database_url(folder) as url:
        settings = settings_for(folder, url, workers=0)
        container = build(settings)
        force = make_force(container)
        owner = force.actor("owner")
        made = [ready_item(container, owner, FIRST + timedelta(minutes=n), 61) for n in range(PATROLS)]
        knife = made[:3]
        container.categorise.categorise(knife, Categorisation(
            title="Knife recovered from the garden of 14 Laburnum Crescent after a long search",
            category="Violence against the person", incident_number="26/123456",
            crime_reference="CR/12345/26"), actor=owner)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            yield Site(server, knife)
        finally:
            server.stop()
            container.close()


def _sign_in(page: "Page", base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", PERSONAS["owner"][0])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _no_sideways_scroll(page: "Page") -> None:
    widths = page.evaluate("""() => ({page: document.documentElement.scrollWidth,
        screen: document.documentElement.clientWidth,
        table: [...document.querySelectorAll('div.scroll')].map(d => d.scrollWidth - d.clientWidth)})""")
    assert widths["page"] <= widths["screen"], widths
    assert all(extra <= 0 for extra in widths["table"]), widths


def _in_view(page: "Page", selector: str) -> bool:
    shown: bool = page.locator(selector).evaluate("""(el) => { const r = el.getBoundingClientRect();
        return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0
               && r.right <= document.documentElement.clientWidth; }""")
    return shown


def test_the_library_fits_a_tablet_keeps_search_in_view_and_counts(
        site: Site, page: "Page", artifacts: Path) -> None:
    """GIVEN more than a page of the officer's recordings WHEN they open the library on an upright tablet, scroll to the end, open the filters and search THEN nothing scrolls sideways, the Search button is on screen throughout, the first page says "50+ recordings" and a narrower search gives its exact count."""
    base = site.server.url
    page.set_viewport_size(TABLET)
    _sign_in(page, base)
    assert page.inner_text("#total").startswith("50+ recordings")
    _no_sideways_scroll(page)
    assert _in_view(page, "#search-button")
    page.screenshot(path=str(artifacts / "tablet-top.png"))
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert _in_view(page, "#search-button")
    page.screenshot(path=str(artifacts / "tablet-scrolled.png"))

    page.evaluate("() => window.scrollTo(0, 0)")
    page.click("details.filters summary")
    page.fill("#search input[name=q]", "knife")
    assert _in_view(page, "#search-button")
    page.screenshot(path=str(artifacts / "tablet-filters-open.png"))
    page.click("#search-button")
    page.wait_for_url(f"{base}/?q=knife")
    assert page.inner_text("#total") == "3 recordings"
    _no_sideways_scroll(page)
    assert "Knife recovered" in page.inner_text("table.items")  # title and references fold into a cell
    page.screenshot(path=str(artifacts / "tablet-results.png"), full_page=True)


def test_the_library_fits_a_phone(site: Site, page: "Page", artifacts: Path) -> None:
    """GIVEN the officer's recordings WHEN the library opens on a phone, then its next page THEN no sideways scrolling, the Search button is in view at the top and bottom, and the next page counts what it adds."""
    base = site.server.url
    page.set_viewport_size(PHONE)
    _sign_in(page, base)
    _no_sideways_scroll(page)
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert _in_view(page, "#search-button")
    page.screenshot(path=str(artifacts / "phone.png"))
    page.click("a:has-text('Next page →')")
    page.wait_for_url(f"{base}/?after=*")
    assert page.inner_text("#total") == f"{PATROLS - 50} more recordings"
    _no_sideways_scroll(page)


def test_an_error_is_a_page_with_a_way_back_on_a_phone(site: Site, page: "Page", artifacts: Path) -> None:
    """GIVEN a signed-in officer on a phone WHEN they follow a link to a page that is not there, and to administration THEN each is a readable page with the reason and a link back, not JSON, and fits the screen."""
    base = site.server.url
    page.set_viewport_size(PHONE)
    _sign_in(page, base)
    missing = page.goto(f"{base}/items/01NOSUCHITEM0000000000000")
    assert missing is not None and missing.status == 404
    assert page.inner_text("h1") == "Not found" and page.is_visible("a:has-text('Go to the start page')")
    _no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / "not-found.png"))
    page.goto(f"{base}/")
    page.evaluate("() => { const a = document.createElement('a'); a.href = '/admin/users'; a.id = 'go';"
                  " a.textContent = 'Administration';"
                  " document.body.append(a); }")
    page.click("#go")
    page.wait_for_url(f"{base}/admin/users")
    assert page.inner_text("h1") == "Not allowed"
    page.click("a:has-text('Back to the previous page')")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/logout")
    assert page.inner_text("h1") == "Not possible here"
    page.screenshot(path=str(artifacts / "wrong-method.png"))


def test_scripts_tell_the_time_as_the_pages_do(site: Site, page: "Page") -> None:
    """GIVEN moments in winter, in summer and on the night the clocks change WHEN the browser's time module formats them in the page's zone THEN each reads exactly as the server's filter writes it, and a local time typed in a form goes back to the right UTC moment."""
    _sign_in(page, site.server.url)
    moments = [datetime(2026, 12, 6, 14, 3, 22, tzinfo=UTC), datetime(2026, 7, 6, 13, 3, 22, tzinfo=UTC),
               datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC)]
    for moment in moments:
        iso = moment.isoformat()
        for style in ("full", "minute", "time", "date"):
            shown = page.evaluate("([iso, style]) => import('/static/js/localtime.js')"
                                  ".then((m) => m.localTime(iso, style))", [iso, style])
            assert shown == LONDON.format(moment, style), (iso, style)
    back = page.evaluate("() => import('/static/js/localtime.js').then((m) => m.utcFromLocal('2026-07-06T14:03'))")
    assert back == "2026-07-06T13:03:00Z"
