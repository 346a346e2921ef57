"""Jobs are persisted, retried, recovered after a crash, and the pipeline is idempotent."""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import STARTED, tiny_recording
from tests.factories.people import make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Gone
from witnessbox.evidence.models import Item
from witnessbox.ingest.metadata import Declaration
from witnessbox.ingest.service import PROCESS_ITEM
from witnessbox.jobs.models import JobRecord, JobState
from witnessbox.jobs.runner import JobKind


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _declaration(data: bytes, name: str = "clip.mp4") -> Declaration:
    return Declaration(filename=name, sha256=hashlib.sha256(data).hexdigest(), camera="WBX00001",
                       started_at=STARTED, extra={}, camera_metadata=None)


def _jobs(container: Container) -> list[JobRecord]:
    with container.db.read() as session:
        return list(session.scalars(select(JobRecord)))


@pytest.fixture
def immediate(container: Container) -> Container:
    """The container with jobs sent nowhere: tests run them by hand, like a worker would."""
    hold_jobs(container)
    make_force(container)
    return container


def test_job_row_is_written_with_the_item_and_sent_after_commit(immediate: Container, tmp_path: Path) -> None:
    """GIVEN a completed upload WHEN the item is created THEN a queued job row exists and its id was sent once."""
    item_id = upload_bytes(immediate, tiny_recording(tmp_path).read_bytes())
    [job] = _jobs(immediate)
    assert (job.kind, job.subject_id, job.state) == (PROCESS_ITEM, item_id, JobState.QUEUED)
    assert immediate.jobs.queue.sent == [(job.id, 0)]  # type: ignore[union-attr]


def test_pipeline_is_idempotent(immediate: Container, tmp_path: Path) -> None:
    """GIVEN a processed item WHEN the same job runs again THEN nothing changes and no derivative is duplicated."""
    item_id = upload_bytes(immediate, tiny_recording(tmp_path).read_bytes())
    [job] = _jobs(immediate)
    assert immediate.jobs.run(job.id) == JobState.SUCCEEDED
    assert immediate.jobs.run(job.id) is None
    item = immediate.evidence.get(item_id)
    assert item.state == "ready" and len(item.derivatives) == 2
    assert {d.source_sha256 for d in item.derivatives} == {item.sha256}
    assert all(d.software_version and d.operation for d in item.derivatives)


def test_failures_retry_then_give_up_with_reason(immediate: Container, tmp_path: Path) -> None:
    """GIVEN a handler that always fails WHEN run to its limit THEN retries are scheduled, then the item is quarantined with the error."""
    item_id = upload_bytes(immediate, tiny_recording(tmp_path).read_bytes())
    pipeline_give_up = immediate.jobs.kinds[PROCESS_ITEM].on_give_up

    def broken(_subject: str, _progress: object) -> str:
        raise RuntimeError("disk on fire")

    immediate.jobs.register(PROCESS_ITEM, JobKind(broken, on_give_up=pipeline_give_up))
    [job] = _jobs(immediate)
    assert job.max_attempts == 3
    assert immediate.jobs.run(job.id) == JobState.QUEUED
    assert immediate.jobs.run(job.id) == JobState.QUEUED
    assert [delay for _, delay in immediate.jobs.queue.sent[-2:]] == [5, 30]  # type: ignore[union-attr]
    assert immediate.jobs.run(job.id) == JobState.FAILED
    [job] = _jobs(immediate)
    assert job.attempts == 3 and "disk on fire" in (job.error or "")
    item = immediate.evidence.get(item_id)
    assert item.state == "quarantined" and "disk on fire" in (item.state_reason or "")
    with immediate.db.read() as session:
        tags = [e.tag for e in session.scalars(select(AuditEvent))]
    assert "jobs:run:failed" in tags and "evidence:item:quarantined" in tags


def test_stuck_jobs_are_requeued(settings: Settings, tmp_path: Path) -> None:
    """GIVEN a job left running by a worker that died WHEN the sweep runs after the cut-off THEN it is re-sent and finishes."""
    clock = FixedClock()
    container = build(settings, clock=clock)
    try:
        hold_jobs(container)
        make_force(container)
        item_id = upload_bytes(container, tiny_recording(tmp_path).read_bytes())
        [job] = _jobs(container)
        container.jobs._start(job.id)  # the worker took it, then died
        assert container.jobs.requeue_stuck(timedelta(minutes=15)) == []
        clock.advance(minutes=16)
        assert container.jobs.requeue_stuck(timedelta(minutes=15)) == [job.id]
        assert container.jobs.run(job.id) == JobState.SUCCEEDED
        assert container.evidence.get(item_id).state == "ready"
    finally:
        container.close()


def test_expired_uploads_are_deleted_and_refuse_resumption(settings: Settings) -> None:
    """GIVEN an interrupted upload WHEN its expiry passes and the sweep runs THEN its bytes are gone and it answers 410."""
    clock = FixedClock()
    container = build(settings, clock=clock)
    try:
        make_force(container)
        data = b"x" * 1000
        status = container.ingest.create(_declaration(data), len(data), actor=SYSTEM)
        asyncio.run(container.ingest.append(status.id, 0, _body(data[:400]), actor=SYSTEM))
        assert container.ingest.status(status.id, actor=SYSTEM).offset == 400
        clock.advance(hours=settings.upload_expiry_hours + 1)
        assert container.ingest.expire() == 1
        assert not container.ingest.staging.path(status.id).exists()
        with pytest.raises(Gone):
            container.ingest.status(status.id, actor=SYSTEM)
    finally:
        container.close()


def test_restart_between_store_and_item_is_completed_on_resume(immediate: Container) -> None:
    """GIVEN all bytes received and stored but the item not yet created (crash) WHEN the client asks HEAD THEN the item is created once."""
    data = b"y" * 5000
    status = immediate.ingest.create(_declaration(data), len(data), actor=SYSTEM)
    immediate.ingest.staging.path(status.id).write_bytes(data)
    immediate.ingest._record_offset(status.id, len(data))
    immediate.ingest.staging.forget(status.id)
    head = immediate.ingest.status(status.id, actor=SYSTEM)
    assert head.item_id is not None
    with immediate.db.read() as session:
        assert len(session.scalars(select(Item)).all()) == 1
