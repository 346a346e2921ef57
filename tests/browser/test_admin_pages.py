"""An administrator's first hour in a browser: their home is the system's state, the fleet of cameras
and docks is a click away, and a dock's token is rotated from the page; on a tablet and a phone."""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

TABLET = {"width": 820, "height": 1180}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with the test force, the owner's camera, a pool camera and a dock."""
    folder = tmp_path_factory.mktemp("admin")
    with fresh_database_url(folder) as url:
        settings = settings_for(folder, url, workers=0)
        container = build(settings)
        make_force(container)
        container.devices.register_camera("POOL0001", pool="Central", actor=SYSTEM)
        container.devices.register_dock("station-1", actor=SYSTEM)
        container.close()
        running = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        running.start()
        yield running
        running.stop()


def _sign_in_as_administrator(page: "Page", base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", PERSONAS["sysadmin"][0])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin")


def _fits(page: "Page") -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths


@pytest.mark.parametrize("screen", [TABLET, PHONE], ids=["tablet", "phone"])
def test_an_administrator_lands_on_the_system_and_rotates_a_dock_token(
        server: LiveServer, page: "Page", artifacts: Path, screen: dict[str, int]) -> None:
    """GIVEN an administrator WHEN they sign in on a tablet or a phone THEN they land on the system's state (jobs, storage, audit, silent devices), see the cameras with their holders and one camera's history, and rotate a dock's token from the docks page, which shows the new token once; every page fits the screen."""
    base = server.url
    page.set_viewport_size(screen)  # type: ignore[arg-type]
    _sign_in_as_administrator(page, base)
    for part in ("#jobs", "#storage", "#audit", "#silent"):
        assert page.is_visible(part), part
    _fits(page)
    page.screenshot(path=str(artifacts / "system.png"), full_page=True)

    page.click("nav.tabs a:has-text('Cameras')")
    page.wait_for_url(f"{base}/admin/cameras")
    assert "1142 Alex Morgan" in page.inner_text("table.fleet")
    _fits(page)
    page.screenshot(path=str(artifacts / "cameras.png"), full_page=True)
    page.click("a:has-text('WBX00001')")
    page.wait_for_url(f"{base}/admin/cameras/WBX00001")
    assert "still issued" in page.inner_text("table.history")
    _fits(page)

    page.click("nav.tabs a:has-text('Docks')")
    page.wait_for_url(f"{base}/admin/docks")
    page.click("button[aria-label='Rotate the token of station-1']")
    page.wait_for_selector("#new-token")
    assert page.inner_text("#new-token").startswith("wbx")
    _fits(page)
    page.screenshot(path=str(artifacts / "docks-rotated.png"), full_page=True)
