"""Search: every filter alone and together, full text, place, the policy, keyset paging, saved searches, API.

One small force and a dozen recordings made through the real services are shared by the
module; the same expectations hold on SQLite (FTS5) and PostgreSQL (tsvector).
"""

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from tests.conftest import ADMIN_PASSWORD, REDIS_URL, LiveServer, free_port, fresh_database_url
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container, build
from witnessbox.cases.models import CaseKind
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.errors import Forbidden, InvalidInput, NotFound
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import AnnotationKind, ItemPlace
from witnessbox.evidence.search import Filters, Sort, cell_of
from witnessbox.evidence.service import ItemDraft

EXETER = (50.7236, -3.5275)
PLYMOUTH = (50.3755, -4.1427)
TOWN = ("P1", "P2", "P3", "P4", "P5")  # the owner's patrols of the town centre, for paging


@dataclass
class World:
    """The module's force, recordings (by short name) and case."""

    container: Container
    force: Force
    settings: Settings
    ids: dict[str, str] = field(default_factory=dict)
    case_id: str = ""

    def names(self, items: list[Any]) -> list[str]:
        """Short names of found items, in order."""
        return self.named([item.id for item in items])

    def named(self, item_ids: list[str]) -> list[str]:
        """Short names of item ids, in order."""
        by_id = {item_id: name for name, item_id in self.ids.items()}
        return [by_id[item_id] for item_id in item_ids]

    def find(self, persona: str, limit: int = 200, **query: str) -> list[str]:
        """Short names of everything a persona finds (one big page)."""
        page = self.container.search.search(self.force.actor(persona), Filters.from_query(query), limit=limit)
        return self.names(page.items)


def _track(lat: float, lon: float, *steps: float) -> list[dict[str, float]]:
    """A few GPS points walking north from a point, `steps` in degrees of latitude."""
    return [{"t": n, "lat": lat + step, "lon": lon} for n, step in enumerate((0.0, *steps))]


def _record(
    world: World,
    name: str,
    persona: str,
    at: datetime,
    *,
    camera: str = "WBX00001",
    duration_s: float = 30,
    gps: list[Any] | None = None,
    bookmarks: list[Any] | None = None,
    change: Categorisation | None = None,
) -> None:
    """A recording as the upload path creates it, probed, then categorised by its officer."""
    actor = world.force.actor(persona)
    [team] = actor.teams
    draft = ItemDraft(
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size=1000,
        filename=f"{name}.mp4",
        camera_id=None,
        camera_serial=camera,
        dock_id=None,
        officer_id=actor.id,
        officer=actor.name,
        team_id=team,
        recorded_start=at,
        upload_started_at=at,
        gps_track=gps,
        bookmarks=bookmarks,
    )
    container = world.container
    with container.db.transaction() as uow:
        item_id = container.evidence.create_item(uow.session, draft, actor=SYSTEM).id
    container.evidence.record_media_facts(item_id, {"duration_s": duration_s}, actor=SYSTEM)
    if change is not None:
        container.categorise.categorise([item_id], change, actor=actor)
    world.ids[name] = item_id


