"""The browser path: sign in, find a docked recording, play and seek it, scrub, step, bookmark and note it."""

import math
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.browser.conftest import VIEWPORT, browser_missing
from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.media import STARTED, tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM
from witnessbox.core.localtime import LocalTime, zone_named
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

CLIP_SECONDS = 4.0
LONDON = LocalTime(zone_named("Europe/London"))  # the default WITNESSBOX_TIME_ZONE the server runs with
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
        _dock, token = container.devices.register_dock("browser-test", cameras=[SERIAL], actor=SYSTEM)
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


def _sign_in(page: "Page", base: str, collar: str = OWNER) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", collar)
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


@pytest.fixture(scope="module")
def docked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """One server with one docked, processed clip for every test of this module."""
    folder = tmp_path_factory.mktemp("player")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=2)
        build(settings).close()  # migrate before the server starts
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            yield server, _dock_one_clip(server, folder)
        finally:
            server.stop()


def test_signed_in_user_plays_and_seeks_a_docked_recording(
        docked: tuple[LiveServer, str], page: "Page", artifacts: Path) -> None:
    """GIVEN a clip uploaded by the dock agent and processed WHEN the officer whose camera recorded it
    signs in, opens it and seeks to the middle THEN the <video> loads the whole clip, lands there and
    keeps playing, and the audit trail records the view and the play."""
    live_server, item_id = docked

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


def _clock(seconds: float) -> str:
    """The camera's clock `seconds` into the clip, to the tenth, as the page shows it beside the player."""
    at = STARTED + timedelta(milliseconds=math.floor(seconds * 10 + 0.5) * 100)
    return f"{LONDON.format(at, 'clock')}.{at.microsecond // 100_000} {LONDON.format(at, 'zone')}"


def _seconds_of(clock: str) -> float:
    """Seconds after STARTED of a clock reading such as '08:30:01.2'."""
    hours, minutes, seconds = clock.split(maxsplit=1)[0].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds) - (STARTED.hour * 3600 + STARTED.minute * 60)


def _landing(page: "Page", action: Callable[[], None]) -> float:
    """Do something that seeks the player; wait for its 'seeked' event; where it landed."""
    page.evaluate("""() => { const v = document.querySelector('#player');
        window.landed = new Promise((resolve) => v.addEventListener('seeked', () => resolve(v.currentTime),
                                                                      {once: true})); }""")
    action()
    landed: float = page.evaluate("() => window.landed")
    return landed


def _shows_clock(page: "Page", seconds: float) -> None:
    page.wait_for_function("(t) => document.querySelector('#clock').textContent === t", arg=_clock(seconds))


def _open_player(page: "Page", base: str, item_id: str) -> float:
    """Open the item page and wait until the player knows the clip's length; that length."""
    page.goto(f"{base}/items/{item_id}")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1")
    duration: float = page.evaluate("() => document.querySelector('#player').duration")
    return duration


def test_officer_scrubs_steps_changes_speed_and_marks_the_recording(
        docked: tuple[LiveServer, str], page: "Page", browser: "Browser", artifacts: Path) -> None:
    """GIVEN a docked clip with one camera bookmark WHEN its officer opens it, scrubs on the thumbnail strip, steps
    a frame, changes speed with [ and ], bookmarks with b and writes a note with n THEN the clock beside the player
    follows the recorded time, the marks show on the timeline and in the list after a reload, a timecode seeks,
    typing in the note triggers no shortcut, the officer may download the original, and their supervisor sees
    the marks but may remove none of them."""
    server, item_id = docked
    player = "document.querySelector('#player')"
    problems: list[str] = []  # script errors, and anything the Content-Security-Policy blocked
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    _sign_in(page, server.url)
    duration = _open_player(page, server.url, item_id)
    assert page.inner_text("#clock") == _clock(0) and page.inner_text("#clock-date") == LONDON.format(STARTED, "date")
    assert page.get_attribute("#download", "href") == f"/api/v1/items/{item_id}/original"

    scrub = page.locator("#scrub")
    box = scrub.bounding_box()
    assert box is not None
    scrub.hover(position={"x": box["width"] * 0.3, "y": box["height"] / 2})
    assert page.is_visible("#preview")
    assert _seconds_of(page.inner_text("#preview-time")) == pytest.approx(0.3 * duration, abs=0.11)
    landed = _landing(page, lambda: scrub.click(position={"x": box["width"] * 0.5, "y": box["height"] / 2}))
    assert landed == pytest.approx(duration / 2, abs=0.1)
    _shows_clock(page, landed)

    stepped = _landing(page, lambda: page.keyboard.press("."))
    assert stepped == pytest.approx(landed + 1 / 25, abs=0.005)
    assert page.evaluate(f"() => {player}.paused")
    _shows_clock(page, stepped)
    for key, rate in (("]", 1.25), ("[", 1.0), ("[", 0.75)):
        page.keyboard.press(key)
        assert page.evaluate(f"() => {player}.playbackRate") == rate
    assert page.input_value("#speed") == "0.75"

    page.keyboard.press("b")
    page.wait_for_selector("#marks li.bookmark")
    assert page.inner_text("#marks li.bookmark a.at") == _clock(stepped).split()[0]
    page.keyboard.press("n")
    assert page.evaluate("() => document.activeElement.id") == "mark-text"
    page.keyboard.type("Kicks the bin; looks back at the van")  # b, k, l, n: no shortcut while typing
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#marks li.note")
    assert page.locator("#marks li.bookmark").count() == 1 and page.evaluate(f"() => {player}.paused")

    page.reload()
    page.wait_for_function(f"() => {player}.readyState >= 1")
    page.wait_for_selector("#timeline .marker.note")
    assert [page.locator(f"#timeline .marker.{kind}").count() for kind in ("camera", "bookmark", "note")] == [1, 1, 1]
    assert page.locator("#marks li").count() == 3
    assert "Kicks the bin" in (page.get_attribute("#timeline .marker.note", "title") or "")
    assert page.locator("#marks li .remove").count() == 2
    page.screenshot(path=str(artifacts / "player-marked.png"), full_page=True)
    back = _landing(page, lambda: page.click("#marks li.note a.at"))
    assert back == pytest.approx(stepped, abs=0.005)
    page.keyboard.press("?")
    assert page.is_visible("#shortcuts")
    assert not problems, problems

    context = browser.new_context(viewport=VIEWPORT)
    try:
        supervisor = context.new_page()
        _sign_in(supervisor, server.url, PERSONAS["supervisor"][0])
        _open_player(supervisor, server.url, item_id)
        supervisor.wait_for_selector("#marks li.note")
        assert supervisor.locator("#marks li").count() == 3 and supervisor.locator("#marks li .remove").count() == 0
    finally:
        context.close()
