"""The case flow in the browser: open a case, add recordings from the library in bulk, invite a
colleague, read the timeline, and the colleague finds the case."""

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import VIEWPORT, browser_missing
from tests.conftest import LiveServer
from tests.factories.items import ready_item
from tests.factories.media import STARTED, tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

SERIAL = "WBX00001"
INVESTIGATOR, TEAMMATE = PERSONAS["investigator"][0], PERSONAS["teammate"][0]


def _recording(server: LiveServer, force: Force, persona: str, start: datetime, seconds: float) -> str:
    """A ready item made directly (no bytes: the case page needs its record, not its footage)."""
    container = build(server.settings)
    try:
        camera = SERIAL if persona == "owner" else f"CAM-{persona}"
        return ready_item(container, force.actor(persona), start, seconds, camera=camera, filename=f"{persona}.mp4")
    finally:
        container.close()


def _recordings(server: LiveServer, tmp_path: Path) -> list[str]:
    """Three recordings in time order: the owner's docked clip, a teammate's overlapping one, a later one."""
    container = build(server.settings)
    try:
        force = make_force(container, camera=SERIAL)
        _dock, token = container.devices.register_dock("browser-test", cameras=[SERIAL], actor=SYSTEM)
    finally:
        container.close()
    tiny_recording(tmp_path / "cameras" / SERIAL, serial=SERIAL, seconds=3)
    agent = DockAgent(server.url, token, state_dir=tmp_path / "state")
    assert [o.ok for o in agent.upload_all(find_recordings([tmp_path / "cameras"]))] == [True]
    docked = _wait_until_ready(server)
    return [
        docked,
        _recording(server, force, "teammate", STARTED + timedelta(seconds=1), 60),
        _recording(server, force, "owner", STARTED + timedelta(minutes=5), 45),
    ]


def _wait_until_ready(server: LiveServer, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    with server.owner() as owner:
        while time.monotonic() < deadline:
            items = owner.get("/api/v1/items").json()
            if items and items[0]["state"] != "processing":
                assert items[0]["state"] == "ready", items[0]["reason"]
                return str(items[0]["id"])
            time.sleep(0.25)
    raise AssertionError("the docked clip did not become ready")


def _sign_in(page: "Page", base: str, collar: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", collar)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _bar_lefts(page: "Page", item_ids: list[str]) -> list[float]:
    """Where each item's bar starts on screen, in pixels."""
    return [page.locator(f".tl-bar[data-item='{item_id}']").bounding_box()["x"] for item_id in item_ids]  # type: ignore[index]


def test_an_investigator_builds_a_case_and_a_colleague_sees_it(
    live_server: LiveServer, tmp_path: Path, page: "Page", browser: "Browser", artifacts: Path
) -> None:
    """GIVEN three recordings by two officers (one docked for real) WHEN an investigator opens a case,
    selects the three in the library and adds them in bulk (saying why), and invites a colleague THEN
    the case page shows one timeline bar per recording in time order, thumbnails, and "Watch
    together" for overlapping ones; and the colleague signs in and finds the case and its recordings."""
    items = _recordings(live_server, tmp_path)
    base = live_server.url
    _sign_in(page, base, INVESTIGATOR)

    page.click("nav a[href='/cases']")
    page.fill("#new-case-form input[name=reference]", "CR/4411/26")
    page.fill("#new-case-form input[name=title]", "Disorder on Bridge Street")
    assert page.locator("#new-case-form select[name=kind]").count() == 0  # complaints: PSD only
    page.click("#new-case-form button[type=submit]")
    page.wait_for_url(f"{base}/cases/*")
    case_url = page.url.split("?")[0]
    assert "Case opened" in page.locator(".notice").inner_text()

    page.click("#add-items")
    page.wait_for_url(f"{base}/")
    for item_id in items:
        page.check(f"input[name=item_ids][value='{item_id}']")
    page.select_option("#bulk select[name=case_id]", label="CR/4411/26 · Disorder on Bridge Street")
    page.click("#bulk button[formaction='/cases/add-items']")
    page.fill("#reason-form textarea[name=reason]", "footage of the disorder for CR/4411/26")
    page.click("#reason-form button[type=submit]")
    page.wait_for_url(f"{case_url}?done=items")

    page.fill("#invite-form input[name=collar_number]", TEAMMATE)
    page.click("#invite-form button[type=submit]")
    page.wait_for_url(f"{case_url}?done=member")
    assert PERSONAS["teammate"][1] in page.locator("#members").inner_text()

    assert page.locator(".tl-bar").count() == 3
    lefts = _bar_lefts(page, items)
    assert lefts == sorted(lefts) and lefts[0] < lefts[1] < lefts[2], lefts
    assert page.locator(".tl-lane").count() == 2  # the owner's camera and the teammate's
    page.wait_for_function(
        "() => [...document.querySelectorAll('.case-items img.thumb')].some(i => i.complete && i.naturalWidth > 0)"
    )

    watch = page.locator("#watch-together")
    page.check(f"input.pick[value='{items[0]}']")
    page.check(f"input.pick[value='{items[2]}']")
    assert watch.is_hidden() and "do not overlap" in page.locator("#watch-hint").inner_text()
    page.uncheck(f"input.pick[value='{items[2]}']")
    page.check(f"input.pick[value='{items[1]}']")
    assert watch.is_visible()
    assert watch.get_attribute("href") == f"/watch?items={items[0]}&items={items[1]}"
    page.screenshot(path=str(artifacts / "case.png"), full_page=True)

    page.click(f".tl-bar[data-item='{items[2]}']")
    page.wait_for_url(f"{base}/items/{items[2]}")

    context = browser.new_context(viewport=VIEWPORT)
    colleague = context.new_page()
    try:
        _sign_in(colleague, base, TEAMMATE)
        colleague.goto(f"{base}/cases")
        colleague.screenshot(path=str(artifacts / "cases.png"))
        colleague.click("text=CR/4411/26")
        colleague.wait_for_url(case_url)
        rows = colleague.locator(".case-items tbody tr")
        assert [rows.nth(i).get_attribute("data-item") for i in range(rows.count())] == items
        assert colleague.locator("#invite-form").count() == 0
        colleague.screenshot(path=str(artifacts / "case-colleague.png"), full_page=True)
    finally:
        context.close()