def _seed(world: World) -> None:
    day = lambda d, h, m=0: datetime(2026, 1, d, h, m, tzinfo=UTC)  # noqa: E731
    _record(
        world,
        "A",
        "owner",
        day(10, 8),
        duration_s=120,
        gps=_track(*EXETER, 0.0001, 0.001),
        bookmarks=[{"t": 5, "label": "Suspect punches victim"}],
        change=Categorisation(
            evidential=True,
            category="Violence against the person",
            incident_number="26/101",
            crime_reference="DV/10101/26",
            title="Fight outside the Walkabout",
        ),
    )
    _record(world, "B", "owner", day(11, 22), change=Categorisation(evidential=False, title="Routine patrol"))
    _record(
        world,
        "C",
        "teammate",
        day(12, 3),
        camera="WBX00002",
        duration_s=600,
        gps=_track(*PLYMOUTH),
        bookmarks=[{"t": 12, "label": "Knife found in hedge"}],
    )
    _record(
        world,
        "D",
        "stranger",
        day(13, 12),
        camera="WBX00003",
        duration_s=300,
        gps=_track(EXETER[0] + 0.0027, EXETER[1]),
        change=Categorisation(
            evidential=True,
            category="Domestic abuse",
            incident_number="26/202",
            notes="Neighbour dispute on Elm Road",
        ),
    )
    _record(
        world,
        "R",
        "stranger",
        day(14, 9),
        camera="WBX00003",
        duration_s=60,
        change=Categorisation(title="Complaint about officer conduct"),
    )
    for n, name in enumerate(TOWN):  # P3 and P4 start at the same second: the id breaks the tie
        _record(
            world,
            name,
            "owner",
            day(15, 10, min(n, 3)),
            duration_s=10,
            change=Categorisation(evidential=False, title="Patrol of the town centre"),
        )
    psd, investigator = world.force.actor("psd"), world.force.actor("investigator")
    complaint = world.container.cases.create("PSD-1", "Conduct", actor=psd, kind=CaseKind.COMPLAINT)
    world.container.cases.add_items(complaint.id, [world.ids["R"]], actor=psd, reason="complaint received about the arrest")
    case = world.container.cases.create("OP-KNIFE", "Knife crime", actor=investigator)
    world.container.cases.add_member(case.id, PERSONAS["case_member"][0], actor=investigator)
    world.container.cases.add_items(case.id, [world.ids["C"]], actor=investigator, reason="knife enquiry on Elm Road")
    world.case_id = case.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("search")
    with fresh_database_url(folder) as url:
        settings = Settings(
            data_dir=folder / "data",
            database_url=url,
            queue_url=REDIS_URL,
            queue_name=f"wbx-test-{secrets.token_hex(4)}",
            admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
            workers=1,
        )
        container = build(settings)
        built = World(container, make_force(container), settings)
        _seed(built)
        yield built
        container.close()


ALL_SEEN = {"A", "B", "C", "D", *TOWN}  # everything but the restricted R: what an investigator may list
NEWEST_FIRST = ["P5", "P4", "P3", "P2", "P1", "D", "C", "B", "A"]  # P3/P4 tie: ids are time-ordered


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ALL_SEEN),
        ({"officer": "1142"}, {"A", "B", *TOWN}),
        ({"camera": "WBX00002"}, {"C"}),
        ({"from": "2026-01-12T00:00:00Z", "to": "2026-01-13T00:00:00Z"}, {"C"}),
        ({"from": "2026-01-12", "to": "2026-01-13"}, {"C", "D"}),  # a date alone for `to` takes in that day
        ({"category": "Domestic abuse"}, {"D"}),
        ({"evidential": "yes"}, {"A", "D"}),
        ({"evidential": "no"}, {"B", *TOWN}),
        ({"evidential": "uncategorised"}, {"C"}),
        ({"incident": "26/101"}, {"A"}),
        ({"crime": "DV/10101/26"}, {"A"}),
        ({"bookmarked": "1"}, {"A", "C"}),
        ({"min_duration": "300"}, {"C", "D"}),
        ({"max_duration": "30"}, {"B", *TOWN}),
        ({"near": f"{EXETER[0]},{EXETER[1]},200"}, {"A"}),  # D starts 300 m north
        ({"near": f"{EXETER[0]},{EXETER[1]},400"}, {"A", "D"}),
        ({"near": f"{EXETER[0] + 0.001},{EXETER[1]},5"}, {"A"}),  # A's last point, kept by the thinning
        ({"box": "50.3,-4.2,50.4,-4.1"}, {"C"}),
        ({"near": f"{EXETER[0]},{EXETER[1]},70000"}, {"A", "C", "D"}),  # too wide for the grid: lat/lon index
        ({"box": "50.0,-5.0,51.0,-3.0"}, {"A", "C", "D"}),
        ({"q": "walkabout"}, {"A"}),  # title
        ({"q": "punch"}, {"A"}),  # a camera bookmark's label, by prefix
        ({"q": "elm road"}, {"D"}),  # notes
        ({"q": "DV/10101/26"}, {"A"}),  # crime reference
        ({"q": "26/202"}, {"D"}),  # incident number
        ({"q": "violence"}, {"A"}),  # category
        ({"q": "knife HEDGE"}, {"C"}),
        ({"q": "patrol"}, {"B", *TOWN}),
        ({"q": "patrol", "sort": "relevance"}, {"B", *TOWN}),
        ({"q": "complaint"}, set()),  # restricted: professional standards only
        ({"q": "nothing-like-this"}, set()),
        ({"officer": "1142", "evidential": "no", "q": "town"}, set(TOWN)),
        ({"near": f"{EXETER[0]},{EXETER[1]},400", "evidential": "yes", "category": "Domestic abuse"}, {"D"}),
        ({"from": "2026-01-10", "to": "2026-01-12", "bookmarked": "1", "q": "victim"}, {"A"}),
        ({"officer": "1142", "camera": "WBX00002"}, set()),
    ],
)
def test_each_filter_alone_and_combined(world: World, query: dict[str, str], expected: set[str]) -> None:
    """GIVEN a dozen recordings WHEN an investigator searches with a filter (or several) THEN exactly the matching ones come back."""
    assert set(world.find("investigator", **query)) == expected


