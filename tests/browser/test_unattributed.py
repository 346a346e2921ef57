"""The unattributed queue in the browser: a docked recording nobody held the camera for, given to its officer."""

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

SERIAL = "WBX00042"  # registered, issued to nobody
SUPERVISOR, OWNER = PERSONAS["supervisor"][0], PERSONAS["owner"][0]


def _dock_unissued_recording(server: LiveServer, folder: Path) -> str:
    """Register a camera nobody holds and a dock for it; dock one recording; its item id."""
    container = build(server.settings)
    try:
        make_force(container, camera=None)
        container.devices.register_camera(SERIAL, actor=SYSTEM)
        token = container.devices.register_dock("unissued-test", cameras=[SERIAL], actor=SYSTEM)[1]
    finally:
        container.close()
    tiny_recording(folder / "cameras" / SERIAL, serial=SERIAL)
    [outcome] = DockAgent(server.url, token, state_dir=folder / "state").upload_all(
        find_recordings([folder / "cameras"]))
    assert outcome.ok, outcome.message
    container = build(server.settings)
    try:
        [item] = container.evidence.list_items(actor=SYSTEM)
        assert item.officer_id is None
        return item.id
    finally:
        container.close()


def _sign_in(page: "Page", server: LiveServer, collar: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", collar)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def test_a_supervisor_gives_an_unattributed_recording_to_its_officer(
        live_server: LiveServer, tmp_path: Path, page: "Page", artifacts: Path) -> None:
    """GIVEN a recording docked from a camera nobody held WHEN the supervisor opens Unattributed from the menu THEN it is listed by camera and time with no footage; WHEN they enter a wrong collar number THEN the page says so; WHEN they enter the owner's THEN the queue is empty, and the owner's library lists the recording."""
    item_id = _dock_unissued_recording(live_server, tmp_path)
    _sign_in(page, live_server, SUPERVISOR)
    page.click("nav >> text=Unattributed")
    page.wait_for_url(f"{live_server.url}/unattributed")
    row = page.locator(f"tr[data-item='{item_id}']")
    assert SERIAL in row.inner_text()
    assert page.locator("main video, main img").count() == 0  # records only, never the footage
    page.screenshot(path=str(artifacts / "unattributed-queue.png"), full_page=True)

    row.locator("input[name=collar_number]").fill("0000")
    row.locator("button[type=submit]").click()
    page.locator("[role=alert]").wait_for()
    assert "no serving officer" in page.locator("[role=alert]").inner_text()

    page.locator(f"tr[data-item='{item_id}'] input[name=collar_number]").fill(OWNER)
    page.locator(f"tr[data-item='{item_id}'] button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/unattributed?done=*")
    assert "now belongs to" in page.locator(".notice").inner_text()
    assert page.locator(f"tr[data-item='{item_id}']").count() == 0
    page.screenshot(path=str(artifacts / "unattributed-attributed.png"), full_page=True)

    page.context.clear_cookies()
    _sign_in(page, live_server, OWNER)
    assert page.locator("nav >> text=Unattributed").count() == 0  # officers have no queue
    assert item_id in page.content()
