"""The whole system on the S3 store (SeaweedFS with Object Lock): ingest verified by a re-read from the
bucket, the store's legal holds following retention's holds, a purge waiting on locked bytes, and
the audit trail's anchor copies locked in the bucket."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr
from sqlalchemy import select

from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.media import tiny_recording
from tests.factories.people import make_force
from tests.factories.retention import item_with_bytes, records_managers
from tests.factories.s3 import S3Endpoint
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import DerivativeKind, ItemState
from witnessbox.retention.models import ItemRetention, Stage, StorageLegalHold
from witnessbox.storage.s3 import S3BlobStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def on_s3(settings: Settings, s3_endpoint: S3Endpoint) -> Iterator[Container]:
    """The system on a fresh Object Lock bucket, on a clock the test moves."""
    env = s3_endpoint.environment(s3_endpoint.make_bucket())
    s3_settings = settings.model_copy(update={
        "storage_url": env["WITNESSBOX_STORAGE_URL"], "s3_endpoint_url": s3_endpoint.url,
        "s3_access_key_id": s3_endpoint.access_key, "s3_secret_access_key": SecretStr(s3_endpoint.secret_key),
        "s3_max_attempts": 2,
    })
    container = build(s3_settings, clock=FixedClock(T0))
    yield container
    container.close()


def store_of(container: Container) -> S3BlobStore:
    store = container.retention.blobs
    assert isinstance(store, S3BlobStore)
    return store


def legal_hold(store: S3BlobStore, sha256: str) -> str:
    head = store.client.head_object(Bucket=store.bucket, Key=store.key_for(sha256))
    return str(head.get("ObjectLockLegalHoldStatus", "OFF"))


def tags(container: Container, tag: AuditTag) -> list[AuditEvent]:
    with container.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)))


def test_ingest_stores_the_original_in_the_bucket_and_verifies_it_by_reading_it_back(
    on_s3: Container, tmp_path: Path
) -> None:
    """GIVEN a real clip uploaded through the ingest service WHEN the pipeline runs THEN the item is
    ready, its hash verified by a re-read from the bucket, the original locked COMPLIANCE and the
    derivatives GOVERNANCE, and nothing is left on local disk."""
    make_force(on_s3)
    sent = hold_jobs(on_s3)
    clip = tiny_recording(tmp_path / "camera", seconds=2.0).read_bytes()
    item_id = upload_bytes(on_s3, clip)
    for job_id, _ in sent.sent:
        on_s3.jobs.run(job_id)
    item = on_s3.evidence.get(item_id)
    assert item.state == ItemState.READY and item.verified_at is not None
    store = store_of(on_s3)
    head = store.client.head_object(Bucket=store.bucket, Key=store.key_for(item.sha256))
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ContentLength"] == len(clip)
    proxy = item.derivative(DerivativeKind.PROXY)
    assert proxy is not None
    proxy_head = store.client.head_object(Bucket=store.bucket, Key=store.key_for(proxy.sha256))
    assert proxy_head["ObjectLockMode"] == "GOVERNANCE"
    assert not any((on_s3.settings.data_dir / "scratch").iterdir())
    assert [e.subject_id for e in tags(on_s3, AuditTag.EVIDENCE_ITEM_VERIFIED)] == [item_id]


def test_legal_holds_in_the_store_follow_retention_holds(on_s3: Container) -> None:
    """GIVEN an item with an original and a derivative in the bucket
    WHEN a manual hold is placed on it, and later released; and when it joins an open case, and the case closes
    THEN the store's legal hold goes on and off with each, the blobs refuse deletion while held,
    and every change is audited."""
    force = make_force(on_s3)
    manager = records_managers(on_s3, 1)[0]
    item_id, blobs = item_with_bytes(on_s3, force.actor("owner"), T0)
    store = store_of(on_s3)
    assert [legal_hold(store, b) for b in blobs] == ["OFF", "OFF"]

    hold = on_s3.holds.place(actor=force.actor("psd"), reason="civil claim expected", item_id=item_id)
    assert [legal_hold(store, b) for b in blobs] == ["ON", "ON"]
    version = store.client.head_object(Bucket=store.bucket, Key=store.key_for(blobs[1]))["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        store.client.delete_object(Bucket=store.bucket, Key=store.key_for(blobs[1]), VersionId=version,
                                   BypassGovernanceRetention=True)
    on_s3.holds.release(hold.id, actor=manager, reason="claim withdrawn")
    assert [legal_hold(store, b) for b in blobs] == ["OFF", "OFF"]

    investigator = force.actor("investigator")
    case = on_s3.cases.create("CR/9/26", "Burglary", actor=investigator)
    on_s3.cases.add_items(case.id, [item_id], actor=investigator, reason="occurrence 26/4411, arrest on Elm Road")
    on_s3.retention.sweep()  # the housekeeping's reconciliation sees the automatic hold
    assert [legal_hold(store, b) for b in blobs] == ["ON", "ON"]
    on_s3.cases.close(case.id, actor=investigator)
    on_s3.retention.sweep()
    assert [legal_hold(store, b) for b in blobs] == ["OFF", "OFF"]
    with on_s3.db.read() as session:
        assert session.scalars(select(StorageLegalHold)).all() == []
    placed, released = (tags(on_s3, t) for t in (AuditTag.STORAGE_LEGAL_HOLD_PLACED,
                                                  AuditTag.STORAGE_LEGAL_HOLD_RELEASED))
    assert len(placed) == len(released) == 4
    assert {e.details["sha256"] for e in placed} == set(blobs)
    assert on_s3.audit.verify().ok


def test_a_purge_waits_while_the_store_keeps_the_bytes_locked(on_s3: Container) -> None:
    """GIVEN a non-evidential item whose bytes the store locked for 31 days from when they were written
    WHEN the deletion path purges it (the application's clock is past its due date, the store's is not)
    THEN the certificate is signed but the bytes stay, the removal is audited once as waiting with the
    lock's end, and later sweeps before that date do not try again."""
    force = make_force(on_s3)
    owner = force.actor("owner")
    item_id, blobs = item_with_bytes(on_s3, owner, T0)
    on_s3.categorise.categorise([item_id], Categorisation(evidential=False), actor=owner)
    clock = on_s3.clock
    assert isinstance(clock, FixedClock)
    for days in (0, 18, 14, 31, 1):
        clock.advance(days=days)
        on_s3.retention.sweep()
    with on_s3.db.read() as session:
        row = session.get_one(ItemRetention, item_id)
        assert row.stage == Stage.PURGED and not row.bytes_removed
        assert row.bytes_locked_until is not None and row.bytes_locked_until > datetime.now(UTC) + timedelta(days=30)
    assert all(store_of(on_s3).exists(b) for b in blobs)
    waiting = tags(on_s3, AuditTag.RETENTION_BYTES_WAITING)
    assert len(waiting) == 1 and "locked in the object store" in waiting[0].details["reason"]
    assert not tags(on_s3, AuditTag.RETENTION_BYTES_REMOVED)


def test_audit_anchor_copies_are_locked_in_the_bucket(on_s3: Container) -> None:
    """GIVEN audited changes WHEN sealed and anchored THEN the checkpoint and its key are copied to the
    bucket under COMPLIANCE, a deletion of the copy is refused, and the trail verifies against it."""
    on_s3.devices.register_camera("CAM1", actor=SYSTEM)
    run = on_s3.anchoring.seal_and_anchor(actor=SYSTEM)
    assert run.copied == 1
    store = store_of(on_s3)
    objects = store.anchor_objects()
    names = objects.names()
    assert any(n.startswith("checkpoint-") for n in names) and any(n.startswith("key-") for n in names)
    key = store.aside_key("anchors", sorted(n for n in names if n.startswith("checkpoint-"))[0])
    head = store.client.head_object(Bucket=store.bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError, match="AccessDenied"):
        store.client.delete_object(Bucket=store.bucket, Key=key, VersionId=head["VersionId"])
    assert on_s3.anchoring.anchor_pending().copied == 0  # once only
    assert on_s3.anchoring.verify().ok
