"""The purge's two halves: the signed deletion certificate written in the purge's transaction, and the
removal of the bytes from the store once that transaction is committed and the audit trail sealed."""

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.signing import CheckpointSigner
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import Clock, as_utc
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Derivative, Item
from witnessbox.retention.legal_holds import recorded_held
from witnessbox.retention.models import DeletionCertificate, ItemRetention, RetentionApproval, Stage
from witnessbox.retention.schedule import RuleSpec
from witnessbox.storage.base import BlobLocked, BlobStore

log = logging.getLogger(__name__)


def canonical(statement: dict[str, Any]) -> bytes:
    """The bytes a certificate's signature covers."""
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), default=str).encode()


def certificate_for(
    row: ItemRetention,
    item: Item,
    rule: RuleSpec | None,
    approvals: list[RetentionApproval],
    signer: CheckpointSigner,
    now: datetime,
) -> DeletionCertificate:
    """The signed deletion certificate of one purge: what went, under which rule, approved by whom, when."""
    statement = {
        "item": item.id,
        "filename": item.filename,
        "sha256": item.sha256,
        "hash_algorithm": item.hash_algorithm,
        "size": item.size,
        "officer": item.officer,
        "recorded_start": as_utc(item.recorded_start).isoformat(),
        "category": item.category,
        "evidential": item.evidential,
        "derivatives": [{"kind": str(d.kind), "sha256": d.sha256, "size": d.size} for d in item.derivatives],
        "rule": {
            "class": row.retention_class,
            "period_days": rule.period_days if rule else None,
            "clock_start": str(rule.clock_start) if rule else None,
            "source": rule.source if rule else None,
        },
        "clock_started_at": _iso(row.clock_started_at),
        "due_at": _iso(row.due_at),
        "warned_at": _iso(row.warned_at),
        "recycled_at": _iso(row.recycled_at),
        "purged_at": now.isoformat(),
        "approvers": [
            {"name": a.name, "user_id": a.user_id, "at": as_utc(a.at).isoformat()} for a in approvals
        ],
        "key_id": signer.key_id,
    }
    reason = f"deleted under the retention schedule ({row.retention_class}, due {_iso(row.due_at)})"
    return DeletionCertificate(
        id=new_id(),
        item_id=item.id,
        sha256=item.sha256,
        size=item.size,
        filename=item.filename,
        retention_class=row.retention_class,
        reason=reason,
        statement=statement,
        signature=signer.sign(canonical(statement)),
        key_id=signer.key_id,
        purged_at=now,
    )


class ByteRemover:
    """Deletes purged items' originals and derivatives from the store; idempotent, retried by each sweep.

    A WORM store refuses while an object's retention lock lasts (or a legal hold is on it): the
    removal then waits, audited once as not done with the date it can happen, and is tried again
    at the first sweep after that date. A blob the store keeps under a legal hold is never tried.
    """

    def __init__(self, db: Database, audit: AuditLog, blobs: BlobStore, clock: Clock) -> None:
        self.db, self.audit, self.blobs, self.clock = db, audit, blobs, clock

    def remove_bytes(self) -> None:
        """Delete the purged items' original and derivatives from the store, after their certificates
        are committed and sealed; a failure is retried by the next sweep."""
        now, locked_until = self.clock.now(), ItemRetention.bytes_locked_until
        with self.db.read() as session:
            ids = list(
                session.scalars(
                    select(ItemRetention.item_id)
                    .where(ItemRetention.stage == Stage.PURGED, ItemRetention.bytes_removed.is_(False))
                    .where(or_(locked_until.is_(None), locked_until <= now))
                    .limit(1000)
                )
            )
        for item_id in ids:
            try:
                self._remove_item_bytes(item_id)
            except BlobLocked as locked:
                self._waiting(item_id, str(locked), locked.until)
            except Exception:  # a store outage: the certificate stands, the next sweep tries again
                log.exception("could not remove the bytes of purged item %s", item_id)

    def _remove_item_bytes(self, item_id: str) -> None:
        with self.db.transaction() as uow:
            row = uow.session.get_one(ItemRetention, item_id, with_for_update=True)
            if row.bytes_removed:
                return
            item = uow.session.get_one(Item, item_id)
            blobs = [*self._unshared_derivatives(uow.session, item), item.sha256]  # the original last
            held = recorded_held(uow.session, blobs)
            if held:
                raise BlobLocked(f"the store keeps {len(held)} of its objects under a legal hold")
            for derivative in list(item.derivatives):
                uow.session.delete(derivative)
            for sha256 in blobs:
                self.blobs.delete(sha256)
            row.bytes_removed, row.bytes_locked_until = True, None
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_BYTES_REMOVED,
                actor=SYSTEM,
                subject=Subject("item", item_id),
                details={"class": row.retention_class, "blobs": blobs},
            )

    def _waiting(self, item_id: str, reason: str, until: datetime | None) -> None:
        """Record (once per date) that the store still keeps a purged item's bytes, and until when."""
        with self.db.transaction() as uow:
            row = uow.session.get_one(ItemRetention, item_id, with_for_update=True)
            if row.bytes_removed or (until is not None and row.bytes_locked_until == until):
                return
            row.bytes_locked_until = until
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_BYTES_WAITING,
                actor=SYSTEM,
                subject=Subject("item", item_id),
                details={"reason": reason, "until": until.isoformat() if until else None},
            )

    @staticmethod
    def _unshared_derivatives(session: Session, item: Item) -> list[str]:
        """The item's derivative blobs that no other item's derivative also uses."""
        return [
            d.sha256
            for d in item.derivatives
            if not session.scalar(
                select(func.count(Derivative.id)).where(
                    Derivative.sha256 == d.sha256, Derivative.item_id != item.id
                )
            )
        ]


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None
