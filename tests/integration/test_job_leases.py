"""A job whose worker was killed is taken back within a minute (leases), and what it left in scratch is removed."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from tests.conftest import ADMIN_PASSWORD
from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import slow_recording, tiny_recording
from tests.factories.people import make_force
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.clock import FixedClock
from witnessbox.ingest.service import PROCESS_ITEM
from witnessbox.jobs.models import JobRecord, JobState

HEARTBEAT_S, LEASE_S = 1, 3  # the defaults are 15 s and 45 s; the mechanism is the same


def _job(container: Container) -> JobRecord:
    with container.db.read() as session:
        [job] = session.scalars(select(JobRecord).where(JobRecord.kind == PROCESS_ITEM))
        return job


def _scratch(container: Container, item_id: str) -> list[Path]:
    return sorted((container.settings.data_dir / "scratch").glob(f"{item_id}-*"))


def test_a_silent_lease_is_taken_back_and_its_scratch_removed(settings: Settings, tmp_path: Path) -> None:
    """GIVEN a job left running by a worker that stopped renewing its lease WHEN the lease expires THEN it is taken back (not before), its scratch files are removed, and it runs to the end."""
    clock = FixedClock()
    container = build(settings, clock=clock)
    try:
        sent = hold_jobs(container)
        make_force(container)
        item_id = upload_bytes(container, tiny_recording(tmp_path).read_bytes())
        job = _job(container)
        container.jobs._start(job.id)  # a worker took it...
        left = settings.data_dir / "scratch" / f"{item_id}-killed"
        left.mkdir(parents=True)
        (left / "proxy.mp4").write_bytes(b"half a proxy")  # ...wrote some work files, and was killed
        clock.advance(seconds=settings.job_lease_s - 1)
        assert container.jobs.reclaim_expired() == []
        clock.advance(seconds=2)
        assert container.jobs.reclaim_expired() == [job.id]
        assert not left.exists() and sent.sent[-1] == (job.id, 0)
        assert container.jobs.run(job.id) == JobState.SUCCEEDED
        assert container.evidence.get(item_id).state == "ready" and _scratch(container, item_id) == []
    finally:
        container.close()


def test_heartbeats_keep_a_long_job_its_lease_and_off_the_stuck_sweep(settings: Settings, tmp_path: Path) -> None:
    """GIVEN a job running in this process WHEN its worker renews the lease past the lease time and the stuck-job cut-off THEN nobody takes it back."""
    clock = FixedClock()
    container = build(settings, clock=clock)
    try:
        hold_jobs(container)
        make_force(container)
        upload_bytes(container, tiny_recording(tmp_path).read_bytes())
        job = _job(container)
        container.jobs._start(job.id)
        container.jobs._running.add(job.id)  # as run() does while the handler works
        for _ in range(20):
            clock.advance(seconds=settings.job_heartbeat_s)
            container.jobs.heartbeat()
            assert container.jobs.reclaim_expired() == []
        clock.advance(minutes=1)
        container.jobs.heartbeat()
        assert container.jobs.requeue_stuck(timedelta(minutes=5)) == []
        assert _job(container).state == JobState.RUNNING
    finally:
        container.close()


def test_a_job_that_kills_its_worker_every_time_gives_up_with_the_reason(settings: Settings, tmp_path: Path) -> None:
    """GIVEN a job whose worker died on each of its attempts WHEN the last lease expires THEN the job fails and the item is quarantined saying why."""
    clock = FixedClock()
    container = build(settings, clock=clock)
    try:
        hold_jobs(container)
        make_force(container)
        item_id = upload_bytes(container, tiny_recording(tmp_path).read_bytes())
        job = _job(container)
        for _ in range(job.max_attempts):
            container.jobs._start(job.id)
            clock.advance(seconds=settings.job_lease_s + 1)
            container.jobs.reclaim_expired()
        assert _job(container).state == JobState.FAILED
        item = container.evidence.get(item_id)
        assert item.state == "quarantined" and "stopped answering" in (item.state_reason or "")
    finally:
        container.close()


def _worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update({
        "WITNESSBOX_DATA_DIR": str(settings.data_dir),
        "WITNESSBOX_DATABASE_URL": settings.resolved_database_url(),
        "WITNESSBOX_QUEUE_URL": settings.resolved_queue_url(),
        "WITNESSBOX_QUEUE_NAME": settings.queue_name,
        "WITNESSBOX_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "WITNESSBOX_JOB_HEARTBEAT_S": str(HEARTBEAT_S),
        "WITNESSBOX_JOB_LEASE_S": str(LEASE_S),
    })
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "witnessbox", "worker", "--threads", "1"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait(condition: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout} s; worker log:\n{log.read_text()[-3000:]}")


def test_worker_killed_mid_job_is_replaced_and_the_job_completes_within_a_minute(
        settings: Settings, tmp_path: Path) -> None:
    """GIVEN a real worker process transcoding a proxy WHEN it is killed -9 mid-job and another worker starts THEN the job completes within a minute of the kill and no scratch file is left."""
    container = build(settings)
    log = tmp_path / "workers.log"
    first = second = None
    try:
        make_force(container)
        item_id = upload_bytes(container, slow_recording(tmp_path / "camera").read_bytes())
        first = _worker(settings, log)
        _wait(lambda: any(p.glob("proxy.mp4") for p in _scratch(container, item_id)), 60, "proxy started", log)
        [left] = _scratch(container, item_id)
        first.kill()
        first.wait(10)
        killed_at = time.monotonic()
        assert _job(container).state == JobState.RUNNING  # nobody knows yet: the lease is still running
        second = _worker(settings, log)
        _wait(lambda: _job(container).state == JobState.SUCCEEDED, 60, "the job's completion", log)
        took = time.monotonic() - killed_at
        print(f"kill -9 to completion: {took:.1f} s (heartbeat {HEARTBEAT_S} s, lease {LEASE_S} s)")
        assert took < 60
        job = _job(container)
        assert job.attempts == 2 and "stopped answering during attempt 1" in (job.error or "")
        assert container.evidence.get(item_id).state == "ready"
        assert not left.exists() and _scratch(container, item_id) == []
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        container.close()
