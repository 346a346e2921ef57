"""In Chromium: a phone clip turned on its side plays upright; a call recording plays with an audio player."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer
from tests.factories.ingest import upload_bytes
from tests.factories.media import HEIGHT, WIDTH, audio_recording, phone_clip
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

OWNER = PERSONAS["owner"][0]


def _ready_item(server: LiveServer, path: Path, make: Callable[[Path], Path]) -> str:
    """Upload a file through the ingest service and wait until the server's worker has processed it."""
    container = build(server.settings)
    try:
        if container.users.by_collar_number(OWNER) is None:
            make_force(container)
        # Playwright's loop runs in this thread; the in-process upload runs its own in another.
        with ThreadPoolExecutor(1) as other:
            item_id = other.submit(upload_bytes, container, make(path).read_bytes(), filename=path.name).result()
        deadline = time.monotonic() + 60
        while (item := container.evidence.get(item_id)).state == "processing":
            assert time.monotonic() < deadline, "not processed"
            time.sleep(0.25)
        assert item.state == "ready", item.state_reason
        return item_id
    finally:
        container.close()


def _open(page: "Page", server: LiveServer, item_id: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", OWNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    page.goto(f"{server.url}/items/{item_id}")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1")


def test_phone_clip_on_its_side_plays_upright(
        live_server: LiveServer, page: "Page", artifacts: Path, tmp_path: Path) -> None:
    """GIVEN a phone clip recorded landscape with a display matrix turning it 90°, whose proxy is transcoded
    WHEN its owner opens it in Chromium
    THEN the player shows it portrait (the browser honours the proxy's matrix)."""
    item_id = _ready_item(live_server, tmp_path / "phone.mov", partial(phone_clip, codec="mpeg4", gop=100))

    _open(page, live_server, item_id)

    size = page.evaluate("() => [document.querySelector('#player').videoWidth, "
                         "document.querySelector('#player').videoHeight]")
    assert size == [HEIGHT, WIDTH]
    page.screenshot(path=str(artifacts / "phone-upright.png"))


def test_call_recording_plays_with_an_audio_player(
        live_server: LiveServer, page: "Page", artifacts: Path, tmp_path: Path) -> None:
    """GIVEN a call recording (m4a, sound alone) processed by the server
    WHEN its owner opens it in Chromium and presses Play
    THEN the player is an <audio> element of the recording's length, and it plays."""
    item_id = _ready_item(live_server, tmp_path / "call.m4a", audio_recording)

    _open(page, live_server, item_id)

    assert page.evaluate("() => document.querySelector('#player').tagName") == "AUDIO"
    assert page.evaluate("() => document.querySelector('#player').duration") == pytest.approx(2.0, abs=0.2)
    page.evaluate("() => { document.querySelector('#player').muted = true; }")
    page.click("#play")
    page.wait_for_function("() => document.querySelector('#player').currentTime > 0.5")
    assert page.evaluate("() => document.querySelector('#player').error") is None
    page.screenshot(path=str(artifacts / "call-recording.png"))
