"""A disk that fills, or fails, under an upload or a job: a clear 507/503, a true offset, completion once space returns.

The full disks are real: a small tmpfs mounted over the staging directory, the
evidence store or the jobs' scratch directory (the tests need root to mount and
skip, saying so, where mounting is not permitted). An I/O error is injected at
the one place staging writes bytes.
"""

import asyncio
import errno
import hashlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from tests.conftest import LiveServer
from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import STARTED, sha256_file, tiny_recording
from tests.factories.people import make_force
from tests.integration.test_tus_upload import TUS, _metadata, _register, _wait_ready
from witnessbox.bootstrap import Container
from witnessbox.core.actor import SYSTEM
from witnessbox.core.errors import StorageUnavailable
from witnessbox.ingest import staging
from witnessbox.ingest.metadata import Declaration
from witnessbox.jobs.models import JobRecord, JobState

pytestmark = pytest.mark.backend_free  # the camera side, media and files: the same on any database

DISK_BYTES = 8 * 1024 * 1024


@contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """Mount an 8 MiB tmpfs at `where` (skip the test, with the reason, where mounting is not permitted)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"a real full disk needs a tmpfs mount, which is not permitted here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk until `leave` bytes are free; delete the returned file to give the space back."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    filler.write_bytes(b"\0" * (free - leave))
    return filler


def _head(server: LiveServer, token: str, url: str) -> httpx.Response:
    return httpx.head(url, headers={**TUS, "Authorization": f"Bearer {token}"})


def test_staging_disk_full_is_507_head_keeps_offset_and_upload_completes_later(
        live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN the staging disk fills mid-upload WHEN tuspy sends the chunk that does not fit THEN 507 with the reason, HEAD gives the durable offset, and the upload finishes with the right hash once space returns."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera", seconds=6)
    size = clip.stat().st_size
    with small_disk(live_server.settings.data_dir / "uploads") as disk:
        filler = fill(disk, leave=size // 2)
        client = TusClient(f"{live_server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
        uploader = client.uploader(str(clip), chunk_size=size // 8, metadata=_metadata(clip))
        with pytest.raises(TusCommunicationError) as refused:
            uploader.upload()
        assert refused.value.status_code == 507
        assert "storage is full" in str(refused.value.response_content)
        head = _head(live_server, token, uploader.url)
        offset = int(head.headers["upload-offset"])
        assert head.status_code == 200 and 0 < offset < size and offset % (size // 8) == 0
        [part] = disk.glob("*.part")
        assert part.stat().st_size == offset  # what did not fit was cut back, the space given back
        filler.unlink()
        resumed = client.uploader(str(clip), chunk_size=size // 8, url=uploader.url, metadata=_metadata(clip))
        assert resumed.offset == offset
        resumed.upload()
        item = _wait_ready(live_server, token, sha256_file(clip))
        assert item["state"] == "ready" and item["verified"] and item["size"] == size
        assert list(disk.glob("*.part")) == []


def test_evidence_store_full_at_adoption_is_507_and_nothing_half_written_shows(
        live_server: LiveServer, tmp_path: Path) -> None:
    """GIVEN the evidence store's disk is full when the last byte arrives WHEN the upload is finished THEN 507, no blob or item appears, and a HEAD after space returns creates the item."""
    token = _register(live_server)
    clip = tiny_recording(tmp_path / "camera", seconds=6)
    size = clip.stat().st_size
    with small_disk(live_server.settings.data_dir / "blobs") as disk:
        (disk / "tmp").mkdir()
        filler = fill(disk, leave=size // 2)
        client = TusClient(f"{live_server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
        uploader = client.uploader(str(clip), chunk_size=size, metadata=_metadata(clip))
        with pytest.raises(TusCommunicationError) as refused:
            uploader.upload()
        assert refused.value.status_code == 507
        assert "evidence store" in str(refused.value.response_content)
        still = _head(live_server, token, uploader.url)
        assert still.status_code == 507 and still.headers["retry-after"]
        assert [p for p in disk.rglob("*") if p.is_file() and p != filler] == []
        filler.unlink()
        done = _head(live_server, token, uploader.url)
        assert done.status_code == 200 and done.headers["upload-offset"] == str(size)
        assert done.headers["witnessbox-item"]
        item = _wait_ready(live_server, token, sha256_file(clip))
        assert item["state"] == "ready" and item["verified"]


def test_scratch_disk_full_postpones_the_job_and_it_completes_later(container: Container, tmp_path: Path) -> None:
    """GIVEN the jobs' scratch disk is full WHEN the ingest job runs THEN it waits (queued, attempt not used, reason recorded), the item is not quarantined, and it becomes ready once space returns."""
    sent = hold_jobs(container)
    make_force(container)
    with small_disk(container.settings.data_dir / "scratch") as disk:
        filler = fill(disk, leave=4096)
        item_id = upload_bytes(container, tiny_recording(tmp_path, seconds=6).read_bytes())
        with container.db.read() as session:
            [job] = session.scalars(select(JobRecord))
        assert container.jobs.run(job.id) == JobState.QUEUED
        with container.db.read() as session:
            waiting = session.get(JobRecord, job.id)
            assert waiting is not None and waiting.attempts == 0 and "storage is full" in (waiting.error or "")
        assert sent.sent[-1] == (job.id, 60)
        assert container.evidence.get(item_id).state == "processing"
        assert [p for p in disk.iterdir() if p != filler] == []  # the scratch files went with the attempt
        filler.unlink()
        assert container.jobs.run(job.id) == JobState.SUCCEEDED
        assert container.evidence.get(item_id).state == "ready"


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start:start + 1000]


def test_io_error_while_staging_is_503_and_the_offset_stays_true(
        container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a disk that answers EIO halfway through a PATCH body WHEN the bytes are appended THEN StorageUnavailable (503, with Retry-After) says so, the offset is unchanged, and a later PATCH completes the upload."""
    make_force(container)
    hold_jobs(container)
    data = os.urandom(30_000)
    declaration = Declaration(filename="a.mp4", sha256=hashlib.sha256(data).hexdigest(), camera="WBX00001",
                              started_at=STARTED,
                              extra={}, camera_metadata=None)
    status = container.ingest.create(declaration, len(data), actor=SYSTEM)
    asyncio.run(container.ingest.append(status.id, 0, _body(data[:10_000]), actor=SYSTEM))
    real_write = staging._write_all

    def failing_write(fd: int, block: bytes) -> None:
        real_write(fd, block[: len(block) // 2])
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(staging, "_write_all", failing_write)
    with pytest.raises(StorageUnavailable, match="Input/output error") as failed:
        asyncio.run(container.ingest.append(status.id, 10_000, _body(data[10_000:]), actor=SYSTEM))
    assert failed.value.status == 503 and failed.value.retry_after_s > 0
    assert container.ingest.status(status.id, actor=SYSTEM).offset == 10_000
    assert container.ingest.staging.path(status.id).stat().st_size == 10_000
    monkeypatch.setattr(staging, "_write_all", real_write)
    done = asyncio.run(container.ingest.append(status.id, 10_000, _body(data[10_000:]), actor=SYSTEM))
    assert done.item_id is not None
    assert container.evidence.get(done.item_id).sha256 == hashlib.sha256(data).hexdigest()
