"""The recipient portal over a real server: the sharer's API and pages, the link and code, range
requests of a playing video, and what happens on the very next request after revoke or expiry."""

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.ingest import upload_bytes
from tests.factories.items import ready_item
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import actor_for
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.evidence.models import ItemState

PORTAL_COOKIE = "wbx_portal"


@dataclass
class World:
    """A running server with one ready recording in a case the disclosure officer works."""

    server: LiveServer
    container: Container
    item_id: str
    case_id: str
    sharer: httpx.Client
    csrf: str

    def share(self, **change: Any) -> dict[str, Any]:
        """Share the case with a prosecutor through the API (link and code come back: no mail here)."""
        body: dict[str, Any] = {"recipient_name": "Priya Shah", "organisation": "CPS Wessex", "kind": "prosecutor",
                                "case_id": self.case_id,
                                "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()}
        body.update(change)
        created = self.sharer.post("/api/v1/external-shares", json=body, headers={"X-CSRF-Token": self.csrf})
        assert created.status_code == 201, created.text
        answer: dict[str, Any] = created.json()
        return answer

    def recipient(self, share: dict[str, Any]) -> httpx.Client:
        """A client signed in to the portal with the share's link and code."""
        client = httpx.Client(base_url=self.server.url, timeout=30)
        signed_in = client.post(httpx.URL(share["link"]).path, data={"code": share["code"]})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/portal", signed_in.text
        return client

    def revoke(self, share: dict[str, Any]) -> None:
        """The sharer withdraws the share."""
        answer = self.sharer.delete(f"/api/v1/external-shares/{share['id']}", headers={"X-CSRF-Token": self.csrf})
        assert answer.status_code == 204

    def tags(self, share: dict[str, Any], tag: AuditTag) -> list[AuditEvent]:
        """The audit entries of one kind about the shared item made by this share's recipient."""
        with self.container.db.read() as session:
            return [e for e in session.scalars(select(AuditEvent).where(AuditEvent.tag == tag))
                    if e.details.get("external_share") == share["id"]]


def _ready(container: Container, item_id: str) -> None:
    deadline = time.monotonic() + 90
    while container.evidence.get(item_id).state == ItemState.PROCESSING:
        assert time.monotonic() < deadline, "the recording was not processed"
        time.sleep(0.2)
    assert container.evidence.get(item_id).state == ItemState.READY


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server, one recording (a few seconds, tiny), one case, for the whole module."""
    folder = tmp_path_factory.mktemp("portal")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=2)
        container = build(settings)
        force = make_force(container)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            item_id = upload_bytes(container, tiny_recording(folder / "camera").read_bytes())
            _ready(container, item_id)
            investigator = force.actor("investigator")
            case = container.cases.create("CR/20002/26", "Robbery on Mill Lane", actor=investigator)
            container.cases.add_member(case.id, PERSONAS["case_member"][0], actor=investigator)
            container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=investigator,
                                         reason="building the robbery case file")
            container.cases.add_items(case.id, [item_id], actor=investigator)
            with server.signed_in(PERSONAS["case_member"][0], PASSWORD) as sharer:
                csrf = str(sharer.get("/api/v1/me").json()["csrf_token"])
                yield World(server, container, item_id, case.id, sharer, csrf)
        finally:
            server.stop()
            container.close()


def test_the_recipient_signs_in_sees_the_share_and_plays_with_range_requests(world: World) -> None:
    """GIVEN a case shared with a prosecutor WHEN they open the link, enter the code, open the recording and play it with range requests THEN each answers, nothing is cached, the page carries their watermark, and one play is audited with their name and address."""
    share = world.share()
    client = world.recipient(share)
    assert "Priya Shah" in client.get(httpx.URL(share["link"]).path).text
    listing = client.get("/portal")
    assert listing.status_code == 200 and f"/portal/items/{world.item_id}" in listing.text
    page = client.get(f"/portal/items/{world.item_id}")
    assert page.status_code == 200 and 'id="watermark"' in page.text and "Priya Shah, CPS Wessex" in page.text
    proxy = f"/portal/items/{world.item_id}/proxy"
    first = client.get(proxy, headers={"Range": "bytes=0-1023"})
    later = client.get(proxy, headers={"Range": "bytes=1024-2047"})
    assert (first.status_code, later.status_code) == (206, 206) and len(later.content) == 1024
    assert first.headers["cache-control"] == "no-store"
    [played] = world.tags(share, AuditTag.EVIDENCE_ITEM_PLAYED)
    assert (played.actor_kind, played.actor_name, played.source_address) == (
        "recipient", "Priya Shah, CPS Wessex", "127.0.0.1")
    assert client.get(f"/portal/items/{world.item_id}/thumbnails").status_code == 200
    assert client.get(f"/portal/items/{world.item_id}/original").status_code == 404  # not allowed by this share


def test_originals_download_only_when_the_share_allows_it_bit_identical(world: World) -> None:
    """GIVEN a share that allows downloads WHEN the recipient downloads the original THEN the bytes are the original's, audited as a download."""
    share = world.share(allow_original_download=True)
    client = world.recipient(share)
    assert "portal-download" in client.get(f"/portal/items/{world.item_id}").text
    original = client.get(f"/portal/items/{world.item_id}/original")
    assert original.status_code == 200
    assert hashlib.sha256(original.content).hexdigest() == world.container.evidence.get(world.item_id).sha256
    assert len(world.tags(share, AuditTag.EVIDENCE_ITEM_DOWNLOADED)) == 1


def test_a_revoked_share_serves_no_byte_on_the_next_range_request(world: World) -> None:
    """GIVEN a recipient playing the recording (range requests under way) WHEN the sharer revokes THEN the next range request, the page, the status and the thumbnails are refused (410) with no video bytes."""
    share = world.share()
    client = world.recipient(share)
    proxy = f"/portal/items/{world.item_id}/proxy"
    assert client.get(proxy, headers={"Range": "bytes=0-4095"}).status_code == 206
    assert client.get("/portal/status").json()["live"] is True
    world.revoke(share)
    refused = client.get(proxy, headers={"Range": "bytes=4096-8191"})
    assert refused.status_code == 410 and refused.headers["content-type"].startswith("application/json")
    assert "withdrawn" in refused.json()["error"]
    assert client.get("/portal/status").status_code == 410
    assert client.get(f"/portal/items/{world.item_id}/thumbnails").status_code == 410
    page = client.get(f"/portal/items/{world.item_id}", headers={"Accept": "text/html"})
    assert page.status_code == 410 and "withdrawn" in page.text
    assert client.post(httpx.URL(share["link"]).path, data={"code": share["code"]}).status_code == 410


def test_an_expired_share_serves_no_byte_on_the_next_range_request(world: World) -> None:
    """GIVEN a share that ends in a moment and a recipient playing it WHEN the end passes THEN the next range request is refused (410)."""
    ends = datetime.now(UTC) + timedelta(seconds=2)
    share = world.share(expires_at=ends.isoformat())
    client = world.recipient(share)
    proxy = f"/portal/items/{world.item_id}/proxy"
    assert client.get(proxy, headers={"Range": "bytes=0-1023"}).status_code == 206
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
    refused = client.get(proxy, headers={"Range": "bytes=1024-2047"})
    assert refused.status_code == 410 and "expired" in refused.json()["error"]


def test_a_recipient_reaches_nothing_beyond_the_share(world: World) -> None:
    """GIVEN a signed-in recipient WHEN they try the staff API, the staff item page, an item outside the share, or the portal with no cookie THEN each is refused and nothing is served."""
    client = world.recipient(world.share())
    owner = world.container.evidence.get(world.item_id).officer_id
    assert owner is not None
    outside = ready_item(world.container, actor_for(world.container.users.get(owner)), datetime.now(UTC), 5.0)
    for item_id in (outside, "0" * 26):
        for part in ("", "/proxy", "/thumbnails", "/original"):
            assert client.get(f"/portal/items/{item_id}{part}").status_code == 404, (item_id, part)
    for path in ("/api/v1/items", f"/api/v1/items/{world.item_id}/proxy", f"/api/v1/items/{world.item_id}",
                 "/api/v1/external-shares", "/api/v1/cases"):
        assert client.get(path).status_code == 401, path
    assert client.get(f"/items/{world.item_id}", headers={"Accept": "text/html"}).status_code == 303  # to /login
    bare = httpx.get(f"{world.server.url}/portal/items/{world.item_id}/proxy")
    assert bare.status_code == 401
    forged = httpx.get(f"{world.server.url}/portal/status", cookies={PORTAL_COOKIE: "made-up"})
    assert forged.status_code == 401


def test_wrong_codes_over_http_end_in_429_with_retry_after(world: World) -> None:
    """GIVEN a share WHEN five wrong codes are posted THEN four pages say the code is wrong (403) and the fifth answers 429 with Retry-After."""
    share = world.share()
    path = httpx.URL(share["link"]).path
    with httpx.Client(base_url=world.server.url) as client:
        answers = [client.post(path, data={"code": "WRONG-CODE1"}, headers={"Accept": "text/html"}) for _ in range(5)]
    assert [a.status_code for a in answers] == [403, 403, 403, 403, 429]
    assert "not right" in answers[0].text and int(answers[-1].headers["retry-after"]) > 0


def test_the_access_report_shows_who_opened_what_from_where(world: World) -> None:
    """GIVEN a recipient who signed in, opened and played the recording WHEN the sharer reads the access report (API and page) THEN both list those actions with the recipient's name and address."""
    share = world.share()
    client = world.recipient(share)
    client.get(f"/portal/items/{world.item_id}")
    client.get(f"/portal/items/{world.item_id}/proxy", headers={"Range": "bytes=0-"})
    report = world.sharer.get(f"/api/v1/external-shares/{share['id']}/access").json()
    actions = [entry["action"] for entry in report]
    assert actions[:1] == ["disclosure:share:created"]
    for action in ("disclosure:portal:signed_in", "evidence:item:viewed", "evidence:item:played"):
        assert action in actions
    recipient_entries = [e for e in report if e["actor_kind"] == "recipient"]
    assert {e["source_address"] for e in recipient_entries} == {"127.0.0.1"}
    page = world.sharer.get(f"/external-shares/{share['id']}")
    assert page.status_code == 200 and "evidence:item:played" in page.text and "Priya Shah" in page.text


def test_the_sharer_shares_a_case_from_its_page_and_sees_the_code_once(world: World) -> None:
    """GIVEN the case page WHEN the disclosure officer follows "Share outside the force" and submits the form THEN the page shows the link and code once; the share page later shows neither."""
    case_page = world.sharer.get(f"/cases/{world.case_id}")
    assert f"/external-shares/new?case_id={world.case_id}" in case_page.text
    assert world.sharer.get(f"/external-shares/new?case_id={world.case_id}").status_code == 200
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    created = world.sharer.post("/external-shares", data={
        "csrf_token": world.csrf, "case_id": world.case_id, "recipient_name": "Tom Price",
        "organisation": "Price & Co", "kind": "defence", "expires": day})
    assert created.status_code == 201 and 'id="share-code"' in created.text
    assert created.headers["cache-control"] == "no-store"
    refused = world.sharer.post("/external-shares", data={
        "csrf_token": world.csrf, "case_id": world.case_id, "recipient_name": "Tom Price",
        "organisation": "Price & Co", "kind": "defence", "expires": day, "email": "not an address"})
    assert refused.status_code == 400 and "email" in refused.text
    listing = world.sharer.get("/external-shares")
    assert "Tom Price" in listing.text
    share_id = listing.text.split('href="/external-shares/')[1].split('"')[0]
    assert 'id="share-code"' not in world.sharer.get(f"/external-shares/{share_id}").text


def test_sign_out_ends_the_portal_session(world: World) -> None:
    """GIVEN a signed-in recipient WHEN they sign out THEN the same cookie opens nothing."""
    client = world.recipient(world.share())
    cookie = client.cookies.get(PORTAL_COOKIE)
    assert client.post("/portal/sign-out").status_code == 200
    assert httpx.get(f"{world.server.url}/portal", cookies={PORTAL_COOKIE: cookie or ""}).status_code == 401
