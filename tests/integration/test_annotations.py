"""People's bookmarks and notes over a real server: add, list, remove, validation, access, audit, search."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.accounts.roles import Permission
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.core.actor import SYSTEM
from witnessbox.evidence.models import Annotation, ItemState
from witnessbox.evidence.search import Filters
from witnessbox.evidence.service import ItemDraft

DURATION_S = 30.0
RECORDED = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
CAMERA_BOOKMARKS = [{"t": 3.0, "label": "Bookmark 1"}]


@dataclass
class World:
    """One server and the people who call it; items are made per test."""

    server: LiveServer
    container: Container
    force: Force
    clients: dict[str, httpx.Client]

    def item(self) -> str:
        """A ready 30-second recording of the owner's with one camera bookmark (a record: no bytes needed)."""
        owner = self.force.actor("owner")
        draft = ItemDraft(sha256=secrets.token_hex(32), size=1, filename="clip.mp4", camera_id=None,
                          camera_serial="WBX00001", dock_id=None, officer_id=owner.id, officer=owner.name,
                          team_id=sorted(owner.teams)[0], recorded_start=RECORDED,
                          upload_started_at=RECORDED + timedelta(hours=8), bookmarks=CAMERA_BOOKMARKS)
        evidence = self.container.evidence
        with self.container.db.transaction() as uow:
            item_id = evidence.create_item(uow.session, draft, actor=SYSTEM).id
        evidence.record_media_facts(item_id, {"duration_s": DURATION_S, "fps": 25.0}, actor=SYSTEM)
        evidence.set_state(item_id, ItemState.READY, actor=SYSTEM)
        return item_id

    def add(self, persona: str, item_id: str, **body: Any) -> httpx.Response:
        """POST a bookmark or note as a persona (kind bookmark at 1.5 s unless told)."""
        payload = {"kind": "bookmark", "at_s": 1.5, "text": "Suspect runs", **body}
        return self.clients[persona].post(f"/api/v1/items/{item_id}/annotations", json=payload)

    def listed(self, persona: str, item_id: str) -> list[dict[str, Any]]:
        """The marks a persona is shown."""
        response = self.clients[persona].get(f"/api/v1/items/{item_id}/annotations")
        assert response.status_code == 200, response.text
        return list(response.json())

    def stored(self, item_id: str) -> int:
        """How many marks the database holds for an item."""
        with self.container.db.read() as session:
            return int(session.scalar(select(func.count()).where(Annotation.item_id == item_id)) or 0)

    def audited(self, item_id: str, *tags: AuditTag) -> list[AuditEvent]:
        """The item's audit entries with these tags, oldest first."""
        query = select(AuditEvent).where(AuditEvent.subject_id == item_id, AuditEvent.tag.in_(tags))
        with self.container.db.read() as session:
            return list(session.scalars(query.order_by(AuditEvent.seq)))


