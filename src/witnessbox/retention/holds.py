"""Holds: what stops an item being deleted, whatever the schedule says.

Two questions, answered in one place each and used everywhere:
- `held_during(item_id, start, end)`: a SQL condition, true for items some hold covered at any moment
  of [start, end] (with start == end: held now). The sweep's queues and the purge's final re-check
  both use it, so "held" means the same thing in every query.
- `holds_for(session, item_id, now)`: the same rules in words, for one item's page.

Holds come from manual legal holds (on an item or its case), and automatically from an open case
(investigation or complaint) and an open subject access request; other domains add theirs as
`HoldSource`s handed over by bootstrap (disclosure/holds.py: a live external share, a disclosure
package made within the package hold period), so retention never reads their tables itself.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.models import Case, CaseItem, CaseKind
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock, as_utc
from witnessbox.core.errors import Conflict, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item
from witnessbox.retention.models import Hold, SubjectAccessItem, SubjectAccessRequest


@dataclass(frozen=True)
class HoldReason:
    """One reason an item is kept now, in words a records manager reads."""

    kind: str  # legal, case, complaint, external_share, package, subject_access
    description: str
    since: datetime | None
    until: datetime | None = None
    hold_id: str | None = None  # a manual hold, which a permitted person may release


class HoldSource(Protocol):
    """Another domain's reasons to keep (disclosure's shares and packages), handed over by bootstrap."""

    def during(
        self, item_id: SQLColumnExpression[str], start: datetime, end: datetime
    ) -> ColumnElement[bool]:
        """True for items this source held at some moment of [start, end]."""
        ...

    def reasons(
        self, session: Session, item_id: str, now: datetime
    ) -> list[tuple[str, str, datetime | None, datetime | None]]:
        """(kind, description, since, until) of each of this source's holds on one item now."""
        ...


@dataclass(frozen=True)
class HoldRules:
    """The holds of other domains that retention also honours."""

    sources: tuple[HoldSource, ...] = ()


def _overlaps(
    start_col: SQLColumnExpression[datetime],
    end_col: SQLColumnExpression[datetime | None] | None,
    start: datetime,
    end: datetime,
) -> ColumnElement[bool]:
    """[start_col, end_col) (end_col None: open) overlaps [start, end]."""
    began = start_col <= end
    if end_col is None:
        return began
    return and_(began, or_(end_col.is_(None), end_col > start))


def _manual(item_id: SQLColumnExpression[str], start: datetime, end: datetime) -> ColumnElement[bool]:
    on_case = select(CaseItem.case_id).where(CaseItem.item_id == item_id)
    return exists().where(
        or_(Hold.item_id == item_id, Hold.case_id.in_(on_case.scalar_subquery())),
        _overlaps(Hold.placed_at, Hold.released_at, start, end),
        or_(Hold.until.is_(None), Hold.until > start),
    )


def _case(item_id: SQLColumnExpression[str], start: datetime, end: datetime) -> ColumnElement[bool]:
    return exists().where(
        CaseItem.item_id == item_id,
        CaseItem.case_id == Case.id,
        _overlaps(CaseItem.added_at, Case.closed_at, start, end),
    )


def _subject_access(item_id: SQLColumnExpression[str], start: datetime, end: datetime) -> ColumnElement[bool]:
    return exists().where(
        SubjectAccessItem.item_id == item_id,
        SubjectAccessItem.request_id == SubjectAccessRequest.id,
        _overlaps(SubjectAccessItem.added_at, SubjectAccessRequest.closed_at, start, end),
    )


def held_during(
    item_id: SQLColumnExpression[str], start: datetime, end: datetime, rules: HoldRules
) -> ColumnElement[bool]:
    """True for items any hold covered at some moment of [start, end]; pass start == end for "now"."""
    return or_(
        _manual(item_id, start, end),
        _case(item_id, start, end),
        *(source.during(item_id, start, end) for source in rules.sources),
        _subject_access(item_id, start, end),
    )


def holds_for(session: Session, item_id: str, now: datetime, rules: HoldRules) -> list[HoldReason]:
    """Every hold covering one item now, described."""
    return [
        *_manual_reasons(session, item_id, now),
        *_case_reasons(session, item_id),
        *(
            HoldReason(*reason)
            for source in rules.sources
            for reason in source.reasons(session, item_id, now)
        ),
        *_subject_access_reasons(session, item_id),
    ]


def _manual_reasons(session: Session, item_id: str, now: datetime) -> list[HoldReason]:
    on_case = select(CaseItem.case_id).where(CaseItem.item_id == item_id).scalar_subquery()
    holds = session.scalars(
        select(Hold)
        .where(
            or_(Hold.item_id == item_id, Hold.case_id.in_(on_case)),
            Hold.released_at.is_(None),
            or_(Hold.until.is_(None), Hold.until > now),
        )
        .order_by(Hold.placed_at)
    )
    return [
        HoldReason("legal", f"legal hold by {h.placed_by_name}: {h.reason}", h.placed_at, h.until, h.id)
        for h in holds
    ]


def _case_reasons(session: Session, item_id: str) -> list[HoldReason]:
    rows = session.execute(
        select(Case.reference, Case.kind, CaseItem.added_at)
        .join(CaseItem, CaseItem.case_id == Case.id)
        .where(CaseItem.item_id == item_id, Case.closed_at.is_(None))
    )
    return [
        HoldReason(
            "complaint" if kind == CaseKind.COMPLAINT else "case",
            f"{'complaint' if kind == CaseKind.COMPLAINT else 'case'} {reference} is open",
            added,
        )
        for reference, kind, added in rows
    ]


