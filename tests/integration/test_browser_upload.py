"""Footage handed in, uploaded over tus by a person's browser session: who may, and whose it becomes."""

import base64
import hashlib
import time
from pathlib import Path

import httpx

from tests.conftest import LiveServer
from tests.factories.media import tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM
from witnessbox.evidence.search import Filters

TUS = {"Tus-Resumable": "1.0.0"}


def _metadata(sha256: str, **extra: str) -> str:
    values = {"filename": "phone.mp4", "sha256": sha256, "camera": "Phone video",
              "started_at": "2026-11-26T21:05:00Z", **extra}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _create(client: httpx.Client, data: bytes, metadata: str, **headers: str) -> httpx.Response:
    return client.post("/api/v1/uploads/", content=data, headers={
        **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata,
        "Content-Type": "application/offset+octet-stream", **headers})


def test_a_person_uploads_handed_in_footage_and_it_becomes_theirs(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN an officer signed in WHEN their session uploads a phone video declaring source and description
    (with the CSRF header) THEN one item, attributed to them and their team, listed under the source's label,
    with the source kept and found by its description; without the CSRF header, with an unknown source, or from a dock, it is refused;
    the upload page is for people who may upload."""
    container = build(live_server.settings)
    try:
        force = make_force(container, camera=None)
        dock_token = container.devices.register_dock("station-1", actor=SYSTEM)[1]
    finally:
        container.close()
    data = tiny_recording(tmp_path).read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    handed_in = _metadata(sha256, source="phone", description="  Witness W1's phone,\n exhibit PV/2 ")

    with live_server.owner() as owner:
        csrf = owner.get("/api/v1/me").json()["csrf_token"]
        assert owner.get("/upload").status_code == 200
        assert _create(owner, data, handed_in).status_code == 403  # no CSRF header
        unknown = _create(owner, data, _metadata(sha256, source="drone"), **{"X-CSRF-Token": csrf})
        assert unknown.status_code == 400 and "source must be one of" in unknown.json()["error"]
        created = _create(owner, data, handed_in, **{"X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text
        item_id = created.headers["witnessbox-item"]
    with httpx.Client(base_url=live_server.url) as bare:
        dock = _create(bare, data, _metadata("b" * 64, source="cctv"), Authorization=f"Bearer {dock_token}")
    assert dock.status_code == 403 and "handed-in" in dock.json()["error"]
    with live_server.signed_in(PERSONAS["auditor"][0], PASSWORD) as auditor:
        assert auditor.get("/upload").status_code == 403

    container = build(live_server.settings)
    try:
        deadline = time.monotonic() + 60
        while (item := container.evidence.get(item_id)).state == "processing":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        owner_actor = force.actor("owner")
        assert (item.state, item.sha256, item.camera_serial, item.camera_id) == ("ready", sha256, "Phone video", None)
        assert (item.officer_id, item.officer, item.dock_id) == (owner_actor.id, "1142 Alex Morgan", None)
        assert item.team_id in owner_actor.teams
        assert item.recorded_start.isoformat().startswith("2026-11-26T21:05:00")
        assert item.camera_metadata == {"handed_in": {
            "source": "phone", "description": "Witness W1's phone, exhibit PV/2", "uploaded_by": "1142 Alex Morgan"}}
        found = container.search.search(owner_actor, Filters(text="witness pv"))
        assert [i.id for i in found.items] == [item_id]  # found by the words of its description
    finally:
        container.close()