def _signed_in(url: str, persona: str) -> httpx.Client:
    """A browser-like session: cookie, and the CSRF token as a default header (as player.js sends it)."""
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/login", data={"username": PERSONAS[persona][0], "password": PASSWORD})
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = str(client.get("/api/v1/me").json()["csrf_token"])
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server and force for the module (starting them takes seconds)."""
    folder = tmp_path_factory.mktemp("annotations")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=1)
        container = build(settings)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            force = make_force(container)
            personas = ("owner", "supervisor", "stranger", "trainer", "investigator", "sysadmin")
            clients = {persona: _signed_in(server.url, persona) for persona in personas}
            yield World(server, container, force, clients)
            for client in clients.values():
                client.close()
        finally:
            server.stop()
            container.close()


def test_owner_and_supervisor_mark_the_recording_and_each_removes_only_their_own(world: World) -> None:
    """GIVEN the owner's recording WHEN the owner adds a note and the supervisor a bookmark THEN both see both in timeline order, each may remove only their own, and every change is audited with what it said."""
    item_id = world.item()
    note = world.add("owner", item_id, kind="note", at_s=12.25, text="  Man in red jacket approaches  ")
    assert note.status_code == 201, note.text
    assert note.json() | {"id": "", "created_at": ""} == {
        "id": "", "created_at": "", "item_id": item_id, "kind": "note", "at_s": 12.25,
        "text": "Man in red jacket approaches", "author": "1142 Alex Morgan", "mine": True}
    bookmark = world.add("supervisor", item_id, at_s=2.0, text="Arrival")
    assert bookmark.status_code == 201, bookmark.text

    seen = world.listed("owner", item_id)
    assert [(m["kind"], m["at_s"], m["mine"]) for m in seen] == [("bookmark", 2.0, False), ("note", 12.25, True)]
    assert [m["mine"] for m in world.listed("supervisor", item_id)] == [True, False]

    owner, supervisor = world.clients["owner"], world.clients["supervisor"]
    refused = owner.delete(f"/api/v1/items/{item_id}/annotations/{bookmark.json()['id']}")
    assert refused.status_code == 403 and "who wrote it" in refused.json()["error"]
    assert world.stored(item_id) == 2
    assert supervisor.delete(f"/api/v1/items/{item_id}/annotations/{bookmark.json()['id']}").status_code == 204
    assert [m["id"] for m in world.listed("owner", item_id)] == [note.json()["id"]]

    events = world.audited(item_id, AuditTag.EVIDENCE_ANNOTATION_ADDED, AuditTag.EVIDENCE_ANNOTATION_REMOVED)
    assert [(e.tag, e.actor_name, e.details["kind"], e.details["at_s"], e.details["text"]) for e in events] == [
        (AuditTag.EVIDENCE_ANNOTATION_ADDED, "1142 Alex Morgan", "note", 12.25, "Man in red jacket approaches"),
        (AuditTag.EVIDENCE_ANNOTATION_ADDED, "4410 Chris Evans", "bookmark", 2.0, "Arrival"),
        (AuditTag.EVIDENCE_ANNOTATION_REMOVED, "4410 Chris Evans", "bookmark", 2.0, "Arrival"),
    ]


@pytest.mark.parametrize(("body", "status", "says"), [
    # What the request schema states is refused by validation (422); what depends on the recording, 409.
    ({"at_s": -0.1}, 422, None),
    ({"at_s": DURATION_S + 0.5}, 409, "between 0 and 30.000 seconds"),
    ({"text": "   "}, 422, None),
    ({"text": "x" * 201}, 400, "at most 200 characters"),
    ({"kind": "note", "text": "x" * 2001}, 422, None),
    ({"kind": "comment"}, 422, None),
    ({"at_s": "soon"}, 422, None),
])
def test_bad_marks_are_refused_with_a_reason_and_nothing_is_written(
        world: World, body: dict[str, Any], status: int, says: str | None) -> None:
    """GIVEN the owner's 30-second recording WHEN a mark is outside it, empty, too long or of no known kind THEN a clear error, and nothing is stored or audited."""
    item_id = world.item()
    response = world.add("owner", item_id, **body)
    assert response.status_code == status, response.text
    if says:
        assert says in response.json()["error"]
    assert world.stored(item_id) == 0
    assert not world.audited(item_id, AuditTag.EVIDENCE_ANNOTATION_ADDED)


def test_a_long_note_and_the_last_moment_are_accepted(world: World) -> None:
    """GIVEN the owner's recording WHEN a 2000-character note is placed at the very end THEN it is kept whole."""
    item_id = world.item()
    response = world.add("owner", item_id, kind="note", at_s=DURATION_S, text="y" * 2000)
    assert response.status_code == 201, response.text
    assert len(world.listed("owner", item_id)[0]["text"]) == 2000


