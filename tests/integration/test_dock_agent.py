"""The dock agent end to end: hash at source, upload, confirm, wipe — and never wipe on doubt."""

import hashlib
import threading
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.conftest import LiveServer
from tests.factories.media import sha256_file, tiny_recording
from tests.factories.people import ISSUED, make_force
from witnessbox.bootstrap import build
from witnessbox.cli import app
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings


def _setup(server: LiveServer, serials: list[str]) -> str:
    container = build(server.settings)
    try:
        make_force(container, camera=None)
        for serial in serials:
            container.devices.register_camera(serial, actor=SYSTEM)
            container.devices.assign(serial, "1142", actor=SYSTEM, starts_at=ISSUED)
        return container.devices.register_dock("station-1", cameras=serials, actor=SYSTEM)[1]
    finally:
        container.close()


def test_dock_command_uploads_confirms_and_wipes(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN two docked cameras WHEN `witnessbox dock` runs THEN every recording is on the server, verified, and wiped."""
    token = _setup(live_server, ["WBX00001", "WBX00002"])
    cameras = tmp_path / "cameras"
    clips = [tiny_recording(cameras / serial, serial=serial, seed=n)
             for n, serial in enumerate(["WBX00001", "WBX00002"])]
    hashes = [sha256_file(c) for c in clips]
    result = CliRunner().invoke(app, ["dock", "--server", live_server.url, "--token", token,
                                      str(cameras / "WBX00001"), str(cameras / "WBX00002")],
                                env={"HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert not any(c.exists() or c.with_suffix(".json").exists() for c in clips)
    with live_server.owner() as admin:
        for digest in hashes:
            items = admin.get("/api/v1/items", params={"sha256": digest}).json()
            assert len(items) == 1 and items[0]["verified"]
            assert items[0]["gps_track"] and items[0]["bookmarks"]


def test_unknown_camera_is_refused_and_not_wiped(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a camera the server does not know WHEN docked THEN the upload is refused and the file stays."""
    token = _setup(live_server, [])
    clip = tiny_recording(tmp_path / "cameras" / "WBX00009", serial="WBX00009")
    agent = DockAgent(live_server.url, token, state_dir=tmp_path / "state", retries=1,
                      retry_delay_s=0)
    outcomes = agent.upload_all(find_recordings([tmp_path / "cameras"]))
    assert [o.ok for o in outcomes] == [False]
    assert "unknown camera" in outcomes[0].message
    assert clip.exists()


def test_server_killed_mid_upload_dock_resumes_and_file_arrives_once(
        live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a dock uploading WHEN the server is killed -9 mid-upload and restarted THEN the dock resumes; one whole item; then wiped."""
    token = _setup(live_server, ["WBX00001"])
    clip = tiny_recording(tmp_path / "cameras" / "WBX00001", seconds=20, seed=7)
    digest = sha256_file(clip)
    agent = DockAgent(live_server.url, token, state_dir=tmp_path / "state", retries=30,
                      retry_delay_s=0.5, chunk_size=64 * 1024)
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.extend(
        agent.upload_all(find_recordings([tmp_path / "cameras"]))))
    worker.start()
    staging = live_server.settings.data_dir / "uploads"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        parts = list(staging.glob("*.part")) if staging.exists() else []
        if parts and parts[0].stat().st_size > 0:
            break
        time.sleep(0.01)
    live_server.kill()
    time.sleep(0.5)
    live_server.start()
    worker.join(120)
    assert outcome and outcome[0].ok, outcome  # type: ignore[attr-defined]
    assert not clip.exists()
    with live_server.owner() as admin:
        items = admin.get("/api/v1/items", params={"sha256": digest}).json()
        assert len(items) == 1
        original = admin.get(items[0]["original"])
        assert hashlib.sha256(original.content).hexdigest() == digest


def test_listing_requires_a_credential(live_server: LiveServer) -> None:
    """GIVEN no credential WHEN listing items THEN 401."""
    assert httpx.get(f"{live_server.url}/api/v1/items").status_code == 401
