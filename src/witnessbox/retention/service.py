"""The deletion path: due → warned (review queue, notices) → approved (evidential: two people) →
recycled (bytes kept, recoverable by two people) → purged (bytes removed, signed certificate).

Every step is a service call with an actor, audited in its own transaction. A held item never
moves forward, and the purge re-checks, in the purge's own transaction, that no hold covered the
item at any moment of its recycle window.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import TeamMember
from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission, Role
from witnessbox.accounts.service import UserService, require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.signing import CheckpointKey
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.core.clock import Clock, as_utc
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item, ItemPlace, ItemState
from witnessbox.evidence.service import EvidenceService
from witnessbox.retention.holds import HoldRules, held_during, holds_for
from witnessbox.retention.legal_holds import sync_legal_holds
from witnessbox.retention.models import (
    ApprovalKind,
    DeletionCertificate,
    ItemRetention,
    RetentionApproval,
    Stage,
)
from witnessbox.retention.purge import ByteRemover, canonical, certificate_for
from witnessbox.retention.schedule import COMPLAINT, EVIDENTIAL, RetentionSchedule
from witnessbox.retention.schemas import HoldOut, ItemRetentionOut, QueueEntry, SweepOutcome
from witnessbox.storage.base import BlobStore

APPROVERS = 2  # two different people for an evidential deletion and for any recovery


@dataclass(frozen=True)
class PathRules:
    """The deletion path's periods (config: retention_*_days)."""

    warning: timedelta
    recycle: timedelta
    keep: timedelta


def needs_approval(retention_class: str) -> bool:
    """Evidential and complaint footage goes only with two people's approval; the rest goes by itself."""
    return retention_class == COMPLAINT or retention_class.split(":", maxsplit=1)[0] == EVIDENTIAL


