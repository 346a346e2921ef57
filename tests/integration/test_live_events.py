"""Live updates over a real server: the event stream tells each person only of items they may see."""

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.media import sha256_file, tiny_recording
from tests.factories.people import OTHER_TEAM, PASSWORD, PERSONAS, Force, make_force
from witnessbox.bootstrap import Container, build
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings
from witnessbox.evidence.models import ItemState

SERIAL = "WBX00001"  # issued to "owner" (tests/factories/people.py)


@dataclass(frozen=True)
class Event:
    """One server-sent event as a browser would see it."""

    id: int
    kind: str
    data: dict[str, Any]


def parse(lines: Iterator[str]) -> Iterator[Event]:
    """Server-sent events from the lines of a text/event-stream (comments and `retry:` skipped)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif "event" in fields:
            yield Event(int(fields["id"]), fields["event"], json.loads(fields["data"]))
            fields = {}
        else:
            fields = {}


@dataclass
class World:
    """One server, the force, a dock and a folder of recordings for the module."""

    server: LiveServer
    container: Container
    force: Force
    dock_token: str
    folder: Path

    def client(self, persona: str) -> "AbstractContextManager[httpx.Client]":
        """A signed-in browser session of one persona."""
        return self.server.signed_in(PERSONAS[persona][0], PASSWORD)

    def caught_up(self, persona: str, since: int, **headers: str) -> list[Event]:
        """Everything waiting for a persona after `since`, without holding the stream open."""
        with self.client(persona) as client:
            response = client.get("/api/v1/events", params={"since": since, "duration": 0}, headers=headers)
            assert response.status_code == 200, response.text
            return list(parse(iter(response.text.splitlines())))

    def dock(self, seed: int) -> str:
        """Upload one new recording from the owner's camera with the real dock agent; its SHA-256."""
        camera = self.folder / f"upload-{seed}" / SERIAL
        sha256 = sha256_file(tiny_recording(camera, serial=SERIAL, seed=seed))
        agent = DockAgent(self.server.url, self.dock_token, state_dir=self.folder / f"state-{seed}")
        outcomes = agent.upload_all(find_recordings([camera.parent]))
        assert [o.ok for o in outcomes] == [True], [o.message for o in outcomes]
        return sha256


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server with job workers and the test force, shared by this module's tests."""
    folder = tmp_path_factory.mktemp("live")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=2)
        container = build(settings)
        force = make_force(container, camera=SERIAL)
        token = container.devices.register_dock("station-1", cameras=[SERIAL], actor=SYSTEM)[1]
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            yield World(server, container, force, token, folder)
        finally:
            server.stop()
            container.close()


def _listen(world: World, persona: str, into: "queue.Queue[Event | str]", ready: threading.Event) -> None:
    """Hold a stream open as a browser does, putting each event on `into`."""
    with world.client(persona) as client, client.stream("GET", "/api/v1/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")  # the stream starts from now
        ready.set()
        for event in parse(lines):
            into.put(event)
            if event.kind == "item-ready":
                return


def _next(events: "queue.Queue[Event | str]") -> Event:
    event = events.get(timeout=90)
    assert isinstance(event, Event), event
    return event


def test_an_upload_is_heard_as_created_then_ready_by_those_who_may_see_it(world: World) -> None:
    """GIVEN the owner's library open (a stream from now) WHEN the dock uploads a recording from the owner's
    camera THEN the stream says item-created then item-ready for it, with what a notice shows; the
    supervisor of the owner's team hears the same; an officer of another team and the teammate hear nothing."""
    events: queue.Queue[Event | str] = queue.Queue()
    ready = threading.Event()
    before = world.container.live.head()
    listener = threading.Thread(target=_listen, args=(world, "owner", events, ready), daemon=True)
    listener.start()
    assert ready.wait(30)

    sha256 = world.dock(seed=11)
    created, made_ready = _next(events), _next(events)
    listener.join(10)

    assert (created.kind, made_ready.kind) == ("item-created", "item-ready")
    assert created.id < made_ready.id and created.data["id"] == made_ready.data["id"]
    item = world.container.evidence.get(created.data["id"])
    assert item.sha256 == sha256
    assert made_ready.data | {"state": "ready"} == made_ready.data
    assert {k: made_ready.data[k] for k in ("camera", "officer", "url")} == {
        "camera": SERIAL, "officer": "1142 Alex Morgan", "url": f"/items/{item.id}"}
    assert made_ready.data["recorded_start"] == "2026-11-26T08:30:00+00:00"
    supervisor = world.caught_up("supervisor", before)
    assert [(e.kind, e.data["id"]) for e in supervisor] == [("item-created", item.id), ("item-ready", item.id)]
    for outsider in ("stranger", "teammate", "auditor"):
        assert world.caught_up(outsider, before) == [], outsider