def test_team_and_case_filters(world: World) -> None:
    """GIVEN two teams and a case holding C WHEN filtered by team or case THEN only their recordings; only the
    case's members and professional standards may search by case."""
    [team] = world.force.actor("owner").teams
    assert set(world.find("investigator", team=team)) == {"A", "B", "C", *TOWN}
    assert world.find("investigator", case=world.case_id) == ["C"]
    assert world.find("case_member", case=world.case_id) == ["C"]
    # Not on the case: the filter is refused rather than telling which of C's neighbours are in it.
    with pytest.raises(NotFound):
        world.container.search.search(world.force.actor("owner"), Filters(case_id=world.case_id))
    assert world.find("psd", case=world.case_id) == ["C"]


def test_recorded_order_is_newest_first_with_id_breaking_ties(world: World) -> None:
    """GIVEN recordings at different times (two at the same second) WHEN sorted by time THEN newest first, ties by id."""
    assert world.find("investigator") == NEWEST_FIRST
    assert world.ids["P4"] > world.ids["P3"]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("owner", {"A", "B", *TOWN}),  # own recordings only
        ("teammate", {"C"}),
        ("supervisor", {"A", "B", "C", *TOWN}),  # the supervised team's
        ("stranger", {"D"}),  # not R: restricted by the complaint case
        ("other_supervisor", {"D"}),
        ("case_member", ALL_SEEN),  # a disclosure officer: any unrestricted recording, as investigators (decision 0022)
        ("investigator", ALL_SEEN),
        ("psd", ALL_SEEN | {"R"}),
        ("trainer", set()),
        ("auditor", set()),
        ("sysadmin", set()),
    ],
)
def test_nobody_finds_what_the_policy_hides(world: World, persona: str, expected: set[str]) -> None:
    """GIVEN the force WHEN each person searches everything, and by text THEN only what the policy lets them list."""
    assert set(world.find(persona)) == expected
    assert set(world.find(persona, q="complaint")) == expected & {"R"}
    assert set(world.find(persona, q="patrol", sort="relevance")) == expected & {"B", *TOWN}