class RetentionService:
    """Moves items along the deletion path; the review queue and each item's retention status."""

    BATCH = 200

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        blobs: BlobStore,
        users: UserService,
        evidence: EvidenceService,
        schedule: RetentionSchedule,
        path: PathRules,
        holds: HoldRules,
    ) -> None:
        self.db, self.audit, self.clock, self.blobs, self.users = db, audit, clock, blobs, users
        self.evidence, self.schedule, self.path, self.holds = evidence, schedule, path, holds

    # --- the sweep ------------------------------------------------------------------------------------

    def sweep(self) -> SweepOutcome:
        """One pass of the periodic job: due dates, warnings, recycling, rescues, purges."""
        outcome = SweepOutcome(computed=self.schedule.refresh())
        outcome.warned = self._warn_due()
        outcome.rescued = self._rescue_held()
        outcome.recycled = self._recycle_due()
        outcome.purged = self._purge_due()
        sync_legal_holds(self.db, self.audit, self.clock, self.blobs, self.holds)  # releases first
        ByteRemover(self.db, self.audit, self.blobs, self.clock).remove_bytes()
        return outcome

    def _not_held(self, now: datetime) -> Any:
        return ~held_during(ItemRetention.item_id, now, now, self.holds)

    def _warn_due(self) -> int:
        now = self.clock.now()
        query = select(ItemRetention).where(
            ItemRetention.stage == Stage.SCHEDULED,
            ItemRetention.due_at <= now + self.path.warning,
            self._not_held(now),
        )
        return self._each(query, self._warn)

    def _rescue_held(self) -> int:
        now = self.clock.now()
        query = select(ItemRetention).where(ItemRetention.stage == Stage.RECYCLED, ~self._not_held(now))
        return self._each(query, lambda s, row, now: self._rescue(s, row, "a hold covers it now"))

    def _recycle_due(self) -> int:
        now = self.clock.now()
        query = select(ItemRetention).where(
            ItemRetention.stage == Stage.WARNED,
            ItemRetention.due_at <= now,
            ItemRetention.warned_at <= now - self.path.warning,
            self._not_held(now),
        )
        return self._each(query, self._recycle_if_approved)

    def _purge_due(self) -> int:
        now = self.clock.now()
        query = select(ItemRetention).where(
            ItemRetention.stage == Stage.RECYCLED, ItemRetention.recycle_until <= now
        )
        purged = self._each(query, self._purge)
        if purged:
            self.audit.seal(actor=SYSTEM)  # the purge entries are signed before any byte goes
        return purged

    def _each(self, query: Select[ItemRetention], step: Any) -> int:
        """Run `step` on each row the query finds, one transaction per batch, rows locked and re-read."""
        done, skip = 0, set[str]()
        while True:
            now = self.clock.now()
            with self.db.transaction() as uow:
                rows = [
                    r
                    for r in uow.session.scalars(
                        query.order_by(ItemRetention.item_id).limit(self.BATCH + len(skip)).with_for_update()
                    )
                    if r.item_id not in skip
                ][: self.BATCH]
                if not rows:
                    return done
                for row in rows:
                    done += int(bool(step(uow.session, row, now)))
                    skip.add(row.item_id)

    def _warn(self, session: Session, row: ItemRetention, now: datetime) -> bool:
        item = session.get_one(Item, row.item_id)
        row.stage, row.warned_at = Stage.WARNED, now
        due = as_utc(row.due_at).date().isoformat() if row.due_at else "soon"
        text = f"{item.filename} ({item.recorded_start:%d %b %Y}) goes on {due}: keep it if needed"
        for user_id in self._owner_and_supervisors(session, item):
            self.users.notify(session, user_id, text, link=f"/retention/items/{item.id}")
        self._record(session, AuditTag.RETENTION_ITEM_WARNED, row, SYSTEM, {"due_at": due})
        return True

    def _recycle_if_approved(self, session: Session, row: ItemRetention, now: datetime) -> bool:
        if (
            needs_approval(row.retention_class)
            and len(self._approvers(session, row, ApprovalKind.DELETE)) < APPROVERS
        ):
            return False
        row.stage, row.recycled_at, row.recycle_until = Stage.RECYCLED, now, now + self.path.recycle
        self._record(
            session,
            AuditTag.RETENTION_ITEM_RECYCLED,
            row,
            SYSTEM,
            {"recycle_until": row.recycle_until.isoformat()},
        )
        return True

    def _rescue(self, session: Session, row: ItemRetention, why: str) -> bool:
        """Take an item off the path (a hold came): it starts again from scheduled, approvals spent."""
        row.stage, row.warned_at, row.recycled_at, row.recycle_until = Stage.SCHEDULED, None, None, None
        row.cycle += 1
        self._record(session, AuditTag.RETENTION_ITEM_RESCUED, row, SYSTEM, {"why": why})
        return True

    def _purge(self, session: Session, row: ItemRetention, now: datetime) -> bool:
        """Purge one item, or rescue it if any hold covered it during its recycle window."""
        assert row.recycled_at is not None
        start = as_utc(row.recycled_at)
        held = session.scalar(
            select(held_during(ItemRetention.item_id, start, now, self.holds)).where(
                ItemRetention.item_id == row.item_id
            )
        )
        if held:
            return not self._rescue(session, row, "a hold covered it during its recycle window")
        item = session.get_one(Item, row.item_id)
        rule = self.schedule.rules(session).get(row.retention_class)
        approvals = self._approvals(session, row, ApprovalKind.DELETE)
        certificate = certificate_for(row, item, rule, approvals, self.audit.signer, now)
        session.add(certificate)
        for place in session.scalars(select(ItemPlace).where(ItemPlace.item_id == item.id)):
            session.delete(place)
        item.state, item.state_reason, item.gps_track = ItemState.PURGED, certificate.reason, None
        row.stage, row.purged_at = Stage.PURGED, now
        self._record(
            session,
            AuditTag.RETENTION_ITEM_PURGED,
            row,
            SYSTEM,
            {"certificate": certificate.id, "sha256": item.sha256, "size": item.size},
        )
        return True

    # --- people's decisions ----------------------------------------------------------------------------

    def approve(self, item_id: str, *, actor: Actor, reason: str = "") -> int:
        """Approve a warned item's deletion; how many different people have now approved it."""
        return self._sign_off(item_id, ApprovalKind.DELETE, Stage.WARNED, actor, reason)

    def recover(self, item_id: str, *, actor: Actor, reason: str) -> int:
        """Approve bringing a recycled item back; the second person's approval brings it back."""
        if not reason.strip():
            raise InvalidInput("say why the item is recovered")
        return self._sign_off(item_id, ApprovalKind.RECOVER, Stage.RECYCLED, actor, reason)

    def keep(self, item_id: str, *, actor: Actor, reason: str) -> datetime:
        """Keep an item past its due date (its own circle or a reviewer, with a reason); the new due date."""
        if not reason.strip():
            raise InvalidInput("say why the item is kept")
        if not actor.has_role(Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS):
            self.evidence.authorise(item_id, Permission.ITEM_CATEGORISE, actor=actor)  # its own circle
        now = self.clock.now()
        with self.db.transaction() as uow:
            row = self._row(uow.session, item_id)
            if row.stage not in (Stage.SCHEDULED, Stage.WARNED):
                raise Conflict(f"the item is {row.stage}: it can no longer be kept, only recovered")
            self._extend(row, now, reason)
            self._record(
                uow.session,
                AuditTag.RETENTION_ITEM_KEPT,
                row,
                actor,
                {"reason": reason.strip(), "due_at": _iso(row.due_at)},
            )
            assert row.due_at is not None
            return row.due_at

    def _extend(self, row: ItemRetention, now: datetime, reason: str) -> None:
        row.kept_until, row.keep_reason = now + self.path.keep, reason.strip()
        row.due_at = max(as_utc(row.due_at), row.kept_until) if row.due_at else row.kept_until
        row.stage, row.warned_at, row.recycled_at, row.recycle_until = Stage.SCHEDULED, None, None, None
        row.cycle += 1

    def _sign_off(self, item_id: str, kind: ApprovalKind, stage: Stage, actor: Actor, reason: str) -> int:
        require(actor, Permission.RETENTION_REVIEW)
        now = self.clock.now()
        with self.db.transaction() as uow:
            row = self._row(uow.session, item_id)
            item = uow.session.get_one(Item, item_id)
            self._may_review(uow.session, item, actor)
            if row.stage != stage:
                raise Conflict(f"the item is {row.stage}, not {stage}")
            if actor.id in {a.user_id for a in self._approvals(uow.session, row, kind)}:
                raise Conflict("you have already approved this: a second, different person must")
            uow.session.add(
                RetentionApproval(
                    id=new_id(),
                    item_id=item_id,
                    cycle=row.cycle,
                    kind=kind,
                    user_id=actor.id,
                    name=actor.name,
                    reason=reason.strip(),
                    at=now,
                )
            )
            count = len(self._approvals(uow.session, row, kind))  # the new one included (autoflush)
            tag = (
                AuditTag.RETENTION_ITEM_APPROVED
                if kind == ApprovalKind.DELETE
                else AuditTag.RETENTION_ITEM_RECOVERY_APPROVED
            )
            self._record(uow.session, tag, row, actor, {"approvals": count, "reason": reason.strip()})
            if kind == ApprovalKind.RECOVER and count >= APPROVERS:
                self._extend(row, now, reason)
                self._record(
                    uow.session, AuditTag.RETENTION_ITEM_RECOVERED, row, actor, {"due_at": _iso(row.due_at)}
                )
            return count

    def _may_review(self, session: Session, item: Item, actor: Actor) -> None:
        """Not the item's own officer; supervisors only for their teams; restricted items for PSD and
        records managers only. Others learn nothing about the item."""
        if item.officer_id == actor.id:
            raise Forbidden("an officer does not decide the deletion of their own recordings")
        wide = actor.has_role(Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS)
        if (item.restricted and not wide) or (not wide and item.team_id not in actor.supervises):
            raise NotFound(f"no item {item.id}")

    # --- reading -----------------------------------------------------------------------------------------

    def queue(self, *, actor: Actor, stage: Stage | None = None) -> list[QueueEntry]:
        """The review queue the actor sees: items warned, recycled, or due within the warning period."""
        require(actor, Permission.RETENTION_REVIEW)
        now = self.clock.now()
        stages = [stage] if stage else [Stage.WARNED, Stage.RECYCLED]
        query = (
            select(ItemRetention, Item)
            .join(Item, Item.id == ItemRetention.item_id)
            .where(ItemRetention.stage.in_(stages))
            .order_by(ItemRetention.due_at, Item.id)
            .limit(500)
        )
        if not actor.has_role(Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS):
            query = query.where(Item.team_id.in_(actor.supervises), Item.restricted.is_(False))
        with self.db.read() as session:
            rows = [(row, item) for row, item in session.execute(query)]
            held = set(
                session.scalars(
                    select(ItemRetention.item_id).where(
                        ItemRetention.item_id.in_([r.item_id for r, _ in rows]), ~self._not_held(now)
                    )
                )
            )
            names = self._approval_names(session, [row for row, _ in rows])
            return [_entry(row, item, row.item_id in held, names.get(row.item_id, [])) for row, item in rows]

    @staticmethod
    def _approval_names(session: Session, rows: list[ItemRetention]) -> dict[str, list[str]]:
        """Who approved each row's current step (deletion; recovery once recycled), in one query."""
        current = {
            (r.item_id, r.cycle, ApprovalKind.RECOVER if r.stage == Stage.RECYCLED else ApprovalKind.DELETE)
            for r in rows
        }
        names: dict[str, list[str]] = {}
        for approval in session.scalars(
            select(RetentionApproval)
            .where(RetentionApproval.item_id.in_([r.item_id for r in rows]))
            .order_by(RetentionApproval.at)
        ):
            if (approval.item_id, approval.cycle, approval.kind) in current:
                names.setdefault(approval.item_id, []).append(approval.name)
        return names

    def status(self, item_id: str, *, actor: Actor) -> ItemRetentionOut:
        """An item's retention for its page (anyone who may view the item; records managers and
        professional standards for any item, as they place holds and review deletions force-wide)."""
        if not actor.has_role(Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS):
            self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor)
        now = self.clock.now()
        with self.db.read() as session:
            row = session.get(ItemRetention, item_id)
            certificate = session.scalars(
                select(DeletionCertificate).where(DeletionCertificate.item_id == item_id)
            ).first()
            holds = [HoldOut(**vars(h)) for h in holds_for(session, item_id, now, self.holds)]
        return ItemRetentionOut(
            item_id=item_id,
            retention_class=row.retention_class if row else None,
            due_at=row.due_at if row else None,
            stage=str(row.stage) if row else str(Stage.SCHEDULED),
            holds=holds,
            certificate_id=certificate.id if certificate else None,
            purged_at=certificate.purged_at if certificate else None,
            purge_reason=certificate.reason if certificate else None,
        )

    def certificate(self, item_id: str, *, actor: Actor) -> DeletionCertificate:
        """A purged item's signed deletion certificate."""
        if decide(actor, Permission.RETENTION_REVIEW) != Access.ALLOW:
            require(actor, Permission.AUDIT_VERIFY)
        with self.db.read() as session:
            certificate = session.scalars(
                select(DeletionCertificate).where(DeletionCertificate.item_id == item_id)
            ).first()
        if certificate is None:
            raise NotFound(f"no deletion certificate for item {item_id}")
        return certificate

    def verify_certificate(self, certificate: DeletionCertificate) -> bool:
        """Whether a certificate's signature holds under one of the server's keys."""
        signer = self.audit.signer
        if signer.key_id == certificate.key_id:
            return signer.verify(canonical(certificate.statement), certificate.signature)
        pem = self.audit.public_keys().get(certificate.key_id)
        if not pem:
            return False
        return CheckpointKey.from_pem(pem).verify(canonical(certificate.statement), certificate.signature)

    # --- helpers -----------------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, item_id: str) -> ItemRetention:
        row = session.get(ItemRetention, item_id, with_for_update=True)
        if row is None:
            raise NotFound(f"item {item_id} is not on the retention schedule yet")
        return row

    @staticmethod
    def _approvals(session: Session, row: ItemRetention, kind: ApprovalKind) -> list[RetentionApproval]:
        return list(
            session.scalars(
                select(RetentionApproval)
                .where(
                    RetentionApproval.item_id == row.item_id,
                    RetentionApproval.cycle == row.cycle,
                    RetentionApproval.kind == kind,
                )
                .order_by(RetentionApproval.at, RetentionApproval.id)
            )
        )

    def _approvers(self, session: Session, row: ItemRetention, kind: ApprovalKind) -> set[str]:
        return {a.user_id for a in self._approvals(session, row, kind)}

    @staticmethod
    def _owner_and_supervisors(session: Session, item: Item) -> list[str]:
        people = [item.officer_id] if item.officer_id else []
        if item.team_id:
            people += session.scalars(
                select(TeamMember.user_id).where(
                    TeamMember.team_id == item.team_id, TeamMember.supervises.is_(True)
                )
            )
        return list(dict.fromkeys(people))

    def _record(
        self, session: Session, tag: AuditTag, row: ItemRetention, actor: Actor, details: dict[str, Any]
    ) -> None:
        self.audit.record(
            session,
            tag,
            actor=actor,
            subject=Subject("item", row.item_id),
            details={"class": row.retention_class, "stage": str(row.stage), **details},
        )


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None


def _entry(row: ItemRetention, item: Item, held: bool, approvals: list[str]) -> QueueEntry:
    return QueueEntry(
        item_id=item.id,
        filename=item.filename,
        officer=item.officer,
        recorded_start=item.recorded_start,
        category=item.category,
        evidential=item.evidential,
        retention_class=row.retention_class,
        due_at=row.due_at,
        stage=str(row.stage),
        recycle_until=row.recycle_until,
        approvals=approvals,
        held=held,
    )
