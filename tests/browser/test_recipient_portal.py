"""The browser path of sharing outside the force: a disclosure officer shares a case with a
prosecutor, the prosecutor signs in with the code and plays a video under their watermark, the
share is withdrawn, and the prosecutor's player stops."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import VIEWPORT, browser_missing
from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.ingest import upload_bytes
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.accounts.roles import Permission
from witnessbox.bootstrap import build
from witnessbox.evidence.models import ItemState

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

CLIP_SECONDS = 12.0  # long enough to be still playing when the share is withdrawn
DISCLOSURE_OFFICER = PERSONAS["case_member"][0]


@pytest.fixture(scope="module")
def shared_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, str]]:
    """A server with one processed recording in a case the disclosure officer works: (server, case, item)."""
    folder = tmp_path_factory.mktemp("portal-browser")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=2)
        container = build(settings)
        force = make_force(container)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            clip = tiny_recording(folder / "camera", seconds=CLIP_SECONDS)
            item_id = upload_bytes(container, clip.read_bytes())
            deadline = time.monotonic() + 90
            while container.evidence.get(item_id).state == ItemState.PROCESSING:
                assert time.monotonic() < deadline, "the recording was not processed"
                time.sleep(0.2)
            investigator = force.actor("investigator")
            case = container.cases.create("CR/30003/26", "Affray at the Crown", actor=investigator)
            container.cases.add_member(case.id, DISCLOSURE_OFFICER, actor=investigator)
            container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=investigator,
                                         reason="building the affray case file")
            container.cases.add_items(case.id, [item_id], actor=investigator)
            yield server, case.id, item_id
        finally:
            server.stop()
            container.close()


def _share_the_case(sharer: "Page", base: str, case_id: str) -> tuple[str, str]:
    """As the disclosure officer: sign in, open the case, share it with a prosecutor; (link, code)."""
    sharer.goto(f"{base}/login")
    sharer.fill("input[name=username]", DISCLOSURE_OFFICER)
    sharer.fill("input[name=password]", PASSWORD)
    sharer.click("button[type=submit]")
    sharer.wait_for_url(f"{base}/")
    sharer.goto(f"{base}/cases/{case_id}")
    sharer.click("#share-outside")
    sharer.fill("input[name=recipient_name]", "Priya Shah")
    sharer.fill("input[name=organisation]", "CPS Wessex")
    sharer.select_option("select[name=kind]", "prosecutor")
    sharer.fill("input[name=expires]", (datetime.now(UTC) + timedelta(days=7)).date().isoformat())
    sharer.click("#external-share-form button[type=submit]")
    return sharer.inner_text("#share-link").strip(), sharer.inner_text("#share-code").strip()


def _play(prosecutor: "Page", link: str, code: str) -> None:
    """As the prosecutor: open the link, give the code, open the recording and play it."""
    prosecutor.goto(link)
    prosecutor.fill("input[name=code]", code)
    prosecutor.click("#portal-sign-in button[type=submit]")
    prosecutor.wait_for_url("**/portal")
    prosecutor.click("#portal-items a")
    prosecutor.wait_for_function("() => document.querySelector('#portal-player').readyState >= 1")
    prosecutor.evaluate("() => { const v = document.querySelector('#portal-player'); v.muted = true; return v.play(); }")
    prosecutor.wait_for_function("() => document.querySelector('#portal-player').currentTime > 0.5")


def test_prosecutor_plays_a_shared_case_and_the_player_stops_on_revoke(
        shared_case: tuple[LiveServer, str, str], browser: "Browser", page: "Page", artifacts: Path) -> None:
    """GIVEN a case with a recording WHEN a disclosure officer shares it with a prosecutor, the prosecutor signs in with the code and plays the video, and the officer withdraws the share THEN the prosecutor saw their name and a running clock over the video, and their player is removed within seconds, with the reason, and the next range request is refused."""
    server, case_id, item_id = shared_case
    sharing = browser.new_context(viewport=VIEWPORT)
    sharer = sharing.new_page()
    sharer.set_default_timeout(15_000)
    try:
        link, code = _share_the_case(sharer, server.url, case_id)
        sharer.screenshot(path=str(artifacts / "shared.png"))

        _play(page, link, code)
        watermark = page.locator("#watermark")
        assert watermark.is_visible() and "Priya Shah, CPS Wessex" in watermark.inner_text()
        first = page.inner_text("#watermark-time")
        page.wait_for_function("(t) => document.querySelector('#watermark-time').textContent !== t", arg=first)
        page.screenshot(path=str(artifacts / "playing.png"))
        assert not page.evaluate("() => document.querySelector('#portal-player').paused")

        sharer.click("text=The share and its access report")
        assert "evidence:item:played" in sharer.inner_text("#access-report")
        sharer.click("#revoke")
        sharer.wait_for_selector("#share-state:has-text('withdrawn')")

        page.wait_for_selector("#portal-player", state="detached", timeout=10_000)
        assert "withdrawn" in page.inner_text("#portal-ended")
        page.screenshot(path=str(artifacts / "stopped.png"))
        status = page.evaluate("(url) => fetch(url, {headers: {Range: 'bytes=0-1023'}}).then(r => r.status)",
                               f"/portal/items/{item_id}/proxy")
        assert status == 410
    finally:
        sharing.close()