def _subject_access_reasons(session: Session, item_id: str) -> list[HoldReason]:
    rows = session.execute(
        select(SubjectAccessRequest.reference, SubjectAccessItem.added_at)
        .join(SubjectAccessItem, SubjectAccessItem.request_id == SubjectAccessRequest.id)
        .where(SubjectAccessItem.item_id == item_id, SubjectAccessRequest.closed_at.is_(None))
    )
    return [
        HoldReason("subject_access", f"subject access request {ref} is open", added) for ref, added in rows
    ]


class HoldService:
    """Manual legal holds: placed and released by professional standards and records managers, audited."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        rules: HoldRules,
        *,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        self.db, self.audit, self.clock, self.rules = db, audit, clock, rules
        self.on_change = on_change  # after a hold is placed or released: the store's legal holds follow

    def place(
        self,
        *,
        actor: Actor,
        reason: str,
        item_id: str | None = None,
        case_id: str | None = None,
        until: datetime | None = None,
    ) -> Hold:
        """Hold an item, or every item of a case (now and later), until released (or until `until`)."""
        require(actor, Permission.HOLD_MANAGE)
        if (item_id is None) == (case_id is None):
            raise InvalidInput("hold one item or one case")
        if not reason.strip():
            raise InvalidInput("a hold needs a reason")
        now = self.clock.now()
        if until is not None and as_utc(until) <= now:
            raise InvalidInput("a hold's end is in the future")
        with self.db.transaction() as uow:
            self._exists(uow.session, item_id, case_id)
            hold = Hold(
                id=new_id(),
                item_id=item_id,
                case_id=case_id,
                reason=reason.strip(),
                placed_by=actor.id,
                placed_by_name=actor.name,
                placed_at=now,
                until=until,
            )
            uow.session.add(hold)
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_HOLD_PLACED,
                actor=actor,
                subject=Subject("item", item_id) if item_id else Subject("case", case_id or ""),
                details={
                    "hold": hold.id,
                    "reason": hold.reason,
                    "until": until.isoformat() if until else None,
                },
            )
        self._changed()
        return hold

    def place_on_reference(
        self,
        *,
        actor: Actor,
        reason: str,
        case_reference: str,
        until: datetime | None = None,
        item_id: str | None = None,
    ) -> Hold:
        """Hold every item of the case a person names by its reference (the holds page's form, which
        also has an item field: naming both is refused, as for `place`)."""
        require(actor, Permission.HOLD_MANAGE)
        if item_id:
            raise InvalidInput("hold one item or one case")
        with self.db.read() as session:
            case_id = session.scalar(select(Case.id).where(Case.reference == case_reference.strip()))
        if case_id is None:
            raise NotFound(f"no case {case_reference.strip()}")
        return self.place(actor=actor, reason=reason, case_id=case_id, until=until)

    def case_references(self, holds: list[Hold]) -> dict[str, str]:
        """The references of the cases some holds name, by case id, for a page to show."""
        ids = {h.case_id for h in holds if h.case_id}
        if not ids:
            return {}
        with self.db.read() as session:
            rows = session.execute(select(Case.id, Case.reference).where(Case.id.in_(ids)))
            return dict(rows.tuples().all())  # a Result has keys(): dict() would read it as a mapping

    def release(self, hold_id: str, *, actor: Actor, reason: str) -> Hold:
        """Release a manual hold (a permitted role only, with a reason)."""
        require(actor, Permission.HOLD_MANAGE)
        if not reason.strip():
            raise InvalidInput("say why the hold is released")
        with self.db.transaction() as uow:
            hold = uow.session.get(Hold, hold_id, with_for_update=True)
            if hold is None:
                raise NotFound(f"no hold {hold_id}")
            if hold.released_at is not None:
                raise Conflict("this hold was already released")
            hold.released_at, hold.released_by_name, hold.release_reason = (
                self.clock.now(),
                actor.name,
                reason.strip(),
            )
            subject = Subject("item", hold.item_id) if hold.item_id else Subject("case", hold.case_id or "")
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_HOLD_RELEASED,
                actor=actor,
                subject=subject,
                details={"hold": hold.id, "reason": hold.release_reason},
            )
        self._changed()
        return hold

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def active(self, *, actor: Actor) -> list[Hold]:
        """Manual holds in force, newest first."""
        require(actor, Permission.HOLD_MANAGE)
        now = self.clock.now()
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(Hold)
                    .where(Hold.released_at.is_(None), or_(Hold.until.is_(None), Hold.until > now))
                    .order_by(Hold.placed_at.desc())
                )
            )

    def for_item(self, item_id: str) -> list[HoldReason]:
        """Every hold covering an item now (callers check the actor may see the item)."""
        with self.db.read() as session:
            return holds_for(session, item_id, self.clock.now(), self.rules)

    @staticmethod
    def _exists(session: Session, item_id: str | None, case_id: str | None) -> None:
        if item_id is not None and session.get(Item, item_id) is None:
            raise NotFound(f"no item {item_id}")
        if case_id is not None and session.get(Case, case_id) is None:
            raise NotFound(f"no case {case_id}")
