"""The retention review in the browser: two records managers approve an evidential recording's
deletion from the review queue, the sweep moves it to the recycle window, and two approvals of
recovery bring it back."""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import VIEWPORT, browser_missing
from tests.conftest import LiveServer
from tests.factories.items import ready_item
from tests.factories.people import make_force
from tests.factories.retention import RECORDS_PASSWORD, records_managers
from witnessbox.bootstrap import build
from witnessbox.core.clock import FixedClock
from witnessbox.evidence.categorise import Categorisation
from witnessbox.retention.models import ClockStart
from witnessbox.retention.schedule import RuleSpec

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

if (missing := browser_missing()) is not None:
    pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)


def _signed_in(browser: "Browser", base: str, collar: str) -> "Page":
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", collar)
    page.fill("input[name=password]", RECORDS_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/**")
    return page


def _sweep_at(live_server: LiveServer, clock: FixedClock, days: float) -> None:
    """Run the sweep as the worker would, `days` from now (the server keeps the real time)."""
    clock.current = datetime.now(UTC) + timedelta(days=days)
    container = build(live_server.settings, clock=clock)
    try:
        container.retention.sweep()
    finally:
        container.close()


def test_dual_control_deletion_and_recovery_from_the_recycle_window(
    live_server: LiveServer, browser: "Browser", page: "Page"
) -> None:
    """GIVEN an evidential theft recording warned for deletion (theft kept one day, to make it due)
    WHEN two records managers approve it in the queue, the sweep recycles it, and both approve recovery
    THEN the queue shows each approval, then the recycled row, and finally nothing left to review."""
    clock = FixedClock(datetime.now(UTC))
    container = build(live_server.settings, clock=clock)
    try:
        force = make_force(container)
        first, second = records_managers(container)
        owner = force.actor("owner")
        item_id = ready_item(container, owner, clock.now(), 20.0, filename="theft.mp4")
        container.categorise.categorise([item_id], Categorisation(evidential=True, category="Theft"), actor=owner)
        container.retention_schedule.change(
            RuleSpec("evidential:Theft", 1, ClockStart.CATEGORISATION, "browser test"), actor=first)
    finally:
        container.close()
    _sweep_at(live_server, clock, 2)

    row = f"tr[data-item='{item_id}']"
    one, two = (_signed_in(browser, live_server.url, collar) for collar in ("8100", "8101"))
    for reviewer, names in ((one, first.name), (two, f"{first.name}, {second.name}")):
        reviewer.goto(f"{live_server.url}/retention")
        reviewer.click(f"{row} button[name=approve]")
        reviewer.wait_for_url("**/retention?done=approved")
        assert reviewer.inner_text(f"{row} .approvals") == names
    one.goto(f"{live_server.url}/retention")  # the same person twice is refused on the page
    one.click(f"{row} button[name=approve]")
    assert "already approved" in one.inner_text("[role=alert]")

    _sweep_at(live_server, clock, 17)  # warned a full fortnight, approved: into the recycle window
    for reviewer in (one, two):
        reviewer.goto(f"{live_server.url}/retention")
        assert reviewer.get_attribute(row, "data-stage") == "recycled"
        reviewer.fill(f"{row} input[name=reason]", "the suspect was charged after all")
        reviewer.click(f"{row} button[name=recover]")
        reviewer.wait_for_url("**/retention?done=recovered")
    assert two.locator(row).count() == 0
    assert "Nothing is due for review" in two.inner_text("main")
    page.goto(f"{live_server.url}/login")
