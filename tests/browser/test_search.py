"""The library page in a browser: search with filters, page through, save a search, categorise in bulk."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.media import STARTED, sha256_file, tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from tests.integration.test_library_page import record
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import ItemState

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

SERIAL = "WBX00001"
ROUTINE = 52  # more than a page of routine patrols
SEPTEMBER = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # the three recordings categorised in bulk


@dataclass
class Library:
    """A running server holding the team's recordings, by what they are."""

    server: LiveServer
    container: Container
    force: Force
    docked: str  # processed from a real clip: it has a thumbnail strip
    elm: str  # "Disturbance on Elm Road", domestic abuse, 20 November
    unsorted: list[str]  # three uncategorised recordings of 1 September


def _dock_clip(server: LiveServer, container: Container, folder: Path) -> str:
    """Upload one real clip with the dock agent; its item id once processed."""
    _dock, token = container.devices.register_dock("search-test", cameras=[SERIAL], actor=SYSTEM)
    sha256 = sha256_file(tiny_recording(folder / "cameras" / SERIAL, serial=SERIAL, seconds=2.0))
    outcomes = DockAgent(server.url, token, state_dir=folder / "state").upload_all(
        find_recordings([folder / "cameras"])
    )
    assert [o.ok for o in outcomes] == [True], [o.message for o in outcomes]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with container.db.read() as session:
            item = container.evidence.find_by_sha256(session, sha256)
        if item is not None and item.state == ItemState.READY:
            return item.id
        time.sleep(0.25)
    raise AssertionError("the docked clip did not become ready")


def _seed(container: Container, force: Force) -> tuple[str, list[str]]:
    """The owner's recordings: routine patrols, three Elm Road calls, three to categorise."""
    owner = force.actor("owner")
    for n in range(ROUTINE):
        record(container, force, "owner", datetime(2026, 10, 1, 8, tzinfo=UTC) + timedelta(minutes=n), 60)
    calls = {
        "Disturbance on Elm Road": (datetime(2026, 11, 20, 22, tzinfo=UTC), "Domestic abuse"),
        "Elm Road follow-up": (datetime(2026, 11, 21, 10, tzinfo=UTC), "Public order"),
        "Earlier Elm Road call": (datetime(2026, 11, 1, 9, tzinfo=UTC), "Domestic abuse"),
    }
    made = {}
    for title, (started, category) in calls.items():
        made[title] = record(container, force, "owner", started, 120)
        container.categorise.categorise(
            [made[title]], Categorisation(title=title, category=category), actor=owner
        )
    unsorted = [record(container, force, "owner", SEPTEMBER + timedelta(minutes=n), 45) for n in range(3)]
    return made["Disturbance on Elm Road"], unsorted


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """One server, one force, one docked clip and some sixty recordings for the module."""
    folder = tmp_path_factory.mktemp("search")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=2)
        container = build(settings)
        force = make_force(container, camera=None)
        container.devices.register_camera(SERIAL, actor=SYSTEM)
        container.devices.assign(
            SERIAL, PERSONAS["owner"][0], actor=SYSTEM, starts_at=STARTED - timedelta(days=1)
        )
        elm, unsorted = _seed(container, force)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            docked = _dock_clip(server, container, folder)
            yield Library(server, container, force, docked, elm, unsorted)
        finally:
            server.stop()
            container.close()


