"""Uploading bytes through the ingest service in-process (the tus routes' code path, without HTTP)."""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime

from tests.factories.media import STARTED
from witnessbox.bootstrap import Container
from witnessbox.core.actor import SYSTEM
from witnessbox.ingest.metadata import Declaration

CHUNK = 64 * 1024


class SentJobs:
    """A job queue that only remembers what was sent: tests run the jobs by hand, like a worker would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []

    def send(self, job_id: str, delay_s: float = 0) -> None:
        """Remember the job id and its delay."""
        self.sent.append((job_id, delay_s))


def hold_jobs(container: Container) -> SentJobs:
    """Point the container's jobs at a recorder instead of huey; return the recorder."""
    recorder = SentJobs()
    container.jobs.queue = recorder
    return recorder


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def upload_bytes(container: Container, data: bytes, *, camera: str = "WBX00001",
                 started_at: datetime = STARTED, filename: str = "clip.mp4") -> str:
    """Create and complete an upload of `data` from `camera`; return the item id."""
    declaration = Declaration(filename=filename, sha256=hashlib.sha256(data).hexdigest(), camera=camera,
                              started_at=started_at, extra={}, camera_metadata=None)
    status = container.ingest.create(declaration, len(data), actor=SYSTEM)
    done = asyncio.run(container.ingest.append(status.id, 0, _chunks(data), actor=SYSTEM))
    assert done.item_id is not None
    return done.item_id
