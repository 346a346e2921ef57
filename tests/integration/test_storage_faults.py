"""Every call into the evidence store, with the store failing under it: no commit, a clear error,
no "success" in the audit trail, and the work done exactly once when the store comes back.

A full disk is real (a small tmpfs over the evidence store; skipped, saying so, where mounting is
not permitted). An I/O error cannot be made on demand, so FailingStore (tests/factories/faults.py)
raises, from the real store's calls, what the store raises when the disk answers EIO.
"""

import asyncio
import errno
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories.faults import FailingStore, use_store
from tests.factories.ingest import _chunks, dock_for, hold_jobs, upload_bytes
from tests.factories.media import STARTED, tiny_recording
from tests.factories.people import PASSWORD, make_force
from tests.factories.retention import item_with_bytes, records_managers
from tests.integration.test_full_disk import fill, small_disk
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import InsufficientStorage, StorageUnavailable
from witnessbox.disclosure.packages.models import DisclosurePackage, PackageState
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import Derivative, Item
from witnessbox.ingest.metadata import Declaration
from witnessbox.ingest.pipeline import WAITING
from witnessbox.jobs.models import JobRecord, JobState
from witnessbox.retention.models import ItemRetention, Stage
from witnessbox.retention.scrub_models import ScrubFinding
from witnessbox.web.app import create_app

EIO = errno.EIO


def tags(container: Container, subject_id: str | None = None) -> list[str]:
    """The audit trail's tags, in order (for one subject when given)."""
    query = select(AuditEvent.tag).order_by(AuditEvent.seq)
    if subject_id is not None:
        query = query.where(AuditEvent.subject_id == subject_id)
    with container.db.read() as session:
        return list(session.scalars(query))


def only_job(container: Container, kind: str = "ingest.process_item") -> JobRecord:
    with container.db.read() as session:
        [job] = session.scalars(select(JobRecord).where(JobRecord.kind == kind))
        return job


def test_upload_completion_with_a_failing_store_is_503_no_item_and_finishes_once_it_works(
        container: Container) -> None:
    """GIVEN the store answers EIO when the last byte of an upload arrives WHEN the upload completes
    THEN StorageUnavailable (503) says so, no item and no item-created entry exist, the offset is true,
    and asking for the upload's status once the store works creates the one item."""
    make_force(container)
    hold_jobs(container)
    failing = FailingStore(container.ingest.blobs, EIO, frozenset({"adopt"}))
    use_store(container, failing)
    data = os.urandom(50_000)
    dock = dock_for(container, "WBX00001")
    declaration = Declaration(filename="a.mp4", sha256=hashlib.sha256(data).hexdigest(), camera="WBX00001",
                              started_at=STARTED, extra={}, camera_metadata=None)
    upload = container.ingest.create(declaration, len(data), actor=dock)
    with pytest.raises(StorageUnavailable, match="Input/output error") as failed:
        asyncio.run(container.ingest.append(upload.id, 0, _chunks(data), actor=dock))
    assert failed.value.status == 503 and failed.value.retry_after_s > 0
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
    assert AuditTag.EVIDENCE_ITEM_CREATED not in tags(container)
    assert container.ingest.staging.path(upload.id).stat().st_size == len(data)  # kept to try again
    failing.heal()
    done = container.ingest.status(upload.id, actor=dock)
    assert done.item_id is not None and done.offset == len(data)
    assert container.ingest.status(upload.id, actor=dock).item_id == done.item_id
    assert tags(container).count(AuditTag.EVIDENCE_ITEM_CREATED) == 1


