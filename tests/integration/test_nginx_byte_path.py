"""The nginx byte path end to end: Debian's nginx on loopback, configured by `witnessbox nginx-config`,
in front of a real `witnessbox serve` with the local store (decision 0029).

The app authorises and audits a play once and hands out a signed /bytes/ grant; the player's
ranges are then served by nginx alone (no request reaches the app: its access log does not grow,
and the answers carry nginx's marker and not the app's request id). Downloads go by
X-Accel-Redirect with the attachment headers. An ended session or a revoked share stops bytes
within `byte_grant_seconds`.
"""

import hashlib
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.items import stored_item
from tests.factories.nginx import nginx_server
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.accounts.roles import Permission
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.web.nginx import NginxOptions, nginx_config

BOUND_S = 2  # byte_grant_seconds here: short, so the revocation tests wait little


class NginxFronted(LiveServer):
    """The app with the nginx byte path switched on."""

    def env(self) -> dict[str, str]:
        """The test's settings plus the byte path."""
        return {**super().env(), "WITNESSBOX_BYTE_PATH": "nginx", "WITNESSBOX_BYTE_GRANT_SECONDS": str(BOUND_S)}


@dataclass
class World:
    """nginx in front of the app; one item with real stored bytes (original and browser copy)."""

    url: str
    server: LiveServer
    container: Container
    item_id: str
    original: bytes
    proxy: bytes
    case_id: str

    def client(self, persona: str) -> httpx.Client:
        """A browser session through nginx."""
        client = httpx.Client(base_url=self.url, timeout=30)
        answer = client.post("/login", data={"username": PERSONAS[persona][0], "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        return client

    def app_requests(self, part: str) -> int:
        """How many requests for paths containing `part` the app itself answered (its access log)."""
        return sum(1 for line in self.server.log.read_text(errors="replace").splitlines()
                   if "HTTP/1.1\" " in line and part in line)

    def audited(self, tag: AuditTag) -> int:
        """Audit entries of this kind about the item."""
        with self.container.db.read() as session:
            query = select(AuditEvent).where(AuditEvent.tag == tag, AuditEvent.subject_id == self.item_id)
            return len(list(session.scalars(query)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One app process, one nginx, one item in a case the disclosure officer works."""
    folder = tmp_path_factory.mktemp("nginx-bytes")
    with fresh_database_url(folder) as database_url:
        settings: Settings = settings_for(folder, database_url, workers=0).model_copy(
            update={"byte_path": "nginx", "byte_grant_seconds": BOUND_S})
        container = build(settings)
        force = make_force(container)
        original, proxy = secrets.token_bytes(700_000), secrets.token_bytes(500_000)
        item_id = stored_item(container, force.actor("owner"), original, proxy)
        investigator = force.actor("investigator")
        case = container.cases.create("CR/20003/26", "Assault on Mill Lane", actor=investigator)
        container.cases.add_member(case.id, PERSONAS["case_member"][0], actor=investigator)
        container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=investigator, reason="building the assault case file")
        container.cases.add_items(case.id, [item_id], actor=investigator)
        server = NginxFronted(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            printed = subprocess.run(  # exactly what an operator runs, with the servers' environment
                [sys.executable, "-m", "witnessbox", "nginx-config", "--upstream", f"127.0.0.1:{server.port}",
                 "--listen", f"127.0.0.1:{free_port()}", "--plain-http", "--log-dir", str(folder)],
                env=server.env(), capture_output=True, text=True, check=True)
            with nginx_server(printed.stdout, folder) as nginx:
                yield World(nginx.url, server, container, item_id, original, proxy, case.id)
        finally:
            server.stop()
            container.close()


def _granted(client: httpx.Client, path: str, first: str = "bytes=0-1023") -> str:
    """The first request of a play: the app answers with a redirect to a /bytes/ grant."""
    answer = client.get(path, headers={"Range": first})
    assert answer.status_code == 307, answer.text
    assert answer.headers["location"].startswith("/bytes/")
    return str(answer.headers["location"])


def test_a_play_is_audited_once_and_its_ranges_never_reach_the_app(world: World) -> None:
    """GIVEN the owner signed in through nginx WHEN they start a play and seek 30 times THEN the app answers only the first request (audited once), nginx serves every range with the exact bytes and the content-addressed headers."""
    client = world.client("owner")
    path = f"/api/v1/items/{world.item_id}/proxy"
    plays, seen = world.audited(AuditTag.EVIDENCE_ITEM_PLAYED), world.app_requests("/proxy")
    grant = _granted(client, path)
    assert world.app_requests("/proxy") == seen + 1
    first = client.get(grant, headers={"Range": "bytes=0-1023"})
    assert first.status_code == 206 and first.content == world.proxy[:1024]
    sha = hashlib.sha256(world.proxy).hexdigest()
    assert first.headers["etag"] == f'"{sha}"' and first.headers["content-type"] == "video/mp4"
    assert first.headers["cache-control"] == "private, max-age=3600"
    assert first.headers["x-witnessbox-bytes"] == "nginx" and "x-request-id" not in first.headers
    rng = random.Random(7)
    for _ in range(30):
        start = rng.randrange(0, len(world.proxy) - 4096)
        part = client.get(grant, headers={"Range": f"bytes={start}-{start + 4095}"})
        assert part.status_code == 206 and part.content == world.proxy[start:start + 4096]
        assert part.headers["content-range"] == f"bytes {start}-{start + 4095}/{len(world.proxy)}"
    assert world.app_requests("/proxy") == seen + 1
    assert world.app_requests("/bytes/") == 0
    assert world.audited(AuditTag.EVIDENCE_ITEM_PLAYED) == plays + 1


def test_a_person_without_access_and_a_forged_grant_are_refused(world: World) -> None:
    """GIVEN an officer of another team, and a grant with its item, origin or signature changed WHEN they ask for the bytes THEN the app refuses the officer and nginx refuses every altered grant (403) without a byte."""
    stranger = world.client("stranger")
    assert stranger.get(f"/api/v1/items/{world.item_id}/proxy", headers={"Range": "bytes=0-"}).status_code == 404
    grant = _granted(world.client("owner"), f"/api/v1/items/{world.item_id}/proxy")
    head, _, origin = grant.partition("?from=")
    other_sha = hashlib.sha256(world.original).hexdigest()
    forged = [
        head.replace(hashlib.sha256(world.proxy).hexdigest(), other_sha) + "?from=" + origin,
        head + "?from=/api/v1/items/OTHER/proxy",
        head.replace("/private/", "/nostore/") + "?from=" + origin,
    ]
    for url in forged:
        refused = stranger.get(url, headers={"Range": "bytes=0-1023"})
        assert refused.status_code == 403 and world.original[:1024] not in refused.content
    assert stranger.get(grant, headers={"Range": "bytes=0-1023"}).status_code == 206  # a grant is its URL


def test_an_ended_session_reaches_the_byte_path_within_the_bound(world: World) -> None:
    """GIVEN a play under way on a grant WHEN the person signs out THEN after byte_grant_seconds the next range through nginx is sent back to the app, which refuses it (401)."""
    client = world.client("owner")
    grant = _granted(client, f"/api/v1/items/{world.item_id}/proxy")
    csrf = client.get("/api/v1/me").json()["csrf_token"]
    assert client.post("/logout", headers={"X-CSRF-Token": csrf}).status_code in (200, 303)
    time.sleep(BOUND_S + 1.1)
    expired = client.get(grant, headers={"Range": "bytes=4096-8191"})
    assert expired.status_code == 307 and expired.headers["location"] == f"/api/v1/items/{world.item_id}/proxy"
    refused = client.get(grant, headers={"Range": "bytes=4096-8191"}, follow_redirects=True)
    assert refused.status_code == 401 and world.proxy[4096:8192] not in refused.content


def test_a_live_session_renews_its_grant_without_a_second_play(world: World) -> None:
    """GIVEN a play whose grant has expired WHEN the player's next range goes back to the app THEN the app grants again (not audited: the same viewing) and nginx serves the range."""
    client = world.client("owner")
    grant = _granted(client, f"/api/v1/items/{world.item_id}/proxy")
    plays = world.audited(AuditTag.EVIDENCE_ITEM_PLAYED)
    time.sleep(BOUND_S + 1.1)
    renewed = client.get(grant, headers={"Range": "bytes=8192-12287"}, follow_redirects=True)
    assert renewed.status_code == 206 and renewed.content == world.proxy[8192:12288]
    assert renewed.url.path.startswith("/bytes/") and renewed.url.path != grant.partition("?")[0]
    assert world.audited(AuditTag.EVIDENCE_ITEM_PLAYED) == plays


def test_a_download_is_audited_and_sent_by_nginx_as_an_attachment(world: World) -> None:
    """GIVEN the owner WHEN they download the original (whole, then resuming with a range) THEN nginx sends the exact bytes with the attachment name, the SHA-256 ETag and private caching, and one download is audited."""
    client = world.client("owner")
    downloads = world.audited(AuditTag.EVIDENCE_ITEM_DOWNLOADED)
    whole = client.get(f"/api/v1/items/{world.item_id}/original")
    assert whole.status_code == 200 and whole.content == world.original
    sha = hashlib.sha256(world.original).hexdigest()
    assert whole.headers["content-disposition"] == 'attachment; filename="mill-lane.mp4"'
    assert whole.headers["etag"] == f'"{sha}"' and whole.headers["x-content-sha256"] == sha
    assert whole.headers["cache-control"] == "private, max-age=3600"
    assert whole.headers["x-witnessbox-bytes"] == "nginx" and whole.headers["content-type"] == "video/mp4"
    resumed = client.get(f"/api/v1/items/{world.item_id}/original", headers={"Range": "bytes=600000-"})
    assert resumed.status_code == 206 and resumed.content == world.original[600_000:]
    assert world.audited(AuditTag.EVIDENCE_ITEM_DOWNLOADED) == downloads + 1


def test_the_recipient_portal_plays_through_nginx_and_a_revocation_stops_it(world: World) -> None:
    """GIVEN the case shared with a prosecutor who plays it through nginx WHEN the sharer revokes the share THEN after byte_grant_seconds the next range is refused (410) and no byte is sent."""
    sharer = world.client("case_member")
    csrf = sharer.get("/api/v1/me").json()["csrf_token"]
    body = {"recipient_name": "Priya Shah", "organisation": "CPS Wessex", "kind": "prosecutor",
            "case_id": world.case_id, "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()}
    share = sharer.post("/api/v1/external-shares", json=body, headers={"X-CSRF-Token": csrf}).json()
    recipient = httpx.Client(base_url=world.url, timeout=30)
    assert recipient.post(httpx.URL(share["link"]).path, data={"code": share["code"]}).status_code == 303
    grant = _granted(recipient, f"/portal/items/{world.item_id}/proxy")
    assert "/nostore/" in grant
    part = recipient.get(grant, headers={"Range": "bytes=1024-2047"})
    assert part.status_code == 206 and part.content == world.proxy[1024:2048]
    assert part.headers["cache-control"] == "no-store" and part.headers["x-witnessbox-bytes"] == "nginx"
    revoked = sharer.delete(f"/api/v1/external-shares/{share['id']}", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 204
    time.sleep(BOUND_S + 1.1)
    refused = recipient.get(grant, headers={"Range": "bytes=2048-4095"}, follow_redirects=True)
    assert refused.status_code == 410 and world.proxy[2048:4096] not in refused.content


def test_nginx_config_refuses_tls_without_a_certificate(tmp_path: Path) -> None:
    """GIVEN no certificate and no --plain-http WHEN the configuration is asked for THEN it says what is missing."""
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ValueError, match="--certificate"):
        nginx_config(settings, NginxOptions())
    with pytest.raises(ValueError, match="--upstream"):
        nginx_config(settings, NginxOptions(upstreams=[], plain_http=True))


def test_nginx_starts_with_the_configuration_for_an_object_store(tmp_path: Path) -> None:
    """GIVEN evidence in an S3 bucket WHEN nginx-config is asked for THEN nginx accepts it as it is (no grant
    locations, hence none of their variables) and proxies the internal object location to the store."""
    settings = Settings(data_dir=tmp_path, storage_url="s3://evidence/blobs", s3_endpoint_url="http://127.0.0.1:9")
    config = nginx_config(settings, NginxOptions(upstreams=["127.0.0.1:9"], plain_http=True,
                                                 listen=f"127.0.0.1:{free_port()}", log_dir=tmp_path))
    assert "$wb_cache" not in config and "proxy_pass http://127.0.0.1:9/" in config
    with nginx_server(config, tmp_path / "nginx"):
        pass
