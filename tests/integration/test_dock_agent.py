"""The dock agent end to end: hash at source, upload, confirm, wipe — and never wipe on doubt."""

import ctypes
import hashlib
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import LiveServer
from tests.factories.media import STARTED, copy_recording, sha256_file, tiny_recording
from tests.factories.people import ISSUED, make_force
from witnessbox.bootstrap import build
from witnessbox.cli import app
from witnessbox.core.actor import SYSTEM
from witnessbox.dock.agent import DockAgent
from witnessbox.dock.recordings import find_recordings

pytestmark = pytest.mark.backend_free  # the camera side, media and files: the same on any database


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


# --- files the dock cannot send, and a dock that cannot work at all -------------------------------


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _without_root_file_access() -> None:
    """Root reads any file: drop the two capabilities that allow it, so file modes count for the dock."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _dock(server: LiveServer, token: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`witnessbox dock` as its own process, with file modes enforced even when the tests run as root."""
    return subprocess.run(
        [sys.executable, "-m", "witnessbox", "dock", "--server", server.url, "--token", token, *args],
        env={**os.environ, "HOME": str(home), "COLUMNS": "120"}, capture_output=True, text=True,
        timeout=120, preexec_fn=_without_root_file_access if os.geteuid() == 0 else None, check=False,
    )


def test_empty_and_unreadable_files_are_reported_and_kept_at_once(
        live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a camera folder with a good recording, a 0-byte file and an unreadable file
    WHEN `witnessbox dock` runs THEN the good one is uploaded and wiped, the two others are reported
    by name with the reason and kept, within seconds, and the exit status says something was kept."""
    token = _setup(live_server, ["WBX00001"])
    folder = tmp_path / "cameras" / "WBX00001"
    good = tiny_recording(folder, seed=3)
    empty = folder / "WBX00001_20261126_090000.MP4"
    empty.touch()
    locked = copy_recording(tiny_recording(tmp_path / "spare", seed=4, started_at=STARTED.replace(hour=10)),
                            folder)
    locked.chmod(0o000)
    started = time.monotonic()
    result = _dock(live_server, token, tmp_path, str(folder))
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert elapsed < 60, f"took {elapsed:.0f} s"
    output = " ".join((result.stdout + result.stderr).split())
    assert f"kept {empty}: empty file (0 bytes)" in output
    assert f"kept {locked}: cannot be read (permission denied)" in output
    assert "Traceback" not in output
    assert not good.exists() and empty.exists() and locked.exists()


def test_camera_that_will_not_be_wiped_is_reported(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a camera folder the dock may read but not change WHEN `witnessbox dock` runs
    THEN the recording is uploaded and confirmed, and reported as kept because it could not be wiped."""
    token = _setup(live_server, ["WBX00001"])
    folder = tmp_path / "cameras" / "WBX00001"
    clip = tiny_recording(folder)
    digest = sha256_file(clip)
    folder.chmod(0o555)
    try:
        result = _dock(live_server, token, tmp_path, str(folder))
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1, result.stdout + result.stderr
    output = " ".join(result.stdout.split())
    assert f"kept {clip}: uploaded and confirmed, but not wiped (permission denied)" in output
    assert clip.exists()
    with live_server.owner() as officer:
        [item] = officer.get("/api/v1/items", params={"sha256": digest}).json()
    assert item["verified"]


def test_missing_folder_is_one_line_error(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a folder that does not exist WHEN `witnessbox dock` runs THEN one line says so and it exits non-zero."""
    token = _setup(live_server, [])
    missing = tmp_path / "no-such-camera"
    result = _dock(live_server, token, tmp_path, str(missing))
    assert result.returncode == 2
    assert result.stdout.strip() == "" and result.stderr.strip() == f"error: no such folder: {missing}"


def test_wrong_or_revoked_token_is_one_line_error(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN a wrong token, then a revoked one WHEN `witnessbox dock` runs THEN each is one line and exit 2,
    and the recording stays on the camera."""
    token = _setup(live_server, ["WBX00001"])
    folder = tmp_path / "cameras" / "WBX00001"
    clip = tiny_recording(folder)
    wrong = _dock(live_server, token + "x", tmp_path, str(folder))
    container = build(live_server.settings)
    try:
        container.devices.revoke_dock("station-1", actor=SYSTEM)
    finally:
        container.close()
    revoked = _dock(live_server, token, tmp_path, str(folder))
    for result in (wrong, revoked):
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"error: {live_server.url} refused this dock's token (wrong or revoked): ask an administrator "
            "for the dock's current token")
    assert clip.exists()


def test_unreachable_server_is_one_line_error(tmp_path: Path) -> None:
    """GIVEN no server at the address WHEN the dock runs THEN one line names the address and it exits 2."""
    folder = tmp_path / "cameras"
    folder.mkdir()
    result = CliRunner().invoke(app, ["dock", "--server", "http://127.0.0.1:9", "--token", "t", str(folder)])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: cannot reach the server at http://127.0.0.1:9")
    assert "Traceback" not in result.output


def test_progress_shows_true_sizes(live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN two recordings WHEN the dock uploads them THEN each bar's total is the file's size (not twice it)
    and the overall bar ends at the sum of the sizes, completed."""
    token = _setup(live_server, ["WBX00001"])
    folder = tmp_path / "cameras" / "WBX00001"
    clips = [tiny_recording(folder, seed=n, started_at=STARTED.replace(minute=n)) for n in (1, 2)]
    sizes = [c.stat().st_size for c in clips]
    agent = DockAgent(live_server.url, token, state_dir=tmp_path / "state",
                      console=Console(file=io.StringIO(), width=120))
    with agent.progress() as progress:
        outcomes = agent.upload_all(find_recordings([folder]), progress)
        tasks = {task.description: task for task in progress.tasks}
    assert all(o.ok for o in outcomes)
    overall = tasks["all recordings"]
    assert overall.total == overall.completed == sum(sizes)
    for clip, size in zip(clips, sizes, strict=True):
        task = tasks[clip.name]
        assert task.total == task.completed == size
