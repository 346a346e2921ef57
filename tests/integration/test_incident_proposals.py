"""Incidents seen by several cameras, over a real server: which recordings are proposed, to whom, and the
multi-camera page's refusals. Items are made with hand-made GPS tracks (records only: no bytes needed)."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.accounts.roles import Permission
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build

# Norwich market place; 0.001 degrees of latitude is about 111 m.
LAT, LON = 52.6286, 1.2925
TEN_MINUTES = 600.0
Path = list[tuple[float, float, float]]  # (seconds from the start, dlat, dlon)


def standing(dlat: float = 0.0, dlon: float = 0.0, seconds: float = TEN_MINUTES) -> Path:
    """Standing in one place, a fix every 5 s."""
    return [(float(t), dlat, dlon) for t in range(0, int(seconds) + 1, 5)]


def walking(through_at_s: float, north: bool, seconds: float = TEN_MINUTES) -> Path:
    """Walking at 1.5 m/s, passing the market place `through_at_s` seconds in (north or east)."""
    path = []
    for t in range(0, int(seconds) + 1, 5):
        metres = 1.5 * (t - through_at_s)
        degrees = metres / 111_320
        path.append((float(t), degrees, 0.0) if north else (float(t), 0.0, degrees / 0.607))
    return path


@dataclass
class World:
    """One server, the force, and signed-in people; each test records its own scene on its own day."""

    server: LiveServer
    container: Container
    force: Force
    clients: dict[str, httpx.Client]

    def record(
        self,
        persona: str,
        start: datetime,
        path: Path | None,
        *,
        camera: str = "WBX00001",
        seconds: float = TEN_MINUTES,
    ) -> str:
        """A ready recording by `persona` with this GPS path (None: the camera had no GPS fix)."""
        officer = self.force.actor(persona)
        gps = (
            None
            if path is None
            else [{"t": t, "lat": LAT + dlat, "lon": LON + dlon} for t, dlat, dlon in path]
        )
        return ready_item(
            self.container, officer, start, seconds, camera=camera, filename=f"{camera}.MP4", gps=gps
        )

    def proposed(self, persona: str, item_id: str) -> dict[str, Any]:
        """The API's answer to a persona."""
        response = self.clients[persona].get(f"/api/v1/items/{item_id}/incident")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def proposed_ids(self, persona: str, item_id: str) -> list[str]:
        """Just the ids proposed, in the order given."""
        return [item["id"] for item in self.proposed(persona, item_id)["items"]]