@pytest.mark.parametrize(
    "query", [{}, {"q": "patrol", "sort": "relevance"}, {"q": "pat"}, {"evidential": "no"}]
)
def test_walking_pages_of_three_gives_every_match_once_in_order(world: World, query: dict[str, str]) -> None:
    """GIVEN a search WHEN walked three at a time with the cursor THEN every match exactly once, in the one-page order."""
    investigator, filters = world.force.actor("investigator"), Filters.from_query(query)
    whole = world.container.search.search(investigator, filters, limit=200)
    walked, after, pages = [], None, 0
    while True:
        page = world.container.search.search(investigator, filters, after=after, limit=3)
        walked += page.items
        pages += 1
        if page.next is None:
            break
        after = page.next
    assert world.names(walked) == world.names(whole.items)
    assert pages == max(1, -(-len(whole.items) // 3))
    assert whole.next is None


def test_relevance_puts_the_best_match_first(world: World) -> None:
    """GIVEN one title saying "patrol" once and others saying it among more words WHEN sorted by relevance THEN the best first."""
    found = world.find("investigator", q="routine patrol", sort="relevance")
    assert found == ["B"]
    assert world.find("investigator", q="patrol town", sort="relevance") == sorted(
        TOWN, key=lambda name: world.ids[name]
    )  # equal matches: by id


@pytest.mark.parametrize(
    ("after", "limit", "refusal", "says"),
    [
        # A cursor the search did not give points at no page: not found, as a well-formed id would be.
        ("garbage!", 50, NotFound, "after: not a cursor"),
        ("eyJzIjoicmVjb3JkZWQifQ", 50, NotFound, "after: not a cursor"),  # valid base64 JSON, wrong shape
        (None, 0, InvalidInput, "limit: between 1 and 200"),
        (None, 201, InvalidInput, "limit: between 1 and 200"),
    ],
)
def test_bad_cursor_or_limit_is_refused_clearly(
    world: World, after: str | None, limit: int, refusal: type[Exception], says: str
) -> None:
    """GIVEN a search WHEN the cursor is not one it gave, or the limit is out of range THEN the refusal says which."""
    with pytest.raises(refusal, match=says):
        world.container.search.search(world.force.actor("investigator"), Filters(), after=after, limit=limit)


def test_a_relevance_cursor_does_not_page_a_time_sorted_search(world: World) -> None:
    """GIVEN a cursor from a relevance search WHEN given to the same search sorted by time THEN it is refused."""
    investigator = world.force.actor("investigator")
    page = world.container.search.search(investigator, Filters(text="patrol", sort=Sort.RELEVANCE), limit=2)
    assert page.next is not None
    with pytest.raises(NotFound, match="after"):
        world.container.search.search(investigator, Filters(text="patrol"), after=page.next, limit=2)


def test_people_s_bookmarks_and_notes_are_found_and_counted(world: World) -> None:
    """GIVEN the owner's recording B WHEN someone adds a bookmark and a note THEN their words find it and it counts as bookmarked; removing forgets them."""
    owner = world.force.actor("owner")
    annotations = world.container.annotations
    mark = annotations.add(
        world.ids["B"], AnnotationKind.BOOKMARK, 3.5, "Driver gives false name", actor=owner
    )
    note = annotations.add(
        world.ids["B"], AnnotationKind.NOTE, 9.0, "Vehicle registration checked", actor=owner
    )
    try:
        assert world.find("owner", q="false name") == ["B"]
        assert world.find("owner", q="registration") == ["B"]
        assert set(world.find("owner", bookmarked="1")) == {"A", "B"}
        assert world.container.evidence.get(world.ids["B"]).bookmark_count == 1
    finally:
        annotations.remove(world.ids["B"], mark.id, actor=owner)
        annotations.remove(world.ids["B"], note.id, actor=owner)
    assert world.find("owner", q="registration") == []
    assert set(world.find("owner", bookmarked="1")) == {"A"}


def test_gps_tracks_are_thinned_into_places(world: World) -> None:
    """GIVEN A's track of three points, the second 11 m from the first WHEN indexed THEN the first and last are kept."""
    with world.container.db.read() as session:
        places = session.scalars(
            select(ItemPlace).where(ItemPlace.item_id == world.ids["A"]).order_by(ItemPlace.id)
        )
        kept = [(place.lat, place.lon, place.cell) for place in places]
    assert kept == [(*point, cell_of(*point)) for point in (EXETER, (EXETER[0] + 0.001, EXETER[1]))]


def test_a_search_near_a_place_reads_only_the_grid_squares_around_it(world: World) -> None:
    """GIVEN a search within 300 m of a point WHEN SQLite plans it THEN the places come from the grid's covering index."""
    if world.container.db.dialect != "sqlite":
        pytest.skip("reads SQLite's query plan")
    filters = Filters.from_query({"near": f"{EXETER[0]},{EXETER[1]},300"})
    query = world.container.search.statement(world.force.actor("investigator"), filters)
    compiled = query.compile(world.container.db.engine, compile_kwargs={"literal_binds": True})
    with world.container.db.read() as session:
        plan = " ".join(str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "COVERING INDEX ix_item_places_cell (cell=?" in plan, plan


def test_saved_searches_are_personal_replaced_by_name_and_audited(world: World) -> None:
    """GIVEN the owner WHEN saving two searches, one twice under the same name, then deleting one THEN the list follows, others cannot touch them, each change is audited."""
    container = world.container
    search = container.search
    with container.db.read() as session:
        before = session.scalar(select(func.max(AuditEvent.seq)))
    owner, teammate = world.force.actor("owner"), world.force.actor("teammate")
    search.save(owner, "Night shift", Filters.from_query({"q": "patrol", "from": "2026-01-11"}))
    first = search.save(owner, " Bookmarked ", Filters(bookmarked=True))
    replaced = search.save(
        owner, "Night shift", Filters.from_query({"q": "patrol town", "sort": "relevance"})
    )
    assert [(s.name, s.query) for s in search.saved(owner)] == [
        ("Bookmarked", "bookmarked=1"),
        ("Night shift", "q=patrol+town&sort=relevance"),
    ]
    assert search.saved(teammate) == []
    with pytest.raises(NotFound):
        search.delete_saved(teammate, first.id)
    search.delete_saved(owner, first.id)
    assert [s.id for s in search.saved(owner)] == [replaced.id]
    with pytest.raises(InvalidInput, match="name"):
        search.save(owner, "  ", Filters())
    with pytest.raises(Forbidden):
        search.save(SYSTEM, "system", Filters())
    search.search(owner, Filters(text="town"))
    with container.db.read() as session:
        tags = session.scalars(
            select(AuditEvent.tag).where(
                AuditEvent.actor_id == owner.id,
                AuditEvent.tag.like("evidence:search:%"),
                AuditEvent.seq > before,
            ).order_by(AuditEvent.seq)
        ).all()
    assert list(tags) == ["evidence:search:saved"] * 3 + ["evidence:search:deleted", "evidence:search:run"]


# --- through the API of a real server ---------------------------------------------------------


@pytest.fixture(scope="module")
def server(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    running = LiveServer(
        settings=world.settings, port=free_port(), log=tmp_path_factory.mktemp("search-server") / "server.log"
    )
    running.start()
    yield running
    running.stop()


@contextmanager
def _signed_in(server: LiveServer, persona: str) -> Iterator[tuple[httpx.Client, str]]:
    """A browser session of one persona, and its CSRF token for writes."""
    with server.signed_in(PERSONAS[persona][0], PASSWORD) as client:
        yield client, str(client.get("/api/v1/me").json()["csrf_token"])


def test_api_walks_pages_and_explains_bad_input(world: World, server: LiveServer) -> None:
    """GIVEN a signed-in investigator WHEN searching through the API three at a time THEN every match once; bad filters get a 400 naming the field."""
    with _signed_in(server, "investigator") as (client, _):
        walked: list[str] = []
        params: dict[str, str] = {"q": "patrol", "limit": "3"}
        while True:
            response = client.get("/api/v1/search", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            walked += [item["id"] for item in body["items"]]
            if body["next"] is None:
                break
            params["after"] = body["next"]
        assert walked == [world.ids[name] for name in ["P5", "P4", "P3", "P2", "P1", "B"]]
        assert body["items"][-1]["title"] == "Routine patrol"
        for bad, status, says in [
            ({"near": "50.7,-3.5"}, 400, "near: expected lat,lon,metres"),
            ({"from": "yesterday"}, 400, "from: not an ISO 8601 time"),
            ({"evidential": "maybe"}, 400, "evidential: expected yes, no or uncategorised"),
            ({"after": "garbage!"}, 422, "after"),  # not in the cursor's alphabet: the schema refuses it
            ({"after": "eyJzIjoicmVjb3JkZWQifQ"}, 404, "after: not a cursor"),  # a cursor it never gave
        ]:
            refused = client.get("/api/v1/search", params=bad)
            assert refused.status_code == status, refused.text
            assert says in refused.text


def test_api_token_sees_only_what_its_person_may(world: World, server: LiveServer) -> None:
    """GIVEN an API token of the owner's WHEN it searches everything THEN only the owner's recordings."""
    _, secret = world.container.tokens.issue_user_token("search script", actor=world.force.actor("owner"))
    response = httpx.get(
        f"{server.url}/api/v1/search", params={"limit": "200"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 200, response.text
    assert world.named([i["id"] for i in response.json()["items"]]) == [
        "P5",
        "P4",
        "P3",
        "P2",
        "P1",
        "B",
        "A",
    ]
    assert httpx.get(f"{server.url}/api/v1/search").status_code == 401


def test_api_saved_searches(world: World, server: LiveServer) -> None:
    """GIVEN a signed-in supervisor WHEN saving, listing, running and deleting a search THEN each answers as it should."""
    with _signed_in(server, "supervisor") as (client, csrf):
        headers = {"X-CSRF-Token": csrf}
        created = client.post(
            "/api/v1/searches",
            headers=headers,
            json={"name": "Knives", "query": "q=knife&evidential=uncategorised"},
        )
        assert created.status_code == 201, created.text
        saved = created.json()
        assert (saved["name"], saved["query"]) == ("Knives", "q=knife&evidential=uncategorised")
        assert [s["id"] for s in client.get("/api/v1/searches").json()] == [saved["id"]]
        found = client.get(f"/api/v1/search?{saved['query']}").json()["items"]
        assert [item["id"] for item in found] == [world.ids["C"]]
        bad = client.post("/api/v1/searches", headers=headers, json={"name": "Bad", "query": "box=1,2,3"})
        assert bad.status_code == 400
        assert "box: expected south,west,north,east" in bad.text
        assert client.delete(f"/api/v1/searches/{saved['id']}", headers=headers).status_code == 204
        assert client.delete(f"/api/v1/searches/{saved['id']}", headers=headers).status_code == 404
        assert client.get("/api/v1/searches").json() == []
