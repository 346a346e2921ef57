"""Several cameras at one incident: the item page proposes the others, and they play together on one clock."""

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

CLIP_SECONDS = 6.0
# Three officers of one team arrive at the same doorway 0, 2 and 3 seconds apart.
CAMERAS = (("WBX00001", "owner", 0), ("WBX00002", "teammate", 2), ("WBX00003", "teammate", 3))
DOORWAY = (52.6286, 1.2925)
SUPERVISOR = PERSONAS["supervisor"][0]  # sees the whole team's recordings
DRIFT_ALLOWED_S = 0.25


def _dock_the_scene(server: LiveServer, folder: Path) -> list[str]:
    """Issue the cameras, record the scene with GPS beside the doorway, dock it; the ids by start time."""
    container = build(server.settings)
    try:
        make_force(container, camera=None)
        for serial, persona, _offset in CAMERAS:
            container.devices.register_camera(serial, actor=SYSTEM)
            container.devices.assign(
                serial, PERSONAS[persona][0], actor=SYSTEM, starts_at=STARTED - timedelta(days=1)
            )
        _dock, token = container.devices.register_dock("browser-test", cameras=[c[0] for c in CAMERAS], actor=SYSTEM)
    finally:
        container.close()
    for index, (serial, _persona, offset) in enumerate(CAMERAS):
        mp4 = tiny_recording(
            folder / "cameras" / serial,
            serial=serial,
            seconds=CLIP_SECONDS,
            started_at=STARTED + timedelta(seconds=offset),
        )
        _place_beside_the_doorway(mp4.with_suffix(".json"), metres_away=10.0 * index)
    agent = DockAgent(server.url, token, state_dir=folder / "state")
    outcomes = agent.upload_all(find_recordings([folder / "cameras"]))
    assert [o.ok for o in outcomes] == [True] * len(CAMERAS), [o.message for o in outcomes]
    return _wait_until_ready(server)


def _place_beside_the_doorway(sidecar: Path, metres_away: float) -> None:
    """Replace the camera's simulated GPS track with fixes a few metres from the doorway."""
    document = json.loads(sidecar.read_text())
    lat = DOORWAY[0] + metres_away / 111_320
    document["gps"] = [
        {"t": float(t), "lat": lat, "lon": DOORWAY[1]} for t in range(0, int(CLIP_SECONDS) + 1, 2)
    ]
    sidecar.write_text(json.dumps(document))


def _wait_until_ready(server: LiveServer, timeout_s: float = 90) -> list[str]:
    deadline = time.monotonic() + timeout_s
    with server.signed_in(SUPERVISOR, PASSWORD) as supervisor:
        while time.monotonic() < deadline:
            items = supervisor.get("/api/v1/items").json()
            if len(items) == len(CAMERAS) and all(i["state"] != "processing" for i in items):
                assert all(i["state"] == "ready" for i in items), items
                return [i["id"] for i in sorted(items, key=lambda i: str(i["recorded_start"]))]
            time.sleep(0.25)
    raise AssertionError("the docked clips did not become ready")