def test_ingest_job_waits_for_a_failing_store_then_the_item_is_ready_exactly_once(
        container: Container, tmp_path: Path) -> None:
    """GIVEN a stored original whose store fails reads (EIO halfway through) WHEN the ingest job runs
    THEN it waits (queued, attempt not used, backing off), the item stays processing with a visible
    "waiting for storage" reason, unverified, with no verified or ready entry; once the store reads
    again the job succeeds and the item is verified and ready exactly once, its reason cleared."""
    sent = hold_jobs(container)
    force = make_force(container)
    item_id = upload_bytes(container, tiny_recording(tmp_path, seconds=2).read_bytes())
    failing = FailingStore(container.evidence.blobs, EIO, frozenset({"read"}))
    use_store(container, failing)
    job = only_job(container)
    for _ in range(2):
        assert container.jobs.run(job.id) == JobState.QUEUED
    waiting = only_job(container)
    assert waiting.attempts == 0 and "Input/output error" in (waiting.error or "")
    assert sent.sent[-1][0] == job.id and sent.sent[-1][1] >= 30
    item = container.evidence.get(item_id)
    assert item.state == "processing" and item.verified_at is None
    assert (item.state_reason or "").startswith(f"{WAITING}: ") and failing.failures == 2
    trail = tags(container, item_id)
    assert AuditTag.EVIDENCE_ITEM_VERIFIED not in trail and AuditTag.EVIDENCE_ITEM_READY not in trail
    with TestClient(create_app(container)) as browser:
        signed_in = browser.post("/login", data={"username": force.collar("owner"), "password": PASSWORD},
                                 follow_redirects=False)
        assert signed_in.status_code == 303
        page = browser.get(f"/items/{item_id}").text
        assert "Not playable yet, waiting for storage" in page and "<video" not in page
        listed = browser.get("/api/v1/items", params={"state": "ready"}).json()
        assert item_id not in [each["id"] for each in listed]
    failing.heal()
    assert container.jobs.run(job.id) == JobState.SUCCEEDED
    assert container.jobs.run(job.id) is None  # a late repeat of the delivery changes nothing
    item = container.evidence.get(item_id)
    assert item.state == "ready" and item.verified_at is not None and item.state_reason is None
    trail = tags(container, item_id)
    assert trail.count(AuditTag.EVIDENCE_ITEM_VERIFIED) == 1 and trail.count(AuditTag.EVIDENCE_ITEM_READY) == 1


def test_full_evidence_disk_under_the_derivatives_stores_none_and_ready_follows_once(
        settings: Settings, tmp_path: Path) -> None:
    """GIVEN the evidence store's real disk fills after the original is stored WHEN the ingest job
    stores the thumbnails THEN ENOSPC waits the job: no derivative row, no derivative entry, no
    half-written file, the item processing with the reason; once space returns it is ready once."""
    with small_disk(settings.data_dir / "blobs") as disk:
        container = build(settings)
        try:
            hold_jobs(container)
            make_force(container)
            item_id = upload_bytes(container, tiny_recording(tmp_path, seconds=2).read_bytes())
            filler = fill(disk, leave=4096)
            job = only_job(container)
            assert container.jobs.run(job.id) == JobState.QUEUED
            item = container.evidence.get(item_id)
            assert item.state == "processing" and "storage is full" in (item.state_reason or "")
            with container.db.read() as session:
                assert session.scalar(select(func.count()).select_from(Derivative)) == 0
            assert AuditTag.EVIDENCE_DERIVATIVE_CREATED not in tags(container, item_id)
            assert list((disk / "tmp").iterdir()) == []
            filler.unlink()
            assert container.jobs.run(job.id) == JobState.SUCCEEDED
            assert container.evidence.get(item_id).state == "ready"
            assert tags(container, item_id).count(AuditTag.EVIDENCE_ITEM_READY) == 1
        finally:
            container.close()


