"""The restore drill of docs/operations.md on SQLite and the local store: back up, wipe, restore, and
let `witnessbox audit verify` and `witnessbox storage scrub` accept the restored system.

Everything runs as an operator would: the sqlite3 tool's online backup, a copy of the store and the key,
the witnessbox commands as processes. The anchor directory stays where it is (it is the copy outside the
server's reach), so the restored trail is checked against the checkpoints anchored before the loss.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL, LiveServer, free_port
from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import tiny_recording
from tests.factories.people import make_force
from witnessbox.bootstrap import build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM

pytestmark = pytest.mark.skipif(
    PG_URL is not None, reason="the drill on SQLite and local files; PostgreSQL's pg_dump is in the guide"
)


def _witnessbox(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """A witnessbox command against this system, as an operator runs it."""
    env = LiveServer(settings=settings, port=free_port(), log=Path("/dev/null")).env()
    env["WITNESSBOX_AUDIT_ANCHOR_DIR"] = str(settings.audit_anchor_dir)
    return subprocess.run([sys.executable, "-m", "witnessbox", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def _system_with_evidence(settings: Settings, folder: Path) -> list[str]:
    """Two recordings ingested and processed (originals, proxies, thumbnails), and the audit trail
    sealed and anchored; the item ids."""
    container = build(settings)
    try:
        sent = hold_jobs(container)
        make_force(container)
        items = [
            upload_bytes(container, tiny_recording(folder / f"cam-{seed}", seed=seed).read_bytes(),
                         filename=f"drill-{seed}.mp4")
            for seed in range(2)
        ]
        while sent.sent:
            container.jobs.run(sent.sent.pop(0)[0])
        assert {container.evidence.get(item).state for item in items} == {"ready"}
        container.anchoring.seal_and_anchor(actor=SYSTEM)
        return items
    finally:
        container.close()


def _back_up(data: Path, backup: Path) -> None:
    """The guide's backup, in its order: the database online, then the store, then the key."""
    backup.mkdir()
    subprocess.run(["sqlite3", str(data / "witnessbox.db"), f".backup {backup / 'witnessbox.db'}"], check=True)
    shutil.copytree(data / "blobs", backup / "blobs", ignore=shutil.ignore_patterns("tmp"))
    shutil.copytree(data / "keys", backup / "keys")


def _restore(backup: Path, data: Path) -> None:
    """The guide's restore onto an empty data directory."""
    data.mkdir()
    shutil.copy2(backup / "witnessbox.db", data / "witnessbox.db")
    shutil.copytree(backup / "blobs", data / "blobs")
    shutil.copytree(backup / "keys", data / "keys")


def test_a_system_backed_up_wiped_and_restored_passes_verify_and_the_scrub(
    settings: Settings, tmp_path: Path
) -> None:
    """GIVEN a system with processed recordings and an anchored audit trail, backed up as the guide says
    WHEN its data directory is wiped and the backup restored THEN `audit verify` proves the trail and
    its anchors and `storage scrub` re-reads every object whole (both exit 0), and the items are there;
    AND a restore that lost one stored file is not accepted: the scrub exits 1 naming the item."""
    settings.audit_anchor_dir = tmp_path / "anchors"
    items = _system_with_evidence(settings, tmp_path)
    data, backup = settings.data_dir, tmp_path / "backup"
    _back_up(data, backup)

    shutil.rmtree(data)
    _restore(backup, data)

    verified = _witnessbox(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK:" in verified.stdout and "warning" not in verified.stdout
    scrubbed = _witnessbox(settings, "storage", "scrub", "--rate", "0")
    assert scrubbed.returncode == 0, scrubbed.stdout + scrubbed.stderr
    assert "no open findings" in scrubbed.stdout
    container = build(settings)
    try:
        assert {container.evidence.get(item).state for item in items} == {"ready"}
        lost = container.evidence.get(items[0]).sha256
    finally:
        container.close()

    next(path for path in (data / "blobs").rglob(lost)).unlink()
    refused = _witnessbox(settings, "storage", "scrub", "--rate", "0")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert items[0] in " ".join(refused.stdout.split())
