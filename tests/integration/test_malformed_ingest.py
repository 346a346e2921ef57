"""A hundred broken recordings go through the real ingest path and the real worker without harm."""

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.factories.ingest import upload_bytes
from tests.factories.media import tiny_recording
from tests.factories.people import make_force
from tests.unit.media.malformed import malformed_variants
from witnessbox.bootstrap import Container
from witnessbox.core.errors import InvalidInput
from witnessbox.evidence.models import Item
from witnessbox.jobs.huey_queue import start_embedded_consumer
from witnessbox.jobs.models import JobRecord, JobState


def _ingest(container: Container, path: Path) -> str:
    return upload_bytes(container, path.read_bytes(), filename=path.name)


def _wait_for_jobs(container: Container, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with container.db.read() as session:
            open_jobs = session.scalar(select(func.count()).select_from(JobRecord).where(
                JobRecord.state.in_([JobState.QUEUED, JobState.RUNNING])))
        if open_jobs == 0:
            return
        time.sleep(0.2)
    raise AssertionError("jobs did not finish")


@pytest.mark.slow
def test_hundred_malformed_recordings_are_quarantined_with_reasons(container: Container, tmp_path: Path) -> None:
    """GIVEN 100 truncated/garbled/foreign files from one recording WHEN ingested and processed by the worker
    THEN each unusable one is quarantined with a clear reason, its original kept, no job crashes,
    and the worker still processes a good recording afterwards."""
    make_force(container)
    clip = tiny_recording(tmp_path / "camera", seconds=3)
    variants = malformed_variants(clip, tmp_path / "bad")
    assert len(variants) == 100
    consumer = start_embedded_consumer(container.huey, workers=2)
    try:
        expected: dict[str, tuple[str, bool]] = {}
        for name, path, must_reject in variants:
            if path.stat().st_size == 0:
                with pytest.raises(InvalidInput, match="positive"):
                    _ingest(container, path)
                continue
            expected[_ingest(container, path)] = (name, must_reject)
        good = _ingest(container, tiny_recording(tmp_path / "good", seconds=2, seed=99))
        _wait_for_jobs(container)
    finally:
        consumer.stop(graceful=True)
    with container.db.read() as session:
        items = {item.id: item for item in session.scalars(select(Item))}
        failed = session.scalars(select(JobRecord).where(JobRecord.state == JobState.FAILED)).all()
    assert failed == [], [job.error for job in failed]
    for item_id, (name, must_reject) in expected.items():
        item = items[item_id]
        assert item.state in ("ready", "quarantined"), name
        if must_reject:
            assert item.state == "quarantined", f"{name} was accepted"
        if item.state == "quarantined":
            assert item.state_reason and len(item.state_reason) > 10, name
            assert container.evidence.blobs.exists(item.sha256), f"{name}: original not kept"
    assert items[good].state == "ready"
