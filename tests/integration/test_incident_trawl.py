"""The incident trawl over a real server: other officers' cameras at a case's incident, found, marked and
added to the case with a reason. Items are records with hand-made GPS tracks (no bytes needed)."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.cases.models import CaseKind

LAT, LON = 52.6286, 1.2925  # Norwich market place; 0.001 degrees of latitude is about 111 m
TEN_MINUTES = 600


def standing(dlat: float = 0.0, dlon: float = 0.0) -> list[tuple[float, float, float]]:
    """Standing in one place for ten minutes, a fix every 5 s."""
    return [(float(t), dlat, dlon) for t in range(0, TEN_MINUTES + 1, 5)]


@dataclass
class World:
    """One server, the force, signed-in people; each test opens its own case on its own day."""

    server: LiveServer
    container: Container
    force: Force
    clients: dict[str, httpx.Client]

    def record(self, persona: str, start: datetime, path: list[tuple[float, float, float]] | None, camera: str) -> str:
        """A ready ten-minute recording by `persona` with this GPS path (None: no GPS)."""
        gps = None if path is None else [{"t": t, "lat": LAT + a, "lon": LON + b} for t, a, b in path]
        return ready_item(self.container, self.force.actor(persona), start, TEN_MINUTES, camera=camera, gps=gps)

    def case(self, reference: str, *item_ids: str) -> str:
        """An investigation opened by the investigator, worked by the disclosure officer, holding these items."""
        lead = self.force.actor("investigator")
        case = self.container.cases.create(reference, f"Trawl {reference}", actor=lead)
        self.container.cases.add_member(case.id, self.force.collar("case_member"), actor=lead)
        self.container.cases.add_items(case.id, list(item_ids), actor=lead, reason="the arrest on Gentleman's Walk")
        return case.id

    def trawl(self, case_id: str, persona: str = "case_member", **params: Any) -> dict[str, Any]:
        """The API's answer."""
        response = self.clients[persona].get(f"/api/v1/cases/{case_id}/trawl", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())


