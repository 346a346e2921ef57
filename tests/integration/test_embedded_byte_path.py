"""The embedded byte path (byte_path "app", the default) over a real server: the first request of
a play is authorised and audited by the app, the player's repeat ranges ride on this process's
short-lived grant (read with os.pread, no authentication, policy or database), and an ended
session stops them within `byte_grant_seconds` (decision 0029)."""

import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import stored_item
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build

BOUND_S = 2


class ShortGrants(LiveServer):
    """The embedded server with a short revocation bound, so the tests wait little."""

    def env(self) -> dict[str, str]:
        """The test's settings plus the bound."""
        return {**super().env(), "WITNESSBOX_BYTE_GRANT_SECONDS": str(BOUND_S)}


@dataclass
class World:
    """One server, one item with real stored bytes."""

    server: LiveServer
    container: Container
    item_id: str
    proxy: bytes

    def client(self) -> httpx.Client:
        """The owner signed in."""
        client = httpx.Client(base_url=self.server.url, timeout=30)
        answer = client.post("/login", data={"username": PERSONAS["owner"][0], "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        return client

    def plays(self) -> int:
        """Plays of the item in the audit trail."""
        with self.container.db.read() as session:
            query = select(AuditEvent).where(AuditEvent.tag == AuditTag.EVIDENCE_ITEM_PLAYED,
                                             AuditEvent.subject_id == self.item_id)
            return len(list(session.scalars(query)))

    def end_elsewhere(self, client: httpx.Client) -> None:
        """End the client's session from another process (as another app instance would)."""
        actor, _ = self.container.signin.session_and_csrf(client.cookies["wbx_session"])
        assert actor.session_id is not None
        self.container.signin.revoke_session(actor.session_id, actor=actor)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A running server (no job workers) and one item."""
    folder = tmp_path_factory.mktemp("embedded-bytes")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=0)
        container = build(settings)
        force = make_force(container)
        proxy = secrets.token_bytes(3_000_000)
        item_id = stored_item(container, force.actor("owner"), secrets.token_bytes(1000), proxy)
        server = ShortGrants(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            yield World(server, container, item_id, proxy)
        finally:
            server.stop()
            container.close()


def test_repeat_ranges_ride_on_the_grant_until_the_bound(world: World) -> None:
    """GIVEN a play under way WHEN the session is ended by another process THEN repeat ranges are still answered from this process's grant until byte_grant_seconds, and refused (401) after it."""
    client = world.client()
    path = f"/api/v1/items/{world.item_id}/proxy"
    assert client.get(path, headers={"Range": "bytes=0-4095"}).status_code == 206
    world.end_elsewhere(client)
    started = time.monotonic()
    granted = client.get(path, headers={"Range": "bytes=1000000-1004095"})
    assert time.monotonic() - started < BOUND_S
    assert granted.status_code == 206 and granted.content == world.proxy[1_000_000:1_004_096]
    time.sleep(BOUND_S + 0.2)
    refused = client.get(path, headers={"Range": "bytes=1004096-1008191"})
    assert refused.status_code == 401 and world.proxy[1_004_096:1_008_192] not in refused.content


def test_a_sign_out_in_this_process_stops_repeat_ranges_at_once(world: World) -> None:
    """GIVEN a play under way WHEN the person signs out through the same server THEN the very next range is refused."""
    client = world.client()
    path = f"/api/v1/items/{world.item_id}/proxy"
    assert client.get(path, headers={"Range": "bytes=0-4095"}).status_code == 206
    assert client.get(path, headers={"Range": "bytes=4096-8191"}).status_code == 206
    csrf = client.get("/api/v1/me").json()["csrf_token"]
    client.post("/logout", headers={"X-CSRF-Token": csrf})
    assert client.get(path, headers={"Range": "bytes=8192-12287"}).status_code == 401


def test_the_lean_answer_is_exact_and_only_a_start_is_audited(world: World) -> None:
    """GIVEN a play WHEN the player seeks (open-ended, bounded, past the end, several parts, If-Range) THEN each answer is exact with the content-addressed headers and the site's security headers, and only the requests from byte 0 are audited."""
    client = world.client()
    path = f"/api/v1/items/{world.item_id}/proxy"
    sha, size = hashlib.sha256(world.proxy).hexdigest(), len(world.proxy)
    plays = world.plays()
    assert client.get(path, headers={"Range": "bytes=0-"}).content == world.proxy
    mid = client.get(path, headers={"Range": "bytes=1500000-1565535"})
    assert mid.status_code == 206 and mid.content == world.proxy[1_500_000:1_565_536]
    assert mid.headers["content-range"] == f"bytes 1500000-1565535/{size}"
    assert mid.headers["etag"] == f'"{sha}"' and mid.headers["x-content-sha256"] == sha
    assert mid.headers["cache-control"] == "private, max-age=3600" and mid.headers["content-type"] == "video/mp4"
    assert mid.headers["x-content-type-options"] == "nosniff" and mid.headers["x-request-id"]
    tail = client.get(path, headers={"Range": "bytes=2000000-"})
    assert tail.status_code == 206 and tail.content == world.proxy[2_000_000:]
    assert client.get(path, headers={"Range": f"bytes={size}-"}).status_code == 416
    suffix = client.get(path, headers={"Range": "bytes=-100"})
    assert suffix.status_code == 206 and suffix.content == world.proxy[-100:]
    stale = client.get(path, headers={"Range": "bytes=100-199", "If-Range": '"not-this-one"'})
    assert stale.status_code == 200 and stale.content == world.proxy
    assert world.plays() == plays + 1
    assert client.get(path, headers={"Range": "bytes=0-1"}).status_code == 206
    assert world.plays() == plays + 2
