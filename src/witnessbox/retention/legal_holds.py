"""The object store's legal holds, kept in line with retention's holds (decision 0028).

While any hold covers an item (a manual hold on it or its case, an open case, a subject access
request, a disclosure source: `held_during`), the store keeps its original and its derivatives
under a legal hold, so not even the store's administrator can delete them; when no hold covers
it any more, the store's legal hold is released. Rather than hooks in every place a hold can
start or end, one reconciliation compares the items held now with what was last applied
(`storage_legal_holds`) and changes only the difference, each change audited. It runs after a
manual hold is placed or released and in the periodic housekeeping; it is safe to run at any
time and any number of times. A store without legal holds (local files) has nothing to do.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import Clock
from witnessbox.db.session import Database
from witnessbox.evidence.models import Derivative, Item
from witnessbox.retention.holds import HoldRules, held_during
from witnessbox.retention.models import ItemRetention, StorageLegalHold
from witnessbox.storage.base import BlobStore, StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LegalHoldSync:
    """What one reconciliation changed, and what it could not (the store failed: tried again next run)."""

    placed: int = 0
    released: int = 0
    failed: int = 0


def held_blobs(session: Session, rules: HoldRules, clock: Clock) -> dict[str, str]:
    """Every blob of an item some hold covers now (original and derivatives), with that item's id."""
    now = clock.now()
    held = select(Item.id).where(held_during(Item.id, now, now, rules)).where(
        ~select(ItemRetention.item_id)
        .where(ItemRetention.item_id == Item.id, ItemRetention.bytes_removed.is_(True))
        .exists()
    )
    wanted: dict[str, str] = {}
    for item_id, sha256 in session.execute(select(Item.id, Item.sha256).where(Item.id.in_(held))):
        wanted[sha256] = item_id
    for item_id, sha256 in session.execute(
        select(Derivative.item_id, Derivative.sha256).where(Derivative.item_id.in_(held))
    ):
        wanted.setdefault(sha256, item_id)
    return wanted


def sync_legal_holds(
    db: Database, audit: AuditLog, clock: Clock, blobs: BlobStore, rules: HoldRules
) -> LegalHoldSync:
    """Place the store's legal hold on every newly held blob and release it where no hold applies."""
    if not blobs.worm:
        return LegalHoldSync()
    with db.read() as session:
        wanted = held_blobs(session, rules, clock)
        rows = session.execute(select(StorageLegalHold.sha256, StorageLegalHold.item_id)).all()
        applied: dict[str, str] = dict(rows)  # a list of rows: a Result itself would read as a mapping
    change = _Change(db, audit, clock, blobs)
    for sha256 in sorted(wanted.keys() - applied.keys()):
        change.apply(sha256, wanted[sha256], on=True)
    for sha256 in sorted(applied.keys() - wanted.keys()):
        change.apply(sha256, applied[sha256], on=False)
    return LegalHoldSync(change.placed, change.released, change.failed)


class _Change:
    """Applies one legal hold change to the store, then records and audits it in one transaction."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, blobs: BlobStore) -> None:
        self.db, self.audit, self.clock, self.blobs = db, audit, clock, blobs
        self.placed = self.released = self.failed = 0

    def apply(self, sha256: str, item_id: str, *, on: bool) -> None:
        try:
            self.blobs.set_legal_hold(sha256, on)
        except StorageError as error:  # the next run tries again; what was applied stays recorded
            log.warning("could not %s the legal hold on %s: %s", "place" if on else "release", sha256, error)
            self.failed += 1
            return
        with self.db.transaction() as uow:
            row = uow.session.get(StorageLegalHold, sha256, with_for_update=True)
            if on and row is None:
                uow.session.add(StorageLegalHold(sha256=sha256, item_id=item_id, applied_at=self.clock.now()))
            elif not on and row is not None:
                uow.session.delete(row)
            else:
                return  # another run got there first
            self.audit.record(
                uow.session,
                AuditTag.STORAGE_LEGAL_HOLD_PLACED if on else AuditTag.STORAGE_LEGAL_HOLD_RELEASED,
                actor=SYSTEM,
                subject=Subject("item", item_id),
                details={"sha256": sha256, "reason": "a hold covers the item" if on else "no hold covers it"},
            )
        if on:
            self.placed += 1
        else:
            self.released += 1


def legal_hold_sync(
    db: Database, audit: AuditLog, clock: Clock, blobs: BlobStore, rules: HoldRules
) -> Callable[[], LegalHoldSync]:
    """The reconciliation as one call, for bootstrap to hand to the hold service and housekeeping."""
    return lambda: sync_legal_holds(db, audit, clock, blobs, rules)


def recorded_held(session: Session, sha256s: list[str]) -> set[str]:
    """Which of these blobs the store was last told to keep under a legal hold."""
    if not sha256s:
        return set()
    return set(session.scalars(select(StorageLegalHold.sha256).where(StorageLegalHold.sha256.in_(sha256s))))
