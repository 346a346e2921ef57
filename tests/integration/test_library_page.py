"""The library page over a real server: filters in the form, clear errors, keyset paging, saved searches, access."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.bootstrap import Container, build
from witnessbox.evidence.categorise import Categorisation

PATROLS = 55  # more than a page (50) of the owner's routine recordings
FIRST_PATROL = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
ELM_ROAD = (52.0, -1.0)


@dataclass
class Site:
    """A running server and the recordings it holds, by what they are."""

    server: LiveServer
    container: Container
    force: Force
    patrols: list[str]
    elm: str  # the owner's evidential domestic abuse call on Elm Road, 95 s, tracked there
    elm_follow_up: str  # the owner's public order follow-up, 30 s, no track
    strangers: str  # another team's recording, also about Elm Road

    @contextmanager
    def client(self, persona: str) -> Iterator[httpx.Client]:
        """A signed-in browser session of one persona."""
        with httpx.Client(base_url=self.server.url, timeout=30, headers={"Accept": "text/html"}) as client:
            signed = client.post(
                "/login", data={"username": self.force.collar(persona), "password": PASSWORD}
            )
            assert signed.status_code == 303, signed.text
            yield client


def record(
    container: Container,
    force: Force,
    persona: str,
    started: datetime,
    seconds: float,
    track: list[dict[str, float]] | None = None,
) -> str:
    """A ready recording of one persona's, made the way an upload makes it (without the bytes)."""
    camera = "WBX00001" if persona == "owner" else "WBX00777"
    team = team_id(container, persona)
    return ready_item(container, force.actor(persona), started, seconds, camera=camera, gps=track, team_id=team)


def team_id(container: Container, persona: str) -> str:
    """The id of the persona's team (the owner's "Response A", everyone else here "Response B")."""
    name = "Response A" if persona == "owner" else "Response B"
    return next(team.id for team in container.users.list_teams() if team.name == name)


