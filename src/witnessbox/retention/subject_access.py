"""Subject access requests: record who asked about what; the matching items are held and listed for
review until the request is closed (Data Protection Act 2018: answered within a month as a rule)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock, as_utc
from witnessbox.core.errors import Conflict, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database, flush_unique
from witnessbox.evidence.models import Item, ItemState
from witnessbox.retention.models import SubjectAccessItem, SubjectAccessRequest


@dataclass(frozen=True)
class RequestDraft:
    """What a request names: an incident, a time window, or both; the place is kept in words."""

    reference: str
    requester: str
    incident_number: str | None = None
    from_at: datetime | None = None
    to_at: datetime | None = None
    place: str | None = None


class SubjectAccessService:
    """Record, extend and close subject access requests (records managers and professional standards)."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self.db, self.audit, self.clock = db, audit, clock

    def record(self, draft: RequestDraft, *, actor: Actor) -> tuple[SubjectAccessRequest, list[str]]:
        """Record a request and hold every item it names (the incident's, or recorded in the window)."""
        require(actor, Permission.SUBJECT_ACCESS_MANAGE)
        match = _matching(_validated(draft))
        now = self.clock.now()
        with self.db.transaction() as uow:
            request = SubjectAccessRequest(
                id=new_id(),
                reference=draft.reference.strip()[:64],
                requester=draft.requester.strip()[:255],
                incident_number=draft.incident_number,
                from_at=draft.from_at,
                to_at=draft.to_at,
                place=draft.place,
                received_at=now,
                recorded_by_name=actor.name,
            )
            uow.session.add(request)
            flush_unique(uow.session, f"subject access request {draft.reference} already exists")
            item_ids = list(uow.session.scalars(select(Item.id).where(match, Item.state != ItemState.PURGED)))
            self._add(uow.session, request, item_ids, now)
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_SUBJECT_ACCESS_RECORDED,
                actor=actor,
                subject=Subject("subject_access", request.id),
                details={"reference": request.reference, "items": len(item_ids)},
            )
        return request, item_ids

    def add_items(self, request_id: str, item_ids: list[str], *, actor: Actor) -> int:
        """Name more items in an open request (found on review); how many were new."""
        require(actor, Permission.SUBJECT_ACCESS_MANAGE)
        now = self.clock.now()
        with self.db.transaction() as uow:
            request = self._open(uow.session, request_id)
            known = set(uow.session.scalars(select(Item.id).where(Item.id.in_(item_ids))))
            if missing := set(item_ids) - known:
                raise NotFound(f"no item {sorted(missing)[0]}")
            added = self._add(uow.session, request, item_ids, now)
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_SUBJECT_ACCESS_RECORDED,
                actor=actor,
                subject=Subject("subject_access", request.id),
                details={"added": added},
            )
        return added

    def close(self, request_id: str, *, actor: Actor) -> SubjectAccessRequest:
        """Close a request: its items are no longer held for it."""
        require(actor, Permission.SUBJECT_ACCESS_MANAGE)
        with self.db.transaction() as uow:
            request = self._open(uow.session, request_id)
            request.closed_at = self.clock.now()
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_SUBJECT_ACCESS_CLOSED,
                actor=actor,
                subject=Subject("subject_access", request.id),
                details={"reference": request.reference},
            )
        return request

    def get(self, request_id: str, *, actor: Actor) -> SubjectAccessRequest:
        """One request."""
        require(actor, Permission.SUBJECT_ACCESS_MANAGE)
        with self.db.read() as session:
            request = session.get(SubjectAccessRequest, request_id)
        if request is None:
            raise NotFound(f"no subject access request {request_id}")
        return request

    def items(self, request_id: str, *, actor: Actor) -> list[str]:
        """The ids of the items a request names, for its review."""
        require(actor, Permission.SUBJECT_ACCESS_MANAGE)
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(SubjectAccessItem.item_id)
                    .where(SubjectAccessItem.request_id == request_id)
                    .order_by(SubjectAccessItem.added_at, SubjectAccessItem.id)
                )
            )

    def requests(self, *, actor: Actor) -> list[SubjectAccessRequest]:
        """Every request, open ones first, newest first."""
        require(actor, Permission.SUBJECT_ACCESS_MANAGE)
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(SubjectAccessRequest).order_by(
                        SubjectAccessRequest.closed_at.is_not(None), SubjectAccessRequest.received_at.desc()
                    )
                )
            )

    @staticmethod
    def _open(session: Session, request_id: str) -> SubjectAccessRequest:
        request = session.get(SubjectAccessRequest, request_id, with_for_update=True)
        if request is None:
            raise NotFound(f"no subject access request {request_id}")
        if request.closed_at is not None:
            raise Conflict("this request is closed")
        return request

    @staticmethod
    def _add(session: Session, request: SubjectAccessRequest, item_ids: list[str], now: datetime) -> int:
        present = set(
            session.scalars(
                select(SubjectAccessItem.item_id).where(SubjectAccessItem.request_id == request.id)
            )
        )
        new = [i for i in dict.fromkeys(item_ids) if i not in present]
        session.add_all(
            SubjectAccessItem(id=new_id(), request_id=request.id, item_id=i, added_at=now) for i in new
        )
        return len(new)


def _validated(draft: RequestDraft) -> RequestDraft:
    if not draft.reference.strip() or not draft.requester.strip():
        raise InvalidInput("a request needs a reference and who asked")
    if not draft.incident_number and not (draft.from_at and draft.to_at):
        raise InvalidInput("name an incident number or a time window")
    if draft.from_at and draft.to_at and as_utc(draft.to_at) <= as_utc(draft.from_at):
        raise InvalidInput("the window ends after it starts")
    return draft


def _matching(draft: RequestDraft) -> ColumnElement[bool]:
    """Items of the incident, or recorded (in part) within the window."""
    conditions = []
    if draft.incident_number:
        conditions.append(Item.incident_number == draft.incident_number.strip())
    if draft.from_at and draft.to_at:
        ended = Item.recorded_end.is_(None) | (Item.recorded_end >= draft.from_at)
        conditions.append(and_(Item.recorded_start <= draft.to_at, ended))
    return or_(*conditions)
