"""The browser path: sign in, find a docked recording in the list, play it and seek."""

import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer
from tests.factories.media import STARTED, tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

CLIP_SECONDS = 4.0
SERIAL = "WBX00001"
OWNER = PERSONAS["owner"][0]  # the officer camera SERIAL is issued to


def _dock_one_clip(server: LiveServer, tmp_path: Path) -> str:
    """Make a small force, issue the camera to the owner, register a dock, upload one clip; its item id."""
    container = build(server.settings)
    try:
        make_force(container, camera=None)
        container.devices.register_camera(SERIAL, actor=SYSTEM)
        # Issued from before the clip was recorded, whatever today's date: uploads are attributed
        # to whoever held the camera when the recording started.
        container.devices.assign(SERIAL, OWNER, actor=SYSTEM, starts_at=STARTED - timedelta(days=1))
        _dock, token = container.devices.register_dock("browser-test", actor=SYSTEM)
    finally:
        container.close()
    tiny_recording(tmp_path / "cameras" / SERIAL, serial=SERIAL, seconds=CLIP_SECONDS)
    agent = DockAgent(server.url, token, state_dir=tmp_path / "state")
    outcomes = agent.upload_all(find_recordings([tmp_path / "cameras"]))
    assert [o.ok for o in outcomes] == [True], [o.message for o in outcomes]
    return _wait_until_ready(server)


def _wait_until_ready(server: LiveServer, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    with server.owner() as owner:
        while time.monotonic() < deadline:
            items = owner.get("/api/v1/items").json()
            if items and items[0]["state"] != "processing":
                assert items[0]["state"] == "ready", items[0]["reason"]
                return str(items[0]["id"])
            time.sleep(0.25)
    raise AssertionError("the uploaded clip did not become ready")


def _audited(server: LiveServer, item_id: str) -> list[str]:
    """The tags of the audit entries about one item, oldest first."""
    container = build(server.settings)
    try:
        with container.db.read() as session:
            return list(session.scalars(select(AuditEvent.tag).where(
                AuditEvent.subject_id == item_id).order_by(AuditEvent.seq)))
    finally:
        container.close()


def _sign_in(page: "Page", base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", OWNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _seek(page: "Page", seconds: float) -> float:
    """Set currentTime and wait for the player's 'seeked' event; where it landed."""
    landed: float = page.evaluate(
        """(t) => new Promise((resolve, reject) => {
             const video = document.querySelector('#player');
             setTimeout(() => reject(new Error('no seeked event')), 10000);
             video.addEventListener('seeked', () => resolve(video.currentTime), {once: true});
             video.currentTime = t;
           })""", seconds)
    return landed


def test_signed_in_user_plays_and_seeks_a_docked_recording(
        live_server: LiveServer, tmp_path: Path, page: "Page", artifacts: Path) -> None:
    """GIVEN a clip uploaded by the dock agent and processed WHEN the officer whose camera recorded it
    signs in, opens it and seeks to the middle THEN the <video> loads the whole clip, lands there and
    keeps playing, and the audit trail records the view and the play."""
    item_id = _dock_one_clip(live_server, tmp_path)

    _sign_in(page, live_server.url)
    row = page.locator("table.items tbody tr")
    assert row.count() == 1
    assert SERIAL in row.inner_text() and "ready" in row.inner_text()
    page.screenshot(path=str(artifacts / "library.png"))

    page.click(f"td a[href='/items/{item_id}']")
    page.wait_for_url(f"{live_server.url}/items/{item_id}")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1")
    duration = page.evaluate("() => document.querySelector('#player').duration")
    assert duration == pytest.approx(CLIP_SECONDS, abs=0.5)

    middle = duration / 2
    assert _seek(page, middle) == pytest.approx(middle, abs=0.5)
    page.evaluate("() => { const v = document.querySelector('#player'); v.muted = true; "
                  "return v.play(); }")
    page.wait_for_function(
        "(from) => document.querySelector('#player').currentTime > from + 0.5", arg=middle)
    assert page.evaluate("() => document.querySelector('#player').error") is None
    page.screenshot(path=str(artifacts / "player.png"))
    tags = _audited(live_server, item_id)
    assert AuditTag.EVIDENCE_ITEM_VIEWED in tags and AuditTag.EVIDENCE_ITEM_PLAYED in tags
