"""Handed-in footage as the README describes it: the metadata it names is what the server takes, and the
uploader's description shows on the item page and in the item API."""

import base64
import hashlib
import time
from pathlib import Path

import httpx

from tests.conftest import LiveServer
from tests.factories.media import tiny_recording
from tests.factories.people import make_force
from witnessbox.bootstrap import build

TUS = {"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}
DESCRIPTION = "Shop CCTV handed in by the manager of 12 High Street, exhibit JB/1"


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _ready(server: LiveServer, item_id: str, client: httpx.Client) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while (item := client.get(f"/api/v1/items/{item_id}").json())["state"] == "processing":
        assert time.monotonic() < deadline, item
        time.sleep(0.2)
    return dict(item)


def test_the_readmes_metadata_is_accepted_and_the_description_is_shown(
        live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN an officer with a CCTV file WHEN they upload it with the README's keys only (filename, sha256, started_at, source, description; no camera) THEN it is accepted, the item API carries source and description, and the item page shows the description."""
    container = build(live_server.settings)
    try:
        make_force(container, camera=None)
    finally:
        container.close()
    data = tiny_recording(tmp_path).read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    metadata = _metadata(filename="till.mp4", sha256=sha256, started_at="2026-07-06T13:05:00+01:00",
                         source="cctv", description=DESCRIPTION)
    with live_server.owner() as owner:
        csrf = owner.get("/api/v1/me").json()["csrf_token"]
        created = owner.post("/api/v1/uploads/", content=data, headers={
            **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata, "X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text
        item_id = created.headers["witnessbox-item"]
        item = _ready(live_server, item_id, owner)
        page = owner.get(f"/items/{item_id}", headers={"Accept": "text/html"})
    assert (item["source"], item["description"], item["camera"]) == ("cctv", DESCRIPTION, "CCTV")
    assert str(item["recorded_start"]).startswith("2026-07-06T12:05:00")  # kept in UTC
    assert page.status_code == 200 and DESCRIPTION in page.text and "Handed in" in page.text


def test_the_item_schema_documents_source_and_description(live_server: LiveServer) -> None:
    """GIVEN the item API's schema WHEN read THEN source and description are documented fields of an item."""
    schema = httpx.get(f"{live_server.url}/api/openapi.json").json()["components"]["schemas"]["ItemOut"]
    assert {"source", "description"} <= set(schema["properties"])
    assert "handed-in" in schema["properties"]["description"]["description"]
