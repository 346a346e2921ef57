"""The S3 store failing under ingest: 5xx answers, stalls past the timeout, reset connections, made
by the fault proxy (tests/factories/faults.py) in front of a real S3 server with Object Lock.

Whatever the store does, an upload is never half-accepted and an item is never half-visible: no
item without its stored original, no "verified" or "ready" before the bucket gave the bytes back
and they hashed right, and the item ready exactly once when the bucket recovers.
"""

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from tests.factories.faults import FaultProxy, fault_proxy
from tests.factories.ingest import _chunks, dock_for, hold_jobs, upload_bytes
from tests.factories.media import STARTED, tiny_recording
from tests.factories.people import make_force
from tests.factories.s3 import S3Endpoint
from tests.integration.test_storage_faults import only_job, tags
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.errors import StorageUnavailable
from witnessbox.evidence.models import Item
from witnessbox.ingest.metadata import Declaration
from witnessbox.ingest.pipeline import WAITING
from witnessbox.jobs.models import JobState
from witnessbox.storage.base import rehash
from witnessbox.web.app import create_app

# What is at stake here is the store's side; the same paths on PostgreSQL run in test_storage_faults.py.
pytestmark = pytest.mark.backend_free


@dataclass
class Faulty:
    """A built system whose evidence store is an S3 bucket reached through the fault proxy."""

    container: Container
    proxy: FaultProxy
    bucket: str


@pytest.fixture
def faulty(s3_endpoint: S3Endpoint, settings: Settings) -> Iterator[Faulty]:
    """The system on a fresh Object Lock bucket, through a proxy; few retries and short timeouts."""
    upstream = urlsplit(s3_endpoint.url)
    with fault_proxy((upstream.hostname or "127.0.0.1", upstream.port or 80)) as proxy:
        bucket = s3_endpoint.make_bucket()
        configured = settings.model_copy(update={
            "storage_url": f"s3://{bucket}/evidence", "s3_endpoint_url": proxy.url,
            "s3_region": s3_endpoint.region, "s3_access_key_id": s3_endpoint.access_key,
            "s3_secret_access_key": SecretStr(s3_endpoint.secret_key), "s3_max_attempts": 2,
            "s3_connect_timeout_s": 1.0, "s3_read_timeout_s": 1.5, "ready_timeout_s": 1.0,
        })
        container = build(configured)
        try:
            yield Faulty(container, proxy, bucket)
        finally:
            container.close()


def test_upload_completing_while_the_bucket_answers_503_creates_nothing_until_it_recovers(
        faulty: Faulty) -> None:
    """GIVEN the bucket answers 503 to everything WHEN an upload's last byte arrives THEN a 503 says the
    store failed, no item and no item-created entry exist, and once the bucket answers the upload's
    status creates the one item, its original in the bucket."""
    container = faulty.container
    make_force(container)
    hold_jobs(container)
    data = os.urandom(100_000)
    dock = dock_for(container, "WBX00001")
    declaration = Declaration(filename="a.mp4", sha256=hashlib.sha256(data).hexdigest(), camera="WBX00001",
                              started_at=STARTED, extra={}, camera_metadata=None)
    upload = container.ingest.create(declaration, len(data), actor=dock)
    faulty.proxy.fail("error", seconds=60, status=503)
    with pytest.raises(StorageUnavailable, match="object store") as failed:
        asyncio.run(container.ingest.append(upload.id, 0, _chunks(data), actor=dock))
    assert failed.value.status == 503 and faulty.proxy.faults >= 2  # retried before giving up
    with container.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
    assert AuditTag.EVIDENCE_ITEM_CREATED not in tags(container)
    faulty.proxy.heal()
    done = container.ingest.status(upload.id, actor=dock)
    assert done.item_id is not None
    assert rehash(container.evidence.blobs, declaration.sha256) == declaration.sha256
    assert tags(container).count(AuditTag.EVIDENCE_ITEM_CREATED) == 1


@pytest.mark.parametrize("mode", ["error", "stall"])
def test_ingest_job_waits_while_the_bucket_fails_and_the_item_is_ready_once_after(
        faulty: Faulty, tmp_path: Path, mode: str) -> None:
    """GIVEN a recording stored in the bucket WHEN the ingest job runs while the bucket answers 503,
    or stalls past the timeout THEN the job waits without using an attempt, the
    item stays processing "waiting for storage", unverified, with no verified or ready entry; when
    the bucket recovers the item is verified from the bucket and ready exactly once."""
    container = faulty.container
    hold_jobs(container)
    make_force(container)
    item_id = upload_bytes(container, tiny_recording(tmp_path, seconds=2).read_bytes())
    job = only_job(container)
    faulty.proxy.fail(mode, seconds=60, status=503)
    assert container.jobs.run(job.id) == JobState.QUEUED
    assert only_job(container).attempts == 0
    item = container.evidence.get(item_id)
    assert item.state == "processing" and item.verified_at is None
    assert (item.state_reason or "").startswith(f"{WAITING}: ") and "object store" in (item.state_reason or "")
    trail = tags(container, item_id)
    assert AuditTag.EVIDENCE_ITEM_VERIFIED not in trail and AuditTag.EVIDENCE_ITEM_READY not in trail
    faulty.proxy.heal()
    assert container.jobs.run(job.id) == JobState.SUCCEEDED
    item = container.evidence.get(item_id)
    assert item.state == "ready" and item.verified_at is not None and item.state_reason is None
    assert len(item.derivatives) == 2  # the proxy and thumbnails went to the bucket too
    trail = tags(container, item_id)
    assert trail.count(AuditTag.EVIDENCE_ITEM_VERIFIED) == 1 and trail.count(AuditTag.EVIDENCE_ITEM_READY) == 1


def test_ready_is_503_naming_the_store_while_the_bucket_stalls(faulty: Faulty) -> None:
    """GIVEN the bucket stalls WHEN /health/ready is asked THEN 503 naming the store within its timeout,
    and 200 once the bucket answers again."""
    client = TestClient(create_app(faulty.container))
    faulty.proxy.fail("stall", seconds=30)
    started = time.monotonic()
    answer = client.get("/health/ready")
    assert answer.status_code == 503 and answer.json()["checks"]["store"] == "no answer within 1 s"
    assert answer.json()["checks"]["database"] == "ok" and time.monotonic() - started < 3
    faulty.proxy.heal()
    assert client.get("/health/ready").status_code == 200