def _signed_in(url: str, persona: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/login", data={"username": PERSONAS[persona][0], "password": PASSWORD})
    assert response.status_code == 303, response.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cases").text)
    assert token
    client.headers["x-csrf-token"] = token.group(1)
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server and force for the module (starting them takes seconds)."""
    folder = tmp_path_factory.mktemp("trawl")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=1)
        container = build(settings)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            force = make_force(container)
            personas = ("case_member", "teammate", "investigator", "psd", "stranger")
            clients = {persona: _signed_in(server.url, persona) for persona in personas}
            yield World(server, container, force, clients)
            for client in clients.values():
                client.close()
        finally:
            server.stop()
            container.close()


def day(n: int, minute: float = 0) -> datetime:
    """23:30 on the n-th night of the scenes, `minute` minutes later."""
    return datetime(2026, 9, n, 23, 30, tzinfo=UTC) + timedelta(minutes=minute)


def _ids(found: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for f in found]


def test_the_trawl_finds_every_camera_at_the_incident_and_marks_each(world: World) -> None:
    """GIVEN a case holding A (the owner's camera at the market place) and, the same night: S the disclosure
    officer's own camera 33 m away, B a teammate's 67 m away, F 2 km away, L at the spot an hour later, N with
    no GPS running at the time, R 10 m away but in a complaint case
    WHEN the disclosure officer trawls with the defaults (the case's first GPS fix, the force's distance)
    THEN A (already in the case), S (they can see it) and B (a reason needed) are found nearest first; N is
    listed apart with no distance; F, L and R are not listed; professional standards also get R; the run is audited."""
    a = world.record("owner", day(1), standing(), "CAM-A")
    s = world.record("case_member", day(1, -1), standing(dlat=0.0003), "CAM-S")
    b = world.record("teammate", day(1, -2), standing(dlat=0.0006), "CAM-B")
    world.record("teammate", day(1), standing(dlat=0.018), "CAM-F")
    world.record("teammate", day(1, 60), standing(), "CAM-L")
    n = world.record("stranger", day(1, -5), None, "CAM-N")
    r = world.record("teammate", day(1), standing(dlon=0.00015), "CAM-R")
    psd = world.force.actor("psd")
    complaint = world.container.cases.create("PSD-9", "Complaint", actor=psd, kind=CaseKind.COMPLAINT)
    world.container.cases.add_items(complaint.id, [r], actor=psd, reason="complaint about the arrest")
    case_id = world.case("OP-TRAWL-1", a)

    answer = world.trawl(case_id)
    assert answer["incident"]["lat"] == pytest.approx(LAT) and answer["incident"]["at"].startswith("2026-09-01T23:30:00")
    assert answer["incident"]["distance_m"] == 100.0
    assert _ids(answer["near"]) == [a, s, b]
    assert [f["standing"] for f in answer["near"]] == ["in_case", "open", "needs_reason"]
    assert answer["near"][2]["closest_m"] == pytest.approx(66.8, abs=0.5) and answer["near"][2]["camera"] == "CAM-B"
    assert _ids(answer["no_place"]) == [n] and answer["no_place"][0]["closest_m"] is None
    assert r in _ids(world.trawl(case_id, "psd")["near"])
    with world.container.db.read() as session:
        runs = list(session.scalars(select(AuditEvent).where(AuditEvent.tag == AuditTag.CASE_TRAWL_RUN)))
    mine, theirs = runs[-2:]  # the disclosure officer's, then professional standards'
    assert mine.details["case"] == "OP-TRAWL-1" and mine.details["near"] == 3 and theirs.details["near"] == 4
    assert mine.actor_name == "5121 Ray Wood" and mine.details["distance_m"] == 100.0


def test_a_chosen_place_time_distance_and_window_are_used(world: World) -> None:
    """GIVEN two cameras 400 m and 2 km from a chosen spot, the nearer one from minute 20 WHEN trawled with
    a 500 m distance and a 5-minute window at minute 18, then at minute 25 THEN the nearer is found only
    the second time: it was not yet there."""
    case_id = world.case("OP-TRAWL-2", world.record("owner", day(2), None, "CAM-0"))
    near = world.record("teammate", day(2, 20), standing(dlat=0.0036), "CAM-400")
    world.record("teammate", day(2, 20), standing(dlat=0.018), "CAM-2K")
    chosen = {"lat": LAT, "lon": LON, "distance_m": 500, "window_s": 60}
    assert near not in _ids(world.trawl(case_id, **chosen, at=day(2, 18).isoformat())["near"])
    assert _ids(world.trawl(case_id, **chosen, at=day(2, 25).isoformat())["near"]) == [near]


def test_chosen_recordings_are_added_with_one_reason_and_then_on_the_schedule(world: World) -> None:
    """GIVEN a trawl that found a teammate's camera (reason needed) and one without GPS WHEN the disclosure
    officer adds both without a reason, then with one THEN first 403 and nothing added; then both are in the
    case, the trawl marks them so, and the case's schedule lists them undecided."""
    a = world.record("owner", day(3), standing(), "CAM-A3")
    b = world.record("teammate", day(3), standing(dlat=0.0005), "CAM-B3")
    n = world.record("teammate", day(3), None, "CAM-N3")
    case_id = world.case("OP-TRAWL-3", a)
    client = world.clients["case_member"]
    refused = client.post(f"/api/v1/cases/{case_id}/items", json={"item_ids": [b, n]})
    assert refused.status_code == 403 and "why" in refused.json()["error"]
    assert _ids(world.trawl(case_id)["near"]) == [a, b] and world.trawl(case_id)["near"][1]["standing"] == "needs_reason"
    added = client.post(f"/api/v1/cases/{case_id}/items",
                        json={"item_ids": [b, n], "reason": "other officers' footage of the arrest"})
    assert added.status_code == 204, added.text
    after = world.trawl(case_id)
    assert {f["standing"] for f in after["near"] + after["no_place"]} == {"in_case"}
    schedule = client.get(f"/api/v1/cases/{case_id}/schedule").json()
    assert {e["item_id"]: e["status"] for e in schedule["entries"]} == {a: "undecided", b: "undecided", n: "undecided"}


def test_the_page_prefills_runs_and_adds_through_the_reason_form(world: World) -> None:
    """GIVEN a case with a GPS track WHEN the disclosure officer opens the trawl page, runs it, and adds the
    found camera with a reason THEN the form is pre-filled from the case (local time), the results list the
    camera with a checkbox, and adding goes back to the case, which now holds it."""
    a = world.record("owner", day(4), standing(), "CAM-A4")
    b = world.record("teammate", day(4, 1), standing(dlat=0.0002), "CAM-B4")
    case_id = world.case("OP-TRAWL-4", a)
    client = world.clients["case_member"]
    page = client.get(f"/cases/{case_id}/trawl")
    assert page.status_code == 200 and f'value="{LAT}"' in page.text and 'value="2026-09-05T00:30:00"' in page.text
    assert "trawl-results" not in page.text
    run = client.get(f"/cases/{case_id}/trawl", params={"run": "1", "lat": str(LAT), "lon": str(LON),
                                                        "at": "2026-09-05T00:31:00", "distance_m": "100", "window_min": "2"})
    assert run.status_code == 200 and f'name="item_ids" value="{b}"' in run.text
    assert f'name="item_ids" value="{a}"' not in run.text and "Already in the case" in run.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', run.text)
    assert token
    added = client.post("/cases/add-items", data={"csrf_token": token.group(1), "case_id": case_id, "item_ids": b,
                                                  "reason": "other officers' footage of the arrest"}, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == f"/cases/{case_id}?done=items"
    assert b in [item["id"] for item in client.get(f"/api/v1/cases/{case_id}/items").json()]


def test_who_may_trawl_and_a_case_without_gps(world: World) -> None:
    """GIVEN a case whose only recording has no GPS WHEN trawled without a place, by the disclosure officer, an
    officer member, and an outsider THEN 409 saying to give the place (the page still shows the empty form),
    403 for an officer (they add nothing to cases), 404 for an investigator outside a complaint case."""
    case_id = world.case("OP-TRAWL-5", world.record("owner", day(5), None, "CAM-0"))
    client = world.clients["case_member"]
    response = client.get(f"/api/v1/cases/{case_id}/trawl")
    assert response.status_code == 409 and "place" in response.json()["error"]
    page = client.get(f"/cases/{case_id}/trawl")
    assert page.status_code == 200 and "no recording of this case has a GPS track" in page.text
    world.container.cases.add_member(case_id, world.force.collar("teammate"), actor=world.force.actor("investigator"))
    at = {"lat": LAT, "lon": LON, "at": day(5).isoformat()}
    assert world.clients["teammate"].get(f"/api/v1/cases/{case_id}/trawl", params=at).status_code == 403
    psd = world.force.actor("psd")
    complaint = world.container.cases.create("PSD-10", "Complaint", actor=psd, kind=CaseKind.COMPLAINT)
    assert world.clients["investigator"].get(f"/api/v1/cases/{complaint.id}/trawl", params=at).status_code == 404
    assert world.clients["psd"].get(f"/api/v1/cases/{complaint.id}/trawl", params=at).status_code == 200


def test_the_suggested_place_never_comes_from_footage_hidden_from_you(world: World) -> None:
    """GIVEN a case whose earliest recording with GPS is then restricted by a complaint case WHEN the
    disclosure officer opens the trawl THEN the place and time come from the next recording they may see;
    professional standards get the restricted one's."""
    hidden = world.record("owner", day(6), standing(dlat=0.01), "CAM-H6")
    seen = world.record("teammate", day(6, 3), standing(), "CAM-S6")
    case_id = world.case("OP-TRAWL-6", hidden, seen)
    psd = world.force.actor("psd")
    complaint = world.container.cases.create("PSD-11", "Complaint", actor=psd, kind=CaseKind.COMPLAINT)
    world.container.cases.add_items(complaint.id, [hidden], actor=psd, reason="complaint about the stop")
    mine = world.trawl(case_id)["incident"]
    assert mine["lat"] == pytest.approx(LAT) and mine["at"].startswith("2026-09-06T23:33:00")
    assert world.trawl(case_id, "psd")["incident"]["lat"] == pytest.approx(LAT + 0.01)
