"""Local time over a real server: pages show the force's zone with its offset, the API stays in UTC."""

from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import LiveServer
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, make_force
from witnessbox.bootstrap import build

SUMMER_EVENING = datetime(2026, 7, 6, 22, 30, 5, tzinfo=UTC)  # 23:30:05 in London, the same day
WINTER_MORNING = datetime(2026, 12, 6, 9, 0, 0, tzinfo=UTC)


def _owner_items(server: LiveServer) -> list[str]:
    container = build(server.settings)
    try:
        force = make_force(container)
        owner = force.actor("owner")
        return [ready_item(container, owner, moment, 60) for moment in (SUMMER_EVENING, WINTER_MORNING)]
    finally:
        container.close()


def _pages(server: LiveServer, *paths: str) -> list[str]:
    with httpx.Client(base_url=server.url, timeout=30, headers={"Accept": "text/html"}) as client:
        assert client.post("/login", data={"username": "1142", "password": PASSWORD}).status_code == 303
        answers = [client.get(path) for path in paths]
    assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
    return [a.text for a in answers]


def test_pages_show_london_time_with_the_offset_and_the_api_stays_utc(live_server: LiveServer) -> None:
    """GIVEN a summer and a winter recording WHEN the officer opens the library, the item pages and the API THEN pages say BST (UTC+01:00) and GMT (UTC+00:00) in London time, the body carries the zone for scripts, and the API gives the same moments in UTC."""
    summer, winter = _owner_items(live_server)
    library, summer_page, winter_page = _pages(live_server, "/", f"/items/{summer}", f"/items/{winter}")
    assert "06 Jul 2026 23:30:05 BST (UTC+01:00)" in library and "06 Dec 2026 09:00:00 GMT (UTC+00:00)" in library
    assert 'data-time-zone="Europe/London"' in library
    assert "06 Jul 2026 23:30:05 BST (UTC+01:00)" in summer_page
    assert "06 Dec 2026 09:00:00 GMT (UTC+00:00)" in winter_page
    with live_server.owner() as client:
        api = client.get(f"/api/v1/items/{summer}").json()
    assert api["recorded_start"] in ("2026-07-06T22:30:05Z", "2026-07-06T22:30:05+00:00")


def test_another_force_sets_its_own_zone(
        live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a force whose WITNESSBOX_TIME_ZONE is Asia/Kolkata WHEN the server restarts with it THEN pages show that zone's time, date and offset."""
    summer, _ = _owner_items(live_server)
    live_server.stop()
    monkeypatch.setenv("WITNESSBOX_TIME_ZONE", "Asia/Kolkata")
    live_server.start()
    [page] = _pages(live_server, f"/items/{summer}")
    assert "07 Jul 2026 04:00:05 IST (UTC+05:30)" in page
    assert 'data-time-zone="Asia/Kolkata"' in page