@pytest.mark.parametrize("persona", ["stranger", "trainer", "sysadmin"])
def test_people_who_may_not_see_the_footage_get_404_and_write_nothing(world: World, persona: str) -> None:
    """GIVEN the owner's recording with the owner's bookmark WHEN someone without access lists, adds or removes marks THEN 404 each time, and nothing changes."""
    item_id = world.item()
    mark = world.add("owner", item_id).json()["id"]
    client = world.clients[persona]
    base = f"/api/v1/items/{item_id}/annotations"
    answers = [client.get(base).status_code, world.add(persona, item_id).status_code,
               client.delete(f"{base}/{mark}").status_code]
    assert answers == [404, 404, 404]
    assert [m["id"] for m in world.listed("owner", item_id)] == [mark]
    assert len(world.audited(item_id, AuditTag.EVIDENCE_ANNOTATION_ADDED)) == 1
    assert not world.audited(item_id, AuditTag.EVIDENCE_ANNOTATION_REMOVED)


def test_an_investigator_marks_footage_once_a_reason_is_recorded(world: World) -> None:
    """GIVEN a recording an investigator has no close access to WHEN they add a bookmark without, then with, a recorded reason THEN first 403 asking why, then it is added."""
    item_id = world.item()
    first = world.add("investigator", item_id)
    assert first.status_code == 403 and "why" in first.json()["error"]
    world.container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=world.force.actor("investigator"),
                                       reason="occurrence 26/4411: identifying the suspect")
    assert world.add("investigator", item_id, text="Suspect's face visible").status_code == 201
    assert world.stored(item_id) == 1


def test_a_cookie_session_without_the_csrf_token_changes_nothing(world: World) -> None:
    """GIVEN the owner's signed-in browser session WHEN a mark is posted without the X-CSRF-Token header THEN 403 and nothing is stored."""
    item_id = world.item()
    client = world.clients["owner"]
    token = client.headers.pop("X-CSRF-Token")
    try:
        assert world.add("owner", item_id).status_code == 403
    finally:
        client.headers["X-CSRF-Token"] = token
    assert world.stored(item_id) == 0


def test_marks_count_as_bookmarks_and_are_found_by_their_words(world: World) -> None:
    """GIVEN a recording with one camera bookmark WHEN the owner adds a bookmark and a note, then removes the bookmark THEN the bookmark count (camera and people's bookmarks, not notes) and the words the item is found by follow."""
    item_id = world.item()
    evidence, search = world.container.evidence, world.container.search
    owner = world.force.actor("owner")
    bookmark = world.add("owner", item_id, text="Zebra crossing").json()["id"]
    world.add("owner", item_id, kind="note", at_s=9.0, text="Quokka graffiti on the wall")
    assert evidence.get(item_id).bookmark_count == 2
    found = search.search(owner, Filters(text="quokka"))
    assert [item.id for item in found.items] == [item_id]
    assert world.clients["owner"].delete(f"/api/v1/items/{item_id}/annotations/{bookmark}").status_code == 204
    assert evidence.get(item_id).bookmark_count == 1
    assert [item.id for item in search.search(owner, Filters(text="quokka")).items] == [item_id]
    assert not search.search(owner, Filters(text="zebra")).items


def test_the_player_page_offers_download_and_marking_only_to_those_allowed(world: World) -> None:
    """GIVEN the owner's recording with a note WHEN the owner opens its page, and then a token that may view and play but not download opens it THEN the owner gets the download button; the token gets no download button and no crash; both see the note in the page data, which no note can break out of."""
    item_id = world.item()
    world.add("owner", item_id, kind="note", text="Visible to reviewers </script><script>alert(1)</script>")
    owner_page = world.clients["owner"].get(f"/items/{item_id}")
    assert owner_page.status_code == 200
    assert 'id="download"' in owner_page.text and "Visible to reviewers" in owner_page.text
    assert "<script>alert" not in owner_page.text  # page data is JSON with <, > and & escaped
    secret = world.container.tokens.issue_user_token(
        "viewer", actor=world.force.actor("owner"),
        scopes=frozenset({Permission.ITEM_VIEW, Permission.ITEM_PLAY}))[1]
    with httpx.Client(base_url=world.server.url, headers={"Authorization": f"Bearer {secret}"}) as viewer:
        page = viewer.get(f"/items/{item_id}")
    assert page.status_code == 200, page.text[:300]
    assert 'id="download"' not in page.text and "Visible to reviewers" in page.text
