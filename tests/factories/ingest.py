"""Uploading bytes through the ingest service in-process (the tus routes' code path, without HTTP)."""

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime

from tests.factories.media import STARTED
from witnessbox.bootstrap import Container
from witnessbox.core.actor import SYSTEM, Actor, ActorKind
from witnessbox.core.errors import NotFound
from witnessbox.ingest.metadata import Declaration

CHUNK = 64 * 1024
FACTORY_DOCK = "factory-dock"


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


def dock_for(container: Container, camera: str, name: str = FACTORY_DOCK) -> Actor:
    """The dock `name` (registered on first use) as the server sees it, registered for `camera` if known."""
    dock = next((d for d in container.devices.list_docks() if d.name == name), None)
    if dock is None:
        dock = container.devices.register_dock(name, actor=SYSTEM)[0]
    with contextlib.suppress(NotFound):  # an unknown camera: the upload is refused as it should be
        container.devices.add_dock_cameras(name, [camera], actor=SYSTEM)
    return Actor(kind=ActorKind.DOCK, id=dock.id, name=f"dock {name}")


def upload_bytes(container: Container, data: bytes, *, camera: str = "WBX00001",
                 started_at: datetime = STARTED, filename: str = "clip.mp4", actor: Actor | None = None,
                 extra: dict[str, str] | None = None) -> str:
    """Create and complete an upload of `data` from `camera` (by a dock registered for it, unless
    `actor` says who uploads); return the item id."""
    uploader = actor or dock_for(container, camera)
    declaration = Declaration(filename=filename, sha256=hashlib.sha256(data).hexdigest(), camera=camera,
                              started_at=started_at, extra=extra or {}, camera_metadata=None)
    status = container.ingest.create(declaration, len(data), actor=uploader)
    done = asyncio.run(container.ingest.append(status.id, 0, _chunks(data), actor=uploader))
    assert done.item_id is not None
    return done.item_id
