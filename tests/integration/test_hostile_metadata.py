"""Hostile Upload-Metadata against a live server: a 400 with the reason, and nothing left behind."""

import base64

import httpx
from sqlalchemy import func, select

from tests.conftest import LiveServer
from tests.factories.people import make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM
from witnessbox.ingest.models import Upload

TUS = {"Tus-Resumable": "1.0.0"}
REQUIRED = {"filename": "a.mp4", "sha256": "a" * 64, "camera": "WBX00001", "started_at": "2026-11-26T08:30:00Z"}
CAMERA_METADATA = [
    ("[" * 20_000, "nested deeper"),
    ('{"gps": ' + "[" * 9 + "]" * 9 + "}", "nested deeper"),
    ('{"gps": [], "gps": [{"t": 0, "lat": 1, "lon": 1}]}', "repeated key"),
    ('{"bookmarks": [{"t": NaN, "label": "x"}]}', "NaN"),
    ('{"model": "\\u0000"}', "NUL"),
    ('{"model": "\\udfff"}', "surrogate"),
    ('{"n": ' + "7" * 6000 + "}", "not valid JSON"),
]


def _encode(pairs: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode('utf-8', 'surrogatepass')).decode()}" for k, v in pairs.items())


def _dock_token(server: LiveServer) -> str:
    container = build(server.settings)
    try:
        make_force(container)
        return container.devices.register_dock("station-1", actor=SYSTEM)[1]
    finally:
        container.close()


def _create(server: LiveServer, token: str, header: str | bytes) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/uploads/", headers={
        **TUS, "Authorization": f"Bearer {token}", "Upload-Length": "1000", "Upload-Metadata": header})


def _uploads_left(server: LiveServer) -> tuple[int, list[str]]:
    container = build(server.settings, migrate=False)
    try:
        with container.db.read() as session:
            rows = session.scalar(select(func.count()).select_from(Upload)) or 0
    finally:
        container.close()
    return rows, [p.name for p in (server.settings.data_dir / "uploads").glob("*")]


def test_hostile_metadata_is_a_400_with_the_reason_and_leaves_nothing(live_server: LiveServer) -> None:
    """GIVEN a registered dock WHEN it creates uploads with hostile metadata THEN each is a 400 naming the problem, never a 500, and no upload row or file is left."""
    token = _dock_token(live_server)
    headers: list[tuple[str | bytes, str]] = [(_encode({**REQUIRED, "camera_metadata": text}), says) for text, says in CAMERA_METADATA]
    headers += [
        (_encode({**REQUIRED, **{f"k{i}": "v" for i in range(40)}}), "more than 32 keys"),
        (_encode({**REQUIRED, "camera": "W" * 5000}), "camera must be"),
        (_encode({**REQUIRED, "filename": "\x00.mp4"}), "NUL"),
        ((_encode(REQUIRED) + ",note \u00e9\u00e9==").encode(), "base64"),  # raw UTF-8 bytes in the header
    ]
    for header, says in headers:
        response = _create(live_server, token, header)
        assert response.status_code == 400, (says, response.status_code, response.text[:200])
        assert says in response.json()["error"]
    assert _uploads_left(live_server) == (0, [])


def test_hostile_upload_length_is_a_400(live_server: LiveServer) -> None:
    """GIVEN a dock WHEN Upload-Length is thousands of digits THEN a 400 says what a length must be, never a 500."""
    token = _dock_token(live_server)
    response = httpx.post(f"{live_server.url}/api/v1/uploads/", headers={
        **TUS, "Authorization": f"Bearer {token}", "Upload-Length": "9" * 5000, "Upload-Metadata": _encode(REQUIRED)})
    assert response.status_code == 400 and "at most 19 digits" in response.json()["error"]