def _signed_in(url: str, persona: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/login", data={"username": PERSONAS[persona][0], "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server and force for the module (starting them takes seconds)."""
    folder = tmp_path_factory.mktemp("incidents")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=1)
        container = build(settings)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            force = make_force(container)
            personas = ("owner", "supervisor", "stranger", "investigator", "psd")
            clients = {persona: _signed_in(server.url, persona) for persona in personas}
            yield World(server, container, force, clients)
            for client in clients.values():
                client.close()
        finally:
            server.stop()
            container.close()


def day(n: int, minute: float = 0) -> datetime:
    """08:30 on the n-th day of the scenes, `minute` minutes later."""
    return datetime(2026, 11, n, 8, 30, tzinfo=UTC) + timedelta(minutes=minute)


def test_cameras_at_the_scene_are_proposed_and_chained_but_not_those_elsewhere_or_hidden(
    world: World,
) -> None:
    """GIVEN a scene: A at the market place; B 67 m away three minutes later; C 67 m beyond B; D at the
    same spot an hour later; E 2 km away; N with no GPS; G (another team's) beside A; H beside G only
    WHEN A's supervisor asks who else recorded A's incident
    THEN B (with its distance) and C (through B) are proposed, earliest first, and nothing else: never
    G, which the supervisor may not see, nor H, which only G joins; professional standards, who see
    everything, get G and H as well."""
    a = world.record("owner", day(1), standing(), camera="CAM-A")
    b = world.record("teammate", day(1, 3), standing(dlat=0.0006), camera="CAM-B")
    c = world.record("owner", day(1, 1), standing(dlat=0.0012), camera="CAM-C")
    world.record("owner", day(1, 60), standing(), camera="CAM-D")
    world.record("teammate", day(1), standing(dlat=0.018), camera="CAM-E")
    world.record("teammate", day(1), None, camera="CAM-N")
    g = world.record("stranger", day(1, 2), standing(dlon=-0.0004), camera="CAM-G")
    h = world.record("teammate", day(1, 2.5), standing(dlon=-0.0016), camera="CAM-H")

    answer = world.proposed("supervisor", a)
    assert [item["id"] for item in answer["items"]] == [c, b]
    proposed_c, proposed_b = answer["items"]
    assert proposed_b["camera"] == "CAM-B" and proposed_b["officer"] == "2087 Sam Patel"
    assert proposed_b["distance_m"] == pytest.approx(66.7, abs=0.5)
    assert proposed_c["distance_m"] is None  # 133 m from A: joined through B
    assert proposed_b["recorded_start"].startswith("2026-11-01T08:33:00")
    assert proposed_b["recorded_end"].startswith("2026-11-01T08:43:00")
    assert answer["reason"] is None

    assert world.proposed_ids("supervisor", b) == [a, c]  # the same incident, asked from B
    assert world.proposed_ids("supervisor", h) == []  # only hidden G could join H to anyone
    world.container.evidence.authorise(
        a, Permission.ITEM_VIEW, actor=world.force.actor("psd"), reason="complaint about the stop"
    )
    assert world.proposed_ids("psd", a) == [c, g, h, b]


def test_tracks_that_cross_at_different_moments_are_not_one_incident(world: World) -> None:
    """GIVEN X walking east through the market place at 1 min, Y walking north through it at 8 min, and Z
    walking 20 m behind X WHEN the supervisor asks about X THEN only Z is proposed: Y crossed the same
    spot, but never near X at the same time."""
    x = world.record("owner", day(2), walking(60, north=False), camera="CAM-X")
    world.record("teammate", day(2), walking(480, north=True), camera="CAM-Y")
    z = world.record("teammate", day(2), walking(73, north=False), camera="CAM-Z")
    answer = world.proposed("supervisor", x)
    assert [item["id"] for item in answer["items"]] == [z]
    assert answer["items"][0]["distance_m"] == pytest.approx(3.0, abs=0.5)  # where X was 10-15 s before


def test_a_recording_without_gps_proposes_nothing_and_says_why(world: World) -> None:
    """GIVEN two cameras at the same time, one with no GPS fix WHEN the owner asks about the one without
    THEN nothing is proposed, and the answer says place cannot be compared."""
    blind = world.record("owner", day(3), None, camera="CAM-BLIND")
    world.record("owner", day(3), standing(), camera="CAM-SEEING")
    answer = world.proposed("owner", blind)
    assert answer["items"] == [] and "no GPS" in answer["reason"]


def test_only_people_who_may_open_the_item_are_answered(world: World) -> None:
    """GIVEN the owner's recording WHEN an officer of another team, an investigator with no reason yet, and
    anyone about an unknown id ask THEN not found, reason required, not found."""
    item = world.record("owner", day(4), standing())
    assert world.clients["stranger"].get(f"/api/v1/items/{item}/incident").status_code == 404
    refused = world.clients["investigator"].get(f"/api/v1/items/{item}/incident")
    assert refused.status_code == 403 and "why" in refused.json()["error"]
    assert world.clients["owner"].get("/api/v1/items/nope/incident").status_code == 404


def test_the_overlap_search_scans_the_start_time_index(world: World) -> None:
    """GIVEN the query that finds overlapping recordings WHEN SQLite plans it THEN it searches an index on
    the start time instead of reading every item (what keeps it fast with a million items)."""
    if world.container.db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL plans by table statistics")
    query = world.container.incidents.overlapping((day(5), day(5, 10)), "x", world.force.actor("supervisor"))
    compiled = query.compile(world.container.db.engine, compile_kwargs={"literal_binds": True})
    with world.container.db.read() as session:
        plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "USING INDEX" in plan and "recorded_start" in plan, plan
    assert "SCAN items" not in plan, plan


def test_the_multi_camera_page_refuses_clearly(world: World) -> None:
    """GIVEN two of the owner's recordings WHEN the owner asks to watch one, five, or the pair; an officer of
    another team the pair; an investigator the pair without a reason THEN a page saying two to four,
    the pair side by side (each opening audited), not found, and a page saying why with links."""
    first = world.record("owner", day(6), standing(), camera="CAM-1")
    second = world.record("owner", day(6, 1), standing(), camera="CAM-2")
    owner, html = world.clients["owner"], {"Accept": "text/html"}
    for ids in ([first], [first, first], [first, second, *[secrets.token_hex(4) for _ in range(3)]]):
        page = owner.get("/watch", params={"items": ids}, headers=html)
        assert page.status_code == 400 and "2 to 4 different recordings" in page.text
    page = owner.get("/watch", params={"items": [first, second]}, headers=html)
    assert page.status_code == 200
    assert page.text.count('class="watch-tile"') == 2 and "CAM-1" in page.text and "CAM-2" in page.text
    assert 'data-start="2026-11-06T08:31:00+00:00"' in page.text
    with world.container.db.read() as session:
        viewed = session.scalars(
            select(AuditEvent.subject_id).where(
                AuditEvent.tag == AuditTag.EVIDENCE_ITEM_VIEWED, AuditEvent.subject_id.in_([first, second])
            )
        )
        assert sorted(viewed) == sorted([first, second])
    refused = world.clients["stranger"].get("/watch", params={"items": [first, second]}, headers=html)
    assert refused.status_code == 404 and f'href="/items/{first}"' in refused.text
    asked = world.clients["investigator"].get("/watch", params={"items": [first, second]}, headers=html)
    assert asked.status_code == 403 and "why" in asked.text and f'href="/items/{second}"' in asked.text
