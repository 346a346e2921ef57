"""The API and pages over a real server: sign-in, listing, playing, downloading with Range."""

import base64
import hashlib
import html
import time
from pathlib import Path

import httpx

from tests.conftest import LiveServer
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM

TUS = {"Tus-Resumable": "1.0.0"}


def _ready_item(server: LiveServer, tmp_path: Path, data: bytes | None = None) -> dict[str, object]:
    """Upload with creation-with-upload (one POST carrying all the bytes) and wait until processed."""
    container = build(server.settings)
    try:
        if container.users.by_collar_number("1142") is None:
            make_force(container)
        token = container.devices.register_dock("station-1", cameras=["WBX00001"], actor=SYSTEM)[1]
    finally:
        container.close()
    clip = tiny_recording(tmp_path / "camera")
    data = data if data is not None else clip.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    metadata = {"filename": clip.name, "sha256": digest, "camera": "WBX00001",
                "started_at": "2026-11-26T08:30:00Z"}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{server.url}/api/v1/uploads/", content=data, headers={
        **TUS, **auth, "Upload-Length": str(len(data)), "Upload-Metadata": header,
        "Content-Type": "application/offset+octet-stream"})
    assert created.status_code == 201, created.text
    assert created.headers["upload-offset"] == str(len(data))
    assert created.headers["witnessbox-item"]
    deadline = time.monotonic() + 60
    with server.owner() as owner:  # the dock learns held / verified only; its officer sees the item
        while time.monotonic() < deadline:
            [item] = owner.get("/api/v1/items", params={"sha256": digest}).json()
            if item["state"] != "processing":
                return item  # type: ignore[no-any-return]
            time.sleep(0.2)
    raise AssertionError("not processed")


def test_creation_with_upload_and_ranged_streaming(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a ready item WHEN the original and proxy are fetched with and without Range THEN lengths, ETags and bytes are exact."""
    item = _ready_item(live_server, tmp_path)
    with live_server.owner() as admin:
        full = admin.get(str(item["original"]))
        assert full.status_code == 200
        assert int(full.headers["content-length"]) == item["size"] == len(full.content)
        assert "attachment" in full.headers["content-disposition"]
        middle = item["size"] // 2  # type: ignore[operator]
        part = admin.get(str(item["original"]), headers={"Range": f"bytes={middle}-{middle + 9}"})
        assert part.status_code == 206 and part.content == full.content[middle : middle + 10]
        assert part.headers["content-range"] == f"bytes {middle}-{middle + 9}/{item['size']}"
        assert admin.get(str(item["original"]), headers={"Range": "bytes=999999999-"}).status_code == 416
        proxy = admin.get(str(item["proxy"]))
        assert proxy.headers["content-type"] == "video/mp4" and proxy.content[4:8] == b"ftyp"
        assert proxy.content.find(b"moov") < proxy.content.find(b"mdat"), "proxy is not faststart"
        thumbs = admin.get(str(item["thumbnails"]))
        assert thumbs.headers["content-type"] == "image/jpeg" and thumbs.content[:2] == b"\xff\xd8"


def test_pages_require_sign_in_and_show_the_player(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a ready item WHEN a browser visits without a session THEN it is sent to sign in; after, the list and the player show."""
    item = _ready_item(live_server, tmp_path)
    with httpx.Client(base_url=live_server.url) as browser:
        bounced = browser.get("/", headers={"Accept": "text/html"})
        assert bounced.status_code == 303 and bounced.headers["location"].startswith("/login")
        wrong = browser.post("/login", data={"username": "admin", "password": "nope"})
        assert wrong.status_code == 401 and "wrong username or password" in wrong.text
        signed_in = browser.post("/login", data={"username": "1142", "password": PASSWORD})
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        library = browser.get("/")
        assert item["id"] in library.text and "ready" in library.text
        page = browser.get(f"/items/{item['id']}")
        assert f'src="/api/v1/items/{item["id"]}/proxy"' in page.text and "<video" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert browser.post("/logout").status_code == 403, "sign-out without the CSRF token"
        csrf = browser.get("/api/v1/me").json()["csrf_token"]
        assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
        assert browser.get("/api/v1/items").status_code == 401


def test_quarantined_item_is_listed_with_its_reason(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a truncated recording WHEN uploaded THEN it is kept, quarantined, and the reason is shown to the administrator."""
    clip = tiny_recording(tmp_path / "source")
    truncated = clip.read_bytes()[: clip.stat().st_size // 2]
    item = _ready_item(live_server, tmp_path, truncated)
    assert item["state"] == "quarantined" and item["reason"]
    with live_server.owner() as admin:
        listed = admin.get("/api/v1/items", params={"state": "quarantined"}).json()
        assert [i["id"] for i in listed] == [item["id"]]
        original = admin.get(str(item["original"]))
        assert hashlib.sha256(original.content).hexdigest() == item["sha256"]
        assert str(item["reason"]) in html.unescape(admin.get("/").text)


def test_every_access_is_audited_and_the_chain_verifies(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a viewing session WHEN an item is viewed, played and downloaded THEN each is in the audit trail with address, and verify passes."""
    item = _ready_item(live_server, tmp_path)
    with live_server.owner() as admin:
        admin.get(f"/api/v1/items/{item['id']}")
        admin.get(str(item["proxy"]), headers={"Range": "bytes=0-"})
        admin.get(str(item["proxy"]), headers={"Range": "bytes=100-"})  # a seek: same viewing
        admin.get(str(item["original"]))
    container = build(live_server.settings)
    try:
        from sqlalchemy import select

        from witnessbox.audit.models import AuditEvent

        with container.db.read() as session:
            events = session.scalars(select(AuditEvent).where(AuditEvent.subject_id == item["id"])).all()
        tags = [e.tag for e in events]
        assert tags.count("evidence:item:viewed") == 1
        assert tags.count("evidence:item:played") == 1
        assert tags.count("evidence:item:downloaded") == 1
        viewed = next(e for e in events if e.tag == "evidence:item:viewed")
        assert viewed.actor_name == "1142 Alex Morgan" and viewed.source_address == "127.0.0.1" and viewed.request_id
        assert {"evidence:item:created", "evidence:item:verified", "evidence:item:ready"} <= set(tags)
        assert container.audit.verify().ok
    finally:
        container.close()
