"""A disclosure officer in the browser: decides a schedule entry and exports the CSV, then trawls for other
cameras at the incident and adds the one found to the case with a reason."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import browser_missing
from tests.conftest import LiveServer
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build

if TYPE_CHECKING:
    from playwright.sync_api import Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)

START = datetime(2026, 8, 14, 21, 5, tzinfo=UTC)
LAT, LON = 52.6286, 1.2925


def _scene(server: LiveServer) -> tuple[str, str, str]:
    """A case (worked by the disclosure officer) holding the owner's recording; a teammate's camera 45 m away."""
    container = build(server.settings)
    try:
        force = make_force(container)
        track = [{"t": float(t), "lat": LAT, "lon": LON} for t in range(0, 301, 5)]
        nearby = [{"t": p["t"], "lat": LAT + 0.0004, "lon": LON} for p in track]
        own = ready_item(container, force.actor("owner"), START, 300, camera="CAM-OWN", gps=track)
        other = ready_item(container, force.actor("teammate"), START, 300, camera="CAM-MATE", gps=nearby)
        lead = force.actor("investigator")
        case = container.cases.create("OP-NIGHTJAR", "Robbery on Elm Hill", actor=lead)
        container.cases.add_member(case.id, force.collar("case_member"), actor=lead)
        container.cases.add_items(case.id, [own], actor=lead, reason="the robbery on Elm Hill")
        return case.id, own, other
    finally:
        container.close()


def test_a_disclosure_officer_decides_exports_and_trawls(live_server: LiveServer, page: "Page", artifacts: Path) -> None:
    """GIVEN a case with one recording and a teammate's camera nearby that nobody added WHEN the disclosure
    officer decides the entry on the schedule page and exports the CSV, then runs the trawl from the case
    page and adds the camera found, giving a reason THEN the entry is saved with their name, the CSV holds
    it, and the case now holds both recordings; the schedule lists the new one, undecided."""
    case_id, own, other = _scene(live_server)
    base = live_server.url
    page.goto(f"{base}/login")
    page.fill("input[name=username]", PERSONAS["case_member"][0])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/cases/{case_id}")
    page.click("#case-schedules")
    page.wait_for_url(f"{base}/cases/{case_id}/schedule")
    row = page.locator(f"#entry-{own}")
    row.locator("select[name=decision]").select_option("do_not_disclose")
    row.locator("textarea[name=reasons]").fill("Shows the street after the suspect left")
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/cases/{case_id}/schedule?done=saved#entry-{own}")
    assert "Entry saved" in page.locator(".notice").inner_text()
    assert PERSONAS["case_member"][1] in page.locator(f"#entry-{own}").inner_text()
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert [(r["item_id"], r["decision"]) for r in rows] == [(own, "do_not_disclose")]
    page.screenshot(path=str(artifacts / "schedule.png"), full_page=True)

    page.goto(f"{base}/cases/{case_id}")
    page.click("#case-trawl")
    page.wait_for_url(f"{base}/cases/{case_id}/trawl")
    page.click("#trawl-form button[type=submit]")
    page.wait_for_selector("#trawl-results")
    page.check(f"input[name=item_ids][value='{other}']")
    page.fill("#trawl-results textarea[name=reason]", "other officers' footage of the robbery")
    page.screenshot(path=str(artifacts / "trawl.png"), full_page=True)
    page.click("#trawl-add")
    page.wait_for_url(f"{base}/cases/{case_id}?done=items")
    assert page.locator(f".case-items tr[data-item='{other}']").count() == 1
    page.goto(f"{base}/cases/{case_id}/schedule")
    assert "undecided" in page.locator(f"#entry-{other}").inner_text()