def test_resuming_with_last_event_id_gets_only_later_events(world: World) -> None:
    """GIVEN a browser that heard item-created WHEN it reconnects with Last-Event-ID THEN it gets item-ready, not item-created again."""
    before = world.container.live.head()
    world.dock(seed=12)
    deadline = time.monotonic() + 90
    while len(heard := world.caught_up("owner", before)) < 2:
        assert time.monotonic() < deadline, heard
        time.sleep(0.5)
    created = heard[0]
    resumed = world.caught_up("owner", 0, **{"Last-Event-ID": str(created.id)})
    assert [e.kind for e in resumed] == ["item-ready"] and resumed[0].id > created.id


def test_a_quarantined_recording_is_heard_so_its_row_does_not_stay_processing(world: World) -> None:
    """GIVEN the owner's recording WHEN it is quarantined THEN the owner hears item-quarantined with its new
    state; the teammate (no access) hears nothing."""
    item_id = ready_item(world.container, world.force.actor("owner"), datetime(2026, 11, 26, 9, 0, tzinfo=UTC), 30)
    before = world.container.live.head()
    world.container.evidence.set_state(item_id, ItemState.QUARANTINED, actor=SYSTEM, reason="truncated")
    heard = world.caught_up("owner", before)
    assert [(e.kind, e.data["id"], e.data["state"]) for e in heard] == [("item-quarantined", item_id, "quarantined")]
    assert world.caught_up("teammate", before) == []


def test_a_share_is_heard_by_its_recipient_and_their_team_only(world: World) -> None:
    """GIVEN an item of the owner's WHEN the owner shares it with the teammate, then with the other team
    THEN the teammate hears item-shared (by the owner), the other team's officer and supervisor hear the
    second share only, and nobody else hears either."""
    with world.client("owner") as owner:
        item_id = owner.get("/api/v1/items").json()[0]["id"]
        before = world.container.live.head()
        csrf = owner.get("/api/v1/me").json()["csrf_token"]
        for body in ({"collar_number": PERSONAS["teammate"][0]}, {"team": OTHER_TEAM}):
            response = owner.post(f"/api/v1/items/{item_id}/shares", json=body, headers={"X-CSRF-Token": csrf})
            assert response.status_code == 201, response.text

    teammate = world.caught_up("teammate", before)
    assert [(e.kind, e.data["id"], e.data["by"]) for e in teammate] == [("item-shared", item_id, "1142 Alex Morgan")]
    for other_team in ("stranger", "other_supervisor"):
        heard = world.caught_up(other_team, before)
        assert [(e.kind, e.data["id"]) for e in heard] == [("item-shared", item_id)], other_team
        assert heard[0].id > teammate[0].id
    for outsider in ("owner", "supervisor", "investigator", "trainer"):
        assert world.caught_up(outsider, before) == [], outsider


def test_docks_and_strangers_to_the_session_are_refused(world: World) -> None:
    """GIVEN a dock's credential, no credential, or a bad Last-Event-ID WHEN asking for the stream THEN 403, 401, 400."""
    dock = httpx.get(f"{world.server.url}/api/v1/events", params={"duration": 0},
                     headers={"Authorization": f"Bearer {world.dock_token}"})
    assert dock.status_code == 403
    assert httpx.get(f"{world.server.url}/api/v1/events", params={"duration": 0}).status_code == 401
    with world.client("owner") as owner:
        assert owner.get("/api/v1/events", headers={"Last-Event-ID": "yesterday"}).status_code == 400


def test_the_stream_ends_when_the_client_goes_and_the_server_stops_promptly(live_server: LiveServer) -> None:
    """GIVEN an open stream WHEN the client goes away THEN the server stops polling for it: a graceful
    stop afterwards takes well under the stream's five minutes and the server's shutdown grace."""
    with live_server.signed_in() as admin, admin.stream("GET", "/api/v1/events") as response:
        assert next(response.iter_lines()).startswith("retry:")
    time.sleep(0.5)
    started = time.monotonic()
    live_server.stop()
    assert time.monotonic() - started < 5
    log = live_server.log.read_text()
    assert "Application shutdown complete" in log and "timeout graceful shutdown exceeded" not in log
