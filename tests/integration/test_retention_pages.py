"""The records manager's pages for legal holds and subject access requests, over a real server:
forms post with the session's CSRF token, refusals re-render with the reason, and what the pages do
is what the services see (HoldService says the item is held, the request names its recordings)."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import LiveServer
from tests.factories.people import make_force
from tests.factories.retention import RECORDS_PASSWORD, item_with_bytes, records_managers
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings


@pytest.fixture
def system(settings: Settings, live_server: LiveServer) -> Iterator[Container]:
    """The same database as the running server, seen from the test."""
    container = build(settings)
    yield container
    container.close()


def _csrf(client: httpx.Client) -> str:
    token = client.get("/api/v1/me").json()["csrf_token"]
    assert isinstance(token, str)
    return token


def _legal(system: Container, item_id: str) -> list[str]:
    return [h.description for h in system.holds.for_item(item_id) if h.kind == "legal"]


def test_a_hold_is_placed_listed_and_released_from_the_page(system: Container, live_server: LiveServer) -> None:
    """GIVEN a records manager and a recording WHEN they place a hold on it from the holds page
    THEN it is listed and the item is held; a hold on an unknown case re-renders with the reason;
    WHEN they release it with a reason THEN the list is empty and the item is no longer held."""
    force = make_force(system)
    records_managers(system, 1)
    item_id, _ = item_with_bytes(system, force.actor("owner"), datetime.now(UTC) - timedelta(days=1))
    with live_server.signed_in("8100", RECORDS_PASSWORD) as manager:
        assert 'href="/retention/holds"' in manager.get("/retention").text
        csrf = _csrf(manager)
        placed = manager.post("/retention/holds", data={
            "csrf_token": csrf, "item_id": item_id, "reason": "civil claim", "until": ""})
        assert placed.status_code == 303 and placed.headers["location"] == "/retention/holds?done=held"
        page = manager.get("/retention/holds").text
        assert item_id in page and "civil claim" in page and "Robin Ash 1" in page
        assert _legal(system, item_id) == ["legal hold by 8100 Robin Ash 1: civil claim"]

        refused = manager.post("/retention/holds", data={
            "csrf_token": csrf, "case_reference": "NO/SUCH", "reason": "x"})
        assert refused.status_code == 404 and "no case NO/SUCH" in refused.text
        both = manager.post("/retention/holds", data={
            "csrf_token": csrf, "item_id": item_id, "case_reference": "NO/SUCH", "reason": "x"})
        assert both.status_code == 400 and "hold one item or one case" in both.text

        hold_id = re.search(r'data-hold="([^"]+)"', page)
        assert hold_id is not None
        released = manager.post(f"/retention/holds/{hold_id.group(1)}/release",
                                data={"csrf_token": csrf, "reason": "claim settled"})
        assert released.status_code == 303
        assert "No legal holds are in force." in manager.get("/retention/holds").text
        assert _legal(system, item_id) == []


def test_a_case_hold_is_placed_by_its_reference(system: Container, live_server: LiveServer) -> None:
    """GIVEN a case WHEN a records manager places a hold by the case's reference THEN it lists that reference."""
    force = make_force(system)
    manager_actor = records_managers(system, 1)[0]
    system.cases.create("OP/HOLD1", "Operation Hold", actor=force.actor("investigator"))
    with live_server.signed_in("8100", RECORDS_PASSWORD) as manager:
        placed = manager.post("/retention/holds", data={
            "csrf_token": _csrf(manager), "case_reference": "OP/HOLD1", "reason": "appeal",
            "until": "2099-01-31"})
        assert placed.status_code == 303
        page = manager.get("/retention/holds").text
        assert "case OP/HOLD1" in page and "appeal" in page
    assert [h.until is not None for h in system.holds.active(actor=manager_actor)] == [True]


def test_a_request_is_recorded_listed_with_its_items_and_closed(system: Container, live_server: LiveServer) -> None:
    """GIVEN a recording made yesterday WHEN a records manager records a request for a window around it
    THEN the request is listed with that recording, which is held; a request naming neither incident nor
    window re-renders with the reason; WHEN they close it THEN it leaves the list and the hold ends."""
    force = make_force(system)
    records_managers(system, 1)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    item_id, _ = item_with_bytes(system, force.actor("owner"), start)
    with live_server.signed_in("8100", RECORDS_PASSWORD) as manager:
        assert 'href="/retention/subject-access"' in manager.get("/retention").text
        csrf = _csrf(manager)
        refused = manager.post("/retention/subject-access", data={
            "csrf_token": csrf, "reference": "SAR/1", "requester": "J Smith"})
        assert refused.status_code == 400 and "name an incident number or a time window" in refused.text
        zone = ZoneInfo(system.settings.time_zone)
        window = {"from_at": f"{(start - timedelta(hours=2)).astimezone(zone):%Y-%m-%dT%H:%M:%S}",
                  "to_at": f"{(start + timedelta(hours=2)).astimezone(zone):%Y-%m-%dT%H:%M:%S}"}
        recorded = manager.post("/retention/subject-access", data={
            "csrf_token": csrf, "reference": "SAR/1", "requester": "J Smith", "place": "High Street",
            **window})
        assert recorded.status_code == 303, recorded.text
        page = manager.get("/retention/subject-access").text
        assert "SAR/1" in page and "J Smith" in page and "High Street" in page and item_id in page
        assert any(h.kind == "subject_access" for h in system.holds.for_item(item_id))

        request_id = re.search(r'data-request="([^"]+)"', page)
        assert request_id is not None
        closed = manager.post(f"/retention/subject-access/{request_id.group(1)}/close", data={"csrf_token": csrf})
        assert closed.status_code == 303
        assert "No subject access requests are open." in manager.get("/retention/subject-access").text
        assert not any(h.kind == "subject_access" for h in system.holds.for_item(item_id))
