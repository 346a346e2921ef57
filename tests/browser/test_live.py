"""Live updates in the browser: a recording docked while the library is open appears without a reload."""

import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer
from tests.factories.media import STARTED, tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

SERIAL = "WBX00001"
OWNER = PERSONAS["owner"][0]


def _dock_token(server: LiveServer) -> str:
    container = build(server.settings)
    try:
        make_force(container, camera=None)
        container.devices.register_camera(SERIAL, actor=SYSTEM)
        container.devices.assign(SERIAL, OWNER, actor=SYSTEM, starts_at=STARTED - timedelta(days=1))
        return container.devices.register_dock("live-test", cameras=[SERIAL], actor=SYSTEM)[1]
    finally:
        container.close()


def test_a_docked_recording_appears_on_the_open_library_without_a_reload(
        live_server: LiveServer, tmp_path: Path, page: "Page", artifacts: Path) -> None:
    """GIVEN the officer's library open and empty WHEN a dock uploads a recording from their camera in the
    background THEN a notice says a new recording came from that camera, then that its proxy is ready, the page
    offers to show it, and doing so lists it, ready; every event is also dispatched to the page's own scripts."""
    token = _dock_token(live_server)
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", OWNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("table.items tbody tr").count() == 0
    page.evaluate("""() => { window.heard = [];
        document.addEventListener('witnessbox:live', (e) => window.heard.push(e.detail.kind)); }""")
    page.wait_for_timeout(500)  # the stream is open and starts from now

    tiny_recording(tmp_path / "cameras" / SERIAL, serial=SERIAL)
    agent = DockAgent(live_server.url, token, state_dir=tmp_path / "state")
    docking = threading.Thread(target=agent.upload_all, args=(find_recordings([tmp_path / "cameras"]),))
    docking.start()

    created = page.locator("#live .live-notice.item-created")
    created.wait_for(timeout=60_000)
    assert f"New recording from {SERIAL}" in created.inner_text()
    page.locator("#live .live-notice.item-ready").wait_for(timeout=60_000)
    docking.join(60)
    assert page.evaluate("() => window.heard") == ["item-created", "item-ready"]
    offer = page.locator("#live .live-offer")
    assert offer.inner_text() == "Show the new recording"
    page.screenshot(path=str(artifacts / "library-live.png"))

    item_id = created.get_attribute("data-item-id")
    assert created.locator("a").get_attribute("href") == f"/items/{item_id}"
    offer.click()
    row = page.locator("table.items tbody tr")
    row.first.wait_for()
    assert row.count() == 1 and SERIAL in row.inner_text() and "ready" in row.inner_text()