def _sign_in(page: "Page", base: str, persona: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", PERSONAS[persona][0])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _rows(page: "Page") -> list[str]:
    """The item ids listed, top to bottom."""
    ids: list[str] = page.locator("table.items tbody input[name=item_ids]").evaluate_all(
        "boxes => boxes.map(b => b.value)"
    )
    return ids


def test_search_with_filters_pages_and_saved_search(library: Library, page: "Page", artifacts: Path) -> None:
    """GIVEN a team's recordings, one docked from a camera WHEN its supervisor filters by words, category
    and date THEN only the matching call is listed and the address holds just those filters; the search
    saved under a name reopens with the same rows and form; a wide search pages forwards and back; the
    docked recording shows its thumbnail; on a tablet the filters start folded."""
    base = library.server.url
    _sign_in(page, base, "supervisor")
    thumb = page.locator(f"a[href='/items/{library.docked}'] img.thumb")
    thumb.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    page.screenshot(path=str(artifacts / "library.png"))

    page.fill("#search input[name=q]", "elm road")
    page.select_option("#search select[name=category]", "Domestic abuse")
    page.fill("#search input[name=from]", "2026-11-15T00:00")
    page.click("#search-button")  # outside the folding filters, always in view
    page.wait_for_url(f"{base}/?q=*")
    assert page.url == f"{base}/?q=elm+road&from=2026-11-15T00%3A00&category=Domestic+abuse"
    assert _rows(page) == [library.elm]
    assert "Disturbance on Elm Road" in page.locator("table.items").inner_text()
    page.screenshot(path=str(artifacts / "search.png"), full_page=True)

    page.fill("form.save input[name=name]", "Elm Road domestic calls")
    page.click("form.save button[type=submit]")
    page.wait_for_selector("text=Search saved as “Elm Road domestic calls”")
    page.goto(f"{base}/")
    page.click(".saved a:has-text('Elm Road domestic calls')")
    page.wait_for_url(f"{base}/?q=elm+road&category=Domestic+abuse&from=2026-11-15T00%3A00%3A00%2B00%3A00")
    assert _rows(page) == [library.elm]
    assert page.input_value("#search input[name=from]") == "2026-11-15T00:00"

    page.goto(f"{base}/?camera={SERIAL}")
    first = _rows(page)
    page.click("a:has-text('Next page →')")
    page.wait_for_url(f"{base}/?camera={SERIAL}&after=*")
    second = _rows(page)
    assert len(first) == 50 and len(second) == ROUTINE + 3 + 3 + 1 - 50 and not set(first) & set(second)
    page.click("a:has-text('First page')")
    page.wait_for_url(f"{base}/?camera={SERIAL}")
    assert _rows(page) == first

    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, upright: filters fold away
    page.reload()
    assert page.locator("details.filters").evaluate("details => details.open") is False
    page.screenshot(path=str(artifacts / "tablet.png"))


def test_categorise_in_bulk(library: Library, page: "Page", artifacts: Path) -> None:
    """GIVEN three uncategorised recordings of the team WHEN the supervisor selects them all, first with an
    incident number in the wrong format, then a right one THEN the refusal is shown and nothing changes;
    then all three are evidential use of force with that number, on the page, in the database and in
    the audit trail with each one's values before and after."""
    base = library.server.url
    _sign_in(page, base, "supervisor")
    page.goto(f"{base}/?from=2026-09-01&to=2026-09-02")
    assert sorted(_rows(page)) == sorted(library.unsorted)
    bar = page.locator("form#bulk")
    assert bar.is_hidden()
    page.check("#select-page")
    assert bar.is_visible() and page.inner_text("#selected") == "3"

    page.select_option("form#bulk select[name=evidential]", "yes")
    page.select_option("form#bulk select[name=category]", "Use of force")
    page.fill("form#bulk input[name=incident_number]", "4242")
    page.screenshot(path=str(artifacts / "bulk-bar.png"))
    page.click("form#bulk button:has-text('Categorise')")
    error = page.locator("#bulk-error")
    error.wait_for()
    assert "incident number '4242' does not match" in error.inner_text()
    assert all(library.container.evidence.get(i).categorised_at is None for i in library.unsorted)

    page.fill("form#bulk input[name=incident_number]", "26/4242")
    page.click("form#bulk button:has-text('Categorise')")
    page.wait_for_selector("#outcome:has-text('3 recordings categorised.')")
    table = page.locator("table.items tbody").inner_text()
    assert table.count("Evidential") == 3 and table.count("Use of force") == 3 and table.count("26/4242") == 3
    page.screenshot(path=str(artifacts / "categorised.png"), full_page=True)

    supervisor = library.force.actor("supervisor")
    for item_id in library.unsorted:
        item = library.container.evidence.get(item_id)
        assert (item.evidential, item.category, item.incident_number) == (True, "Use of force", "26/4242")
        assert item.categorised_by == supervisor.name
    with library.container.db.read() as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.tag == AuditTag.EVIDENCE_ITEM_CATEGORISED,
                AuditEvent.subject_id.in_(library.unsorted),
            )
        ).all()
    assert sorted(str(e.subject_id) for e in events) == sorted(library.unsorted)
    for event in events:
        assert event.details["before"] == {"evidential": None, "category": None, "incident_number": None}
        assert event.details["after"] == {
            "evidential": True,
            "category": "Use of force",
            "incident_number": "26/4242",
        }