def test_disclosure_package_build_waits_for_a_failing_store_and_writes_nothing(
        container: Container) -> None:
    """GIVEN a case's package is asked for WHEN the store fails reading an original mid-build THEN the
    build waits (package still building, no completed entry, no ZIP nor part file), then completes."""
    from tests.factories.packages import seed_case

    seeded = seed_case(container, recordings=1)
    package = container.packages.request(actor=seeded.force.actor("case_member"), server_url="https://bwv.example",
                                         case_id=seeded.case_id, reason="MG6 file for CPS")
    assert package.job_id is not None
    failing = FailingStore(container.packages.blobs, EIO, frozenset({"read"}))
    use_store(container, failing)
    assert container.jobs.run(package.job_id) == JobState.QUEUED
    with container.db.read() as session:
        row = session.get_one(DisclosurePackage, package.id)
        assert row.state == PackageState.BUILDING
    assert AuditTag.DISCLOSURE_PACKAGE_COMPLETED not in tags(container)
    assert list(container.packages.directory.iterdir()) == []
    failing.heal()
    assert container.jobs.run(package.job_id) == JobState.SUCCEEDED
    assert tags(container).count(AuditTag.DISCLOSURE_PACKAGE_COMPLETED) == 1


@pytest.fixture
def clocked(settings: Settings) -> Iterator[tuple[Container, FixedClock]]:
    clock = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    container = build(settings, clock=clock)
    yield container, clock
    container.close()


def test_purge_with_a_failing_store_removes_nothing_and_says_so_until_it_works(
        clocked: tuple[Container, FixedClock]) -> None:
    """GIVEN a recording past its recycle window WHEN the purge removes its bytes and the store answers
    EIO THEN the bytes and derivative rows stay, no bytes-removed entry, and the next sweep removes them."""
    container, clock = clocked
    force = make_force(container)
    records_managers(container)
    owner = force.actor("owner")
    item_id, blobs = item_with_bytes(container, owner, clock.now())
    container.categorise.categorise([item_id], Categorisation(evidential=False, category=None), actor=owner)
    container.retention.sweep()
    for days in (18, 14):
        clock.advance(days=days)
        container.retention.sweep()
    failing = FailingStore(container.retention.blobs, EIO, frozenset({"delete"}))
    use_store(container, failing)
    clock.advance(days=31)
    container.retention.sweep()
    with container.db.read() as session:
        row = session.get_one(ItemRetention, item_id)
        assert row.stage == Stage.PURGED and not row.bytes_removed
        assert session.scalar(select(func.count()).select_from(Derivative)) == 1
    assert failing.failures >= 1 and all(failing.inner.exists(b) for b in blobs)
    assert AuditTag.RETENTION_BYTES_REMOVED not in tags(container, item_id)
    failing.heal()
    container.retention.sweep()
    assert not any(failing.inner.exists(b) for b in blobs)
    assert tags(container, item_id).count(AuditTag.RETENTION_BYTES_REMOVED) == 1


def test_scrub_of_a_failing_store_finds_it_unreadable_and_clears_nothing(container: Container) -> None:
    """GIVEN a stored recording WHEN the scrub re-reads it and the disk answers EIO THEN the finding is
    "unreadable" with the store's reason, and no pass reports that object whole."""
    hold_jobs(container)
    make_force(container)
    item_id = upload_bytes(container, os.urandom(20_000))
    failing = FailingStore(container.scrub.blobs, EIO, frozenset({"read"}))
    use_store(container, failing)
    container.scrub.run_pass()
    with container.db.read() as session:
        [finding] = session.scalars(select(ScrubFinding))
    assert finding.kind == "unreadable" and "Input/output error" in finding.detail
    assert AuditTag.RETENTION_SCRUB_CLEARED not in tags(container)
    assert finding.key == container.evidence.get(item_id).sha256 and finding.item_id == item_id


def test_real_full_store_refuses_put_with_insufficient_storage_and_leaves_no_part(settings: Settings) -> None:
    """GIVEN the evidence store's real disk is full WHEN bytes are put THEN InsufficientStorage (507)
    and no temporary file remains."""
    with small_disk(settings.data_dir / "blobs") as disk:
        container = build(settings)
        try:
            fill(disk, leave=1024)
            with pytest.raises(InsufficientStorage, match="storage is full"):
                container.evidence.blobs.put([b"x" * 65536] * 4)
            assert list((disk / "tmp").iterdir()) == []
        finally:
            container.close()