def _seed(container: Container, force: Force) -> dict[str, Any]:
    owner = force.actor("owner")
    patrols = [
        record(container, force, "owner", FIRST_PATROL + timedelta(minutes=n), 60) for n in range(PATROLS)
    ]
    track = [{"t": 0.0, "lat": ELM_ROAD[0], "lon": ELM_ROAD[1]}, {"t": 5.0, "lat": 52.0003, "lon": -1.0002}]
    elm = record(container, force, "owner", datetime(2026, 11, 20, 22, 0, tzinfo=UTC), 95, track)
    follow_up = record(container, force, "owner", datetime(2026, 11, 21, 10, 0, tzinfo=UTC), 30)
    strangers = record(container, force, "stranger", datetime(2026, 11, 20, 23, 0, tzinfo=UTC), 95, track)
    categorise = container.categorise.categorise
    categorise(
        [elm],
        Categorisation(
            evidential=True,
            category="Domestic abuse",
            incident_number="26/1001",
            title="Disturbance on Elm Road",
        ),
        actor=owner,
    )
    categorise([follow_up], Categorisation(category="Public order", title="Elm Road follow-up"), actor=owner)
    categorise(
        [strangers],
        Categorisation(category="Domestic abuse", title="Elm Road shop"),
        actor=force.actor("stranger"),
    )
    return {"patrols": patrols, "elm": elm, "elm_follow_up": follow_up, "strangers": strangers}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server and one force with recordings for the whole module."""
    folder = tmp_path_factory.mktemp("library")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=0)
        container = build(settings)
        force = make_force(container, camera=None)
        seeded = _seed(container, force)
        server = LiveServer(settings=settings, port=free_port(), log=Path(folder) / "server.log")
        server.start()
        try:
            yield Site(server, container, force, **seeded)
        finally:
            server.stop()
            container.close()


class Shown(HTMLParser):
    """What a library page shows: the search form's values, the rows, links, alerts, saved searches."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.rows: list[str] = []
        self.links: dict[str, str] = {}
        self.alerts: list[str] = []
        self._form: str | None = None
        self._select: str | None = None
        self._href: str | None = None
        self._alert = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note fields, rows, links and alerts as they open."""
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = values.get("id")
        elif tag == "input" and values.get("form") == "bulk":
            self.rows.append(values["value"])
        elif (
            tag == "input"
            and self._form == "search"
            and (values.get("type") != "checkbox" or "checked" in values)
        ):
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "select" and self._form == "search":
            self._select = values["name"]
        elif tag == "option" and self._select and "selected" in values:
            self.fields[self._select] = values["value"]
        elif tag == "a":
            self._href = values.get("href")
        self._alert = self._alert or values.get("role") == "alert"

    def handle_endtag(self, tag: str) -> None:
        """Close what was open."""
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "a":
            self._href = None
        elif tag == "p":
            self._alert = False

    def handle_data(self, data: str) -> None:
        """Link texts and alert texts."""
        if self._href is not None and data.strip():
            self.links[data.strip()] = self._href
        if self._alert and data.strip():
            self.alerts.append(data.strip())


def test_filters_are_kept_in_the_form_and_narrow_the_results(site: Site) -> None:
    """GIVEN the owner's recordings WHEN they search by words, category, date, duration and place, as
    the form sends it (blank fields included) THEN only the Elm Road call is listed and every filter is
    shown back in the form, the place in its pieces and the duration as minutes:seconds."""
    query = {
        "q": "elm road",
        "category": "Domestic abuse",
        "from": "2026-11-20T00:00",
        "to": "",
        "min_duration": "1:30",
        "near_lat": "52.0001",
        "near_lon": "-1.0001",
        "near_radius": "100",
        "evidential": "yes",
        "team": team_id(site.container, "owner"),
        "officer": "1142",
        "sort": "relevance",
    }
    with site.client("owner") as owner:
        page = owner.get("/", params=query)
    assert page.status_code == 200, page.text
    shown = Shown(page.text)
    assert shown.rows == [site.elm]
    assert shown.fields["q"] == "elm road" and shown.fields["category"] == "Domestic abuse"
    assert shown.fields["from"] == "2026-11-20T00:00" and shown.fields["min_duration"] == "1:30"
    assert (shown.fields["near_lat"], shown.fields["near_radius"]) == ("52.0001", "100")
    assert (shown.fields["evidential"], shown.fields["sort"], shown.fields["officer"]) == (
        "yes",
        "relevance",
        "1142",
    )
    assert shown.fields["team"] == query["team"]
    assert "Disturbance on Elm Road" in page.text and "26/1001" in page.text


def test_each_filter_on_its_own_finds_what_it_names(site: Site) -> None:
    """GIVEN the owner's recordings WHEN filtered one way at a time THEN each answer is exactly right."""
    cases = [
        ({"q": "elm"}, [site.elm_follow_up, site.elm]),
        # typed times are the force's local time: 09:03 BST is 08:03 UTC, the third patrol's start
        ({"evidential": "uncategorised", "to": "2026-10-01T09:03"}, site.patrols[2::-1]),
        ({"max_duration": "0:30"}, [site.elm_follow_up]),
        ({"box_south": "51.9", "box_west": "-1.1", "box_north": "52.1", "box_east": "-0.9"}, [site.elm]),
        ({"near": "52.0,-1.0,50"}, [site.elm]),  # the search's own name, as a saved search writes it
        ({"category": "Public order"}, [site.elm_follow_up]),
    ]
    with site.client("owner") as owner:
        for params, expected in cases:
            page = owner.get("/", params=params)
            assert (page.status_code, Shown(page.text).rows) == (200, expected), params


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": "knife", "from": "last tuesday"}, "from: not an ISO 8601 time"),
        ({"q": "knife", "near_lat": "52.0"}, "give all of latitude, longitude and radius"),
        ({"q": "knife", "min_duration": "1:99"}, "seconds or minutes:seconds"),
        ({"q": "knife", "evidential": "maybe"}, "evidential: expected yes, no or uncategorised"),
        ({"q": "knife", "after": "not-a-cursor"}, "not a cursor of this search"),
    ],
)
def test_bad_input_is_explained_with_the_form_still_filled(
    site: Site, params: dict[str, str], says: str
) -> None:
    """GIVEN a signed-in officer WHEN a filter is malformed THEN the page answers 422 with the reason, the form
    keeps what was typed, and no results or stack trace are shown."""
    with site.client("owner") as owner:
        page = owner.get("/", params=params)
    shown = Shown(page.text)
    assert page.status_code == 422
    assert any(says in alert for alert in shown.alerts), shown.alerts
    assert shown.fields["q"] == "knife" and shown.rows == []
    assert "Traceback" not in page.text


def test_next_page_link_keeps_the_filters_and_pages_through_everything(site: Site) -> None:
    """GIVEN more of the owner's recordings than fit a page WHEN they follow "Next page" THEN the filters
    stay in the link, the pages do not overlap, together they hold every match, and the last page has
    a "First page" link and no next one."""
    with site.client("owner") as owner:
        first = Shown(owner.get("/", params={"camera": "WBX00001", "q": ""}).text)
        assert len(first.rows) == 50 and "First page" not in first.links
        following = first.links["Next page →"]
        assert following.startswith("/?camera=WBX00001&after=")
        second = Shown(owner.get(following).text)
    assert "Next page →" not in second.links and second.links["First page"] == "/?camera=WBX00001"
    assert not set(first.rows) & set(second.rows)
    assert set(first.rows + second.rows) == {*site.patrols, site.elm, site.elm_follow_up}