def _sign_in(page: "Page", base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", SUPERVISOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _positions(page: "Page") -> dict[str, Any]:
    """The shared clock and, at the same instant, each video's position and the clock's position for it."""
    found: dict[str, Any] = page.evaluate("""() => {
        const view = document.getElementById('watch');
        const clock = Number(view.dataset.clock);
        const tiles = [...view.querySelectorAll('.watch-tile')].map((tile) => {
          const video = tile.querySelector('video');
          return {phase: tile.dataset.phase, at: video.currentTime, paused: video.paused, muted: video.muted,
                  wanted: clock - Date.parse(tile.dataset.start) / 1000};
        });
        return {clock, running: view.dataset.running === 'true', tiles,
                shown: document.getElementById('watch-clock').textContent};
      }""")
    return found


def _seek_timeline(page: "Page", seconds: float) -> None:
    """Drag the master timeline to `seconds` after the first recording started."""
    page.eval_on_selector(
        "#watch-timeline",
        """(range, value) => {
        range.value = String(value);
        range.dispatchEvent(new Event('input', {bubbles: true}));
        range.dispatchEvent(new Event('change', {bubbles: true}));
      }""",
        seconds,
    )


def _assert_in_step(page: "Page") -> None:
    for tile in _positions(page)["tiles"]:
        if tile["phase"] == "live":
            assert tile["at"] == pytest.approx(tile["wanted"], abs=DRIFT_ALLOWED_S), tile


def test_cameras_of_one_incident_play_together_on_one_clock(
    live_server: LiveServer, tmp_path: Path, page: "Page", artifacts: Path
) -> None:
    """GIVEN three officers' clips of one doorway, docked 0, 2 and 3 seconds apart WHEN their supervisor
    opens the first, sees the other two proposed, clicks "Watch together", plays, and seeks the master
    timeline THEN the multi-camera view shows three videos that all advance on one UTC clock and stay
    within a quarter second of it; a camera not yet recording or finished says so; pause stops them all;
    and sound comes from one camera at a time."""
    first, second, third = _dock_the_scene(live_server, tmp_path)
    _sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/items/{first}")
    proposed = page.locator("#incident-items li")
    proposed.nth(1).wait_for()
    assert proposed.count() == 2
    assert "WBX00002" in proposed.nth(0).inner_text() and "within 10 m" in proposed.nth(0).inner_text()
    page.locator("#incident").screenshot(path=str(artifacts / "seen-by-other-cameras.png"))

    page.click("#watch-together")
    page.wait_for_url(f"{live_server.url}/watch?items={first}&items={second}&items={third}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#watch video')].every((v) => v.readyState >= 2)"
    )
    start = _positions(page)
    assert start["shown"] == "08:30:00" and start["tiles"][2]["phase"] == "before"
    assert "Not yet recording" in page.locator(".watch-tile").nth(2).inner_text()

    page.click("#watch-play")
    page.wait_for_function(
        f"() => Number(document.getElementById('watch').dataset.clock) > {STARTED.timestamp() + 3.6}"
    )
    playing = _positions(page)
    assert [t["phase"] for t in playing["tiles"]] == ["live", "live", "live"] and playing["running"]
    assert all(not t["paused"] for t in playing["tiles"])
    _assert_in_step(page)

    _seek_timeline(page, 1.0)
    page.wait_for_timeout(300)
    assert _positions(page)["tiles"][1]["phase"] == "before"
    _seek_timeline(page, 3.5)
    page.wait_for_timeout(250)
    before = _positions(page)
    page.wait_for_timeout(1000)
    after = _positions(page)
    assert after["clock"] - before["clock"] == pytest.approx(1.0, abs=0.3)
    for was, now in zip(before["tiles"], after["tiles"], strict=True):
        assert now["phase"] == "live" and now["at"] - was["at"] == pytest.approx(1.0, abs=0.3)
    _assert_in_step(page)
    assert after["shown"] == "08:30:04"
    assert [t["muted"] for t in after["tiles"]] == [False, True, True]  # the first camera's sound only
    page.screenshot(path=str(artifacts / "multi-camera-view.png"))

    page.locator(".watch-solo").nth(2).click()
    page.wait_for_function(
        "() => Number(document.getElementById('watch').dataset.clock) > "
        f"{STARTED.timestamp() + CLIP_SECONDS + 0.3}"
    )
    ended = _positions(page)
    assert (
        ended["tiles"][0]["phase"] == "after"
        and "Ended 08:30:06" in page.locator(".watch-tile").first.inner_text()
    )
    assert [t["muted"] for t in ended["tiles"]] == [True, True, False]
    page.click("#watch-play")
    page.wait_for_timeout(200)
    paused = _positions(page)
    assert not paused["running"] and all(t["paused"] for t in paused["tiles"])
    _assert_in_step(page)

    page.set_viewport_size({"width": 800, "height": 1180})  # a tablet held upright: two cameras a row
    boxes = [page.locator(".watch-tile").nth(i).bounding_box() or {} for i in range(3)]
    assert boxes[0]["y"] == boxes[1]["y"] < boxes[2]["y"] and boxes[0]["x"] == boxes[2]["x"] < boxes[1]["x"]
    page.screenshot(path=str(artifacts / "multi-camera-view-tablet.png"), full_page=True)
