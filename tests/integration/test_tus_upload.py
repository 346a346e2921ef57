"""Resumable, verified upload through the real tuspy client to a real server on loopback."""

import base64
import hashlib
import random
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.conftest import LiveServer
from tests.factories.media import sha256_file, tiny_recording
from tests.factories.people import make_force
from witnessbox.bootstrap import build
from witnessbox.core.actor import SYSTEM

TUS = {"Tus-Resumable": "1.0.0"}


def _register(server: LiveServer, serial: str = "WBX00001") -> str:
    container = build(server.settings)
    try:
        make_force(container, camera=serial)
        return container.devices.register_dock("station-1", cameras=[serial], actor=SYSTEM)[1]
    finally:
        container.close()


def _metadata(path: Path, sha256: str | None = None, camera: str = "WBX00001") -> dict[str, str]:
    return {"filename": path.name, "sha256": sha256 or sha256_file(path), "camera": camera,
            "started_at": "2026-11-26T08:30:00Z"}


def _items(server: LiveServer, token: str, sha256: str) -> list[dict[str, object]]:
    """The items holding these bytes, as the camera's officer sees them (a dock learns only held / verified)."""
    with server.owner() as owner:
        return _owners_items(owner, sha256)


def _owners_items(owner: httpx.Client, sha256: str) -> list[dict[str, object]]:
    response = owner.get("/api/v1/items", params={"sha256": sha256})
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def _wait_ready(server: LiveServer, token: str, sha256: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    with server.owner() as owner:
        while time.monotonic() < deadline:
            items = _owners_items(owner, sha256)
            if items and items[0]["state"] != "processing":
                return items[0]
            time.sleep(0.2)
    raise AssertionError("item never left processing")


def test_tuspy_upload_creates_one_verified_playable_item(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a registered camera and dock WHEN tuspy uploads a recording THEN one item appears, verified and playable."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera")
    client = TusClient(f"{live_server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
    client.uploader(str(clip), chunk_size=50_000, metadata=_metadata(clip)).upload()
    item = _wait_ready(live_server, token, sha256_file(clip))
    assert item["state"] == "ready", item
    assert item["verified"] is True and item["size"] == clip.stat().st_size
    assert item["officer"] == "1142 Alex Morgan" and item["camera"] == "WBX00001"
    with live_server.owner() as admin:
        original = admin.get(str(item["original"]))
        assert hashlib.sha256(original.content).hexdigest() == item["sha256"]
        assert original.headers["etag"] == f'"{item["sha256"]}"'
        assert original.headers["accept-ranges"] == "bytes"
        part = admin.get(str(item["proxy"]), headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and len(part.content) == 100
        assert part.headers["content-range"].endswith(f"/{admin.get(str(item['proxy'])).headers['content-length']}")


def test_wrong_declared_hash_is_refused_and_nothing_stored(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a dock declaring the wrong SHA-256 WHEN the last byte arrives THEN 422 with the reason, and no item."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera")
    wrong = hashlib.sha256(b"something else").hexdigest()
    client = TusClient(f"{live_server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(str(clip), chunk_size=1 << 30, metadata=_metadata(clip, wrong))
    with pytest.raises(TusCommunicationError) as refused:
        uploader.upload()
    assert refused.value.status_code == 422
    assert b"differs from the one declared" in refused.value.response_content
    assert _items(live_server, token, wrong) == []
    assert _items(live_server, token, sha256_file(clip)) == []
    assert list((live_server.settings.data_dir / "uploads").iterdir()) == []


@pytest.mark.parametrize(("metadata", "length", "status", "says"), [
    ({"filename": "a.mp4", "camera": "WBX00001", "started_at": "2026-11-26T08:30:00Z"}, 10, 400, "sha256"),
    ({"filename": "a.mp4", "sha256": "zz", "camera": "WBX00001", "started_at": "2026-11-26T08:30:00Z"}, 10, 400, "64 hex"),
    ({"filename": "a.mp4", "sha256": "a" * 64, "camera": "NOPE", "started_at": "2026-11-26T08:30:00Z"}, 10, 400, "unknown camera"),
    ({"filename": "a.mp4", "sha256": "a" * 64, "camera": "WBX00001", "started_at": "yesterday"}, 10, 400, "ISO 8601"),
    ({"filename": "a.mp4", "sha256": "a" * 64, "camera": "WBX00001", "started_at": "2026-11-26T08:30:00"}, 10, 400, "time zone"),
    ({"filename": "a.mp4", "sha256": "a" * 64, "camera": "WBX00001", "started_at": "2026-11-26T08:30:00Z"}, 0, 400, "positive"),
    ({"filename": "a.mp4", "sha256": "a" * 64, "camera": "WBX00001", "started_at": "2026-11-26T08:30:00Z"}, 1 << 50, 413, "maximum"),
])
def test_bad_creation_requests_get_a_clear_4xx(live_server: LiveServer, metadata: dict[str, str],
                                              length: int, status: int, says: str) -> None:
    """GIVEN bad metadata, an unknown camera or a bad length WHEN creating THEN a 4xx names the problem."""
    token = _register(live_server)
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())
    response = httpx.post(f"{live_server.url}/api/v1/uploads/", headers={
        **TUS, "Authorization": f"Bearer {token}", "Upload-Length": str(length),
        "Upload-Metadata": header})
    assert response.status_code == status
    assert says in response.json()["error"]


def test_protocol_errors(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN an upload WHEN a client sends a wrong offset, wrong type, bad checksum or no tus version THEN 409/415/460/412."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera")
    auth = {"Authorization": f"Bearer {token}"}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in _metadata(clip).items())
    created = httpx.post(f"{live_server.url}/api/v1/uploads/", headers={
        **TUS, **auth, "Upload-Length": str(clip.stat().st_size), "Upload-Metadata": header})
    assert created.status_code == 201
    url = f"{live_server.url}{created.headers['location']}"
    patch = {**TUS, **auth, "Content-Type": "application/offset+octet-stream"}
    assert httpx.patch(url, content=b"abc", headers={**patch, "Upload-Offset": "5"}).status_code == 409
    assert httpx.patch(url, content=b"abc", headers={**patch, "Upload-Offset": "0",
                                                     "Content-Type": "text/plain"}).status_code == 415
    bad_sum = base64.b64encode(hashlib.sha256(b"xyz").digest()).decode()
    response = httpx.patch(url, content=b"abc", headers={**patch, "Upload-Offset": "0",
                                                         "Upload-Checksum": f"sha256 {bad_sum}"})
    assert response.status_code == 460
    assert httpx.head(url, headers={**TUS, **auth}).headers["upload-offset"] == "0"
    no_version = httpx.head(url, headers=auth)
    assert no_version.status_code == 412 and no_version.headers["tus-version"] == "1.0.0"
    assert httpx.head(url, headers=TUS).status_code == 401
    assert httpx.delete(url, headers={**TUS, **auth}).status_code == 204
    assert httpx.head(url, headers={**TUS, **auth}).status_code == 410


def test_options_advertises_extensions(live_server: LiveServer) -> None:
    """GIVEN the server WHEN asked with OPTIONS THEN it lists the tus extensions and checksum algorithms."""
    response = httpx.options(f"{live_server.url}/api/v1/uploads/")
    assert response.status_code == 204
    extensions = set(response.headers["tus-extension"].split(","))
    assert {"creation", "creation-with-upload", "termination", "checksum", "expiration"} <= extensions
    assert "sha256" in response.headers["tus-checksum-algorithm"]


def test_same_bytes_uploaded_twice_make_one_item(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a recording already uploaded WHEN a dock uploads the same bytes again THEN the existing item answers."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera")
    client = TusClient(f"{live_server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
    for _ in range(3):
        client.uploader(str(clip), chunk_size=1 << 30, metadata=_metadata(clip)).upload()
    assert len(_items(live_server, token, sha256_file(clip))) == 1


class Cutter:
    """A loopback TCP proxy that cuts every connection after a random number of bytes."""

    def __init__(self, target_port: int, seed: int) -> None:
        self.random = random.Random(seed)
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            budget = [self.random.randint(20_000, 400_000)]
            threading.Thread(target=self._pipe, args=(downstream, upstream, budget), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, downstream, None), daemon=True).start()

    def _pipe(self, source: object, sink: object, budget: list[int] | None) -> None:
        try:
            while data := source.recv(65536):  # type: ignore[attr-defined]
                if budget is not None:
                    budget[0] -= len(data)
                    if budget[0] < 0:
                        self.cuts += 1
                        break
                sink.sendall(data)  # type: ignore[attr-defined]
        except OSError:
            pass
        finally:
            # shutdown, not just close: the other direction's thread is blocked in recv.
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
                except OSError:
                    pass
                end.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_connection_cut_at_random_offsets_still_arrives_whole_once(
        live_server: LiveServer, tmp_path: Path, seed: int) -> None:
    """GIVEN a network that cuts connections at random byte counts WHEN tuspy uploads with retries THEN the file arrives whole, once."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera", seconds=8, seed=seed)
    cutter = Cutter(live_server.port, seed)
    try:
        client = TusClient(f"http://127.0.0.1:{cutter.port}/api/v1/uploads/",
                           headers={"Authorization": f"Bearer {token}"})
        uploader = client.uploader(str(clip), chunk_size=1 << 30, metadata=_metadata(clip),
                                   retries=200, retry_delay=0)
        uploader.upload()
    finally:
        cutter.close()
    assert cutter.cuts > 0
    item = _wait_ready(live_server, token, sha256_file(clip))
    assert item["state"] == "ready" and item["verified"]
    assert len(_items(live_server, token, sha256_file(clip))) == 1


def test_server_killed_mid_upload_resumes_after_restart(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN an upload half done WHEN the server is killed -9 and restarted THEN HEAD reports the kept offset and tuspy finishes it."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera", seconds=6)
    size = clip.stat().st_size
    client = TusClient(f"{live_server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(str(clip), chunk_size=size // 3, metadata=_metadata(clip))
    uploader.upload(stop_at=size // 3)
    assert uploader.offset == size // 3
    live_server.kill()
    live_server.start()
    resumed = client.uploader(str(clip), chunk_size=size // 3, url=uploader.url, metadata=_metadata(clip))
    assert resumed.offset == size // 3
    resumed.upload()
    item = _wait_ready(live_server, token, sha256_file(clip))
    assert item["state"] == "ready" and item["verified"]
    assert list((live_server.settings.data_dir / "uploads").iterdir()) == []