def test_saved_search_round_trip(site: Site) -> None:
    """GIVEN a search on the page WHEN the officer saves it THEN it is listed with a link that runs it again;
    a colleague never sees it; a name that is too long is refused on the page; deleting forgets it."""
    with site.client("owner") as owner, site.client("teammate") as teammate:
        query = Shown(owner.get("/", params={"q": "elm", "min_duration": "1:00"}).text)
        csrf = owner.get("/api/v1/me").json()["csrf_token"]
        saved = owner.post(
            "/searches", data={"name": "Elm Road calls", "query": "q=elm&min_duration=60", "csrf_token": csrf}
        )
        assert saved.status_code == 303
        page = owner.get(saved.headers["location"])
        assert "Search saved as “Elm Road calls”" in page.text
        link = Shown(page.text).links["Elm Road calls"]
        assert link == "/?q=elm&min_duration=60"
        assert Shown(owner.get(link).text).rows == query.rows == [site.elm]
        assert "Elm Road calls" not in teammate.get("/").text

        refused = owner.post("/searches", data={"name": "x" * 121, "query": "q=elm", "csrf_token": csrf})
        refusal = Shown(refused.text)
        assert refused.status_code == 422 and "name: between 1 and 120 characters" in refusal.alerts
        assert refusal.rows == [site.elm_follow_up, site.elm] and refusal.fields["q"] == "elm"
        [saved_search] = site.container.search.saved(site.force.actor("owner"))
        teammate_csrf = teammate.get("/api/v1/me").json()["csrf_token"]
        stolen = teammate.post(f"/searches/{saved_search.id}/delete", data={"csrf_token": teammate_csrf})
        assert stolen.status_code == 404
        deleted = owner.post(
            f"/searches/{saved_search.id}/delete", data={"csrf_token": csrf, "back": "/?q=elm"}
        )
        assert (deleted.status_code, deleted.headers["location"]) == (303, "/?q=elm")
    assert site.container.search.saved(site.force.actor("owner")) == []


def test_nobody_sees_recordings_they_may_not(site: Site) -> None:
    """GIVEN recordings of two teams WHEN people outside a team search for them, even by naming their
    officer THEN nothing of theirs appears; those who see no footage get an empty page."""
    owners = {site.elm, site.elm_follow_up, *site.patrols}
    with site.client("stranger") as stranger:
        assert Shown(stranger.get("/", params={"q": "elm"}).text).rows == [site.strangers]
        named = stranger.get("/", params={"officer": "1142"}).text
        assert Shown(named).rows == [] and not any(item_id in named for item_id in owners)
    for persona in ("auditor", "sysadmin", "trainer"):
        with site.client(persona) as outsider:
            page = outsider.get("/", params={"sort": "recorded"})  # bare, an administrator's "/" is /admin
            assert (page.status_code, Shown(page.text).rows) == (200, []), persona
    with site.client("supervisor") as supervisor:
        rows = Shown(supervisor.get("/", params={"q": "elm"}).text).rows
    assert rows == [site.elm_follow_up, site.elm]


def test_investigator_adds_found_recordings_to_a_case_then_searches_within_it(site: Site) -> None:
    """GIVEN an investigator's case WHEN they find recordings by words and add two of them from the page's bulk
    form, giving a reason THEN the case page follows, and the page's case filter lists exactly those two."""
    investigator = site.force.actor("investigator")
    case = site.container.cases.create("OP-ELM", "Elm Road disturbances", actor=investigator)
    with site.client("investigator") as client:
        found = client.get("/", params={"q": "elm"})
        assert {site.elm, site.elm_follow_up} <= set(Shown(found.text).rows)
        assert 'name="case_id"' in found.text and "OP-ELM · Elm Road disturbances" in found.text
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        added = client.post(
            "/cases/add-items",
            data={
                "case_id": case.id,
                "item_ids": [site.elm, site.elm_follow_up],
                "reason": "Operation Elm: gathering the footage",
                "csrf_token": csrf,
            },
        )
        assert added.status_code == 303 and added.headers["location"].startswith(f"/cases/{case.id}")
        within = Shown(client.get("/", params={"case": case.id}).text)
    assert within.rows == [site.elm_follow_up, site.elm] and within.fields["case"] == case.id
    with site.server.signed_in(PERSONAS["owner"][0], PASSWORD) as outsider:
        refused = outsider.get("/", params={"case": case.id})
    assert refused.status_code == 422 and f"no case {case.id}" in refused.text
