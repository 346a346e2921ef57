"""Cases: create, add members and items; members get the case's items, complaints restrict them."""

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from witnessbox.accounts.grants import add_grant, revoke_grants
from witnessbox.accounts.models import User
from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission, Role
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.models import Case, CaseItem, CaseKind, CaseMember
from witnessbox.cases.schemas import CaseItemOut, CaseMemberOut, CaseOut, CaseOverview
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database, flush_unique
from witnessbox.evidence.models import DerivativeKind, Item
from witnessbox.evidence.service import EvidenceService
from witnessbox.evidence.visibility import visible_to

SOURCE = "case"


class CaseService:
    """Use cases for cases and complaint cases."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, evidence: EvidenceService) -> None:
        self.db, self.audit, self.clock, self.evidence = db, audit, clock, evidence

    def create(
        self, reference: str, title: str, *, actor: Actor, kind: CaseKind = CaseKind.INVESTIGATION
    ) -> Case:
        """Open a case; complaint cases only by professional standards. The creator is a member."""
        require(actor, Permission.CASE_CREATE)
        if kind == CaseKind.COMPLAINT and not actor.has_role(Role.PROFESSIONAL_STANDARDS):
            raise Forbidden("only professional standards open complaint cases")
        reference, title = reference.strip(), title.strip()
        if not reference or not title:
            raise InvalidInput("a case needs a reference and a title")
        with self.db.transaction() as uow:
            case = Case(
                id=new_id(),
                reference=reference[:64],
                title=title[:255],
                kind=kind,
                created_by=actor.id,
                created_at=self.clock.now(),
            )
            uow.session.add(case)
            flush_unique(uow.session, f"case {reference} already exists")
            uow.session.add(
                CaseMember(id=new_id(), case_id=case.id, user_id=actor.id, added_at=self.clock.now())
            )
            self.audit.record(
                uow.session,
                AuditTag.CASE_CASE_CREATED,
                actor=actor,
                subject=Subject("case", case.id),
                details={"reference": case.reference, "kind": str(kind)},
            )
        return case

    def add_member(self, case_id: str, collar_number: str, *, actor: Actor) -> None:
        """Invite a colleague; they get every item in the case."""
        with self.db.transaction() as uow:
            case = self._managed(uow.session, case_id, actor)
            user = uow.session.scalars(select(User).where(User.collar_number == collar_number)).first()
            if user is None:
                raise NotFound(f"no user with collar number {collar_number!r}")
            if self._is_member(uow.session, case.id, user.id):
                return
            uow.session.add(
                CaseMember(id=new_id(), case_id=case.id, user_id=user.id, added_at=self.clock.now())
            )
            for item_id in uow.session.scalars(select(CaseItem.item_id).where(CaseItem.case_id == case.id)):
                add_grant(
                    uow.session,
                    item_id,
                    source=SOURCE,
                    source_id=case.id,
                    now=self.clock.now(),
                    user_id=user.id,
                )
            self.audit.record(
                uow.session,
                AuditTag.CASE_MEMBER_ADDED,
                actor=actor,
                subject=Subject("case", case.id),
                details={"member": user.display_name},
            )

    def add_items(self, case_id: str, item_ids: list[str], *, actor: Actor, reason: str | None = None) -> int:
        """Add items the actor may see (with `reason`, those the policy opens only with one);
        members get them; a complaint case restricts them. All or nothing."""
        with self.db.read() as session:
            self._managed(session, case_id, actor)  # an outsider learns nothing about the items
        for item_id in item_ids:
            self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor, reason=reason)
        added = 0
        with self.db.transaction() as uow:
            case = self._managed(uow.session, case_id, actor)
            members = list(
                uow.session.scalars(select(CaseMember.user_id).where(CaseMember.case_id == case.id))
            )
            for item_id in dict.fromkeys(item_ids):
                if uow.session.scalars(
                    select(CaseItem).where(CaseItem.case_id == case.id, CaseItem.item_id == item_id)
                ).first():
                    continue
                uow.session.add(
                    CaseItem(
                        id=new_id(),
                        case_id=case.id,
                        item_id=item_id,
                        added_by=actor.id,
                        added_at=self.clock.now(),
                    )
                )
                for member in members:
                    add_grant(
                        uow.session,
                        item_id,
                        source=SOURCE,
                        source_id=case.id,
                        now=self.clock.now(),
                        user_id=member,
                    )
                if case.restricted:
                    self.evidence.restrict(uow.session, item_id, case_reference=case.reference, actor=actor)
                self.audit.record(
                    uow.session,
                    AuditTag.CASE_ITEM_ADDED,
                    actor=actor,
                    subject=Subject("item", item_id),
                    details={"case": case.reference},
                )
                added += 1
        return added

    def item_ids_query(self, case_id: str, actor: Actor) -> Select[Any]:
        """The ids of the items in a case the actor works on, as a subquery for searches.

        Only for the case's members (and professional standards): otherwise a search by case
        would tell anyone which of the items they can see are in someone else's case. The
        search still applies the policy to every item it returns.
        """
        with self.db.read() as session:
            case = self._visible(session, case_id, actor)
        return select(CaseItem.item_id).where(CaseItem.case_id == case.id)

    def get(self, case_id: str, *, actor: Actor) -> Case:
        """A case the actor works on (or any case, for professional standards)."""
        with self.db.read() as session:
            return self._visible(session, case_id, actor)

    @staticmethod
    def kinds_for(actor: Actor) -> list[CaseKind]:
        """The kinds of case the actor may open (none, investigations, or complaints too)."""
        if decide(actor, Permission.CASE_CREATE) != Access.ALLOW:
            return []
        if actor.has_role(Role.PROFESSIONAL_STANDARDS):
            return list(CaseKind)
        return [CaseKind.INVESTIGATION]

    @staticmethod
    def may_manage(actor: Actor) -> bool:
        """Whether the actor may invite people to and add items to the cases they see."""
        return decide(actor, Permission.CASE_MANAGE) == Access.ALLOW

    def cases_for(self, actor: Actor) -> list[Case]:
        """The cases the actor works on, newest first; professional standards see every case."""
        query = select(Case).order_by(Case.created_at.desc(), Case.id.desc())
        if not actor.has_role(Role.PROFESSIONAL_STANDARDS):
            query = query.join(CaseMember, CaseMember.case_id == Case.id).where(
                CaseMember.user_id == actor.id, Case.kind != CaseKind.COMPLAINT
            )
        with self.db.read() as session:
            return list(session.scalars(query))

    def overview(self, case_id: str, *, actor: Actor) -> CaseOverview:
        """A case with its members and the items the actor may see, read together for its page."""
        with self.db.read() as session:
            case = self._visible(session, case_id, actor)
            return CaseOverview(
                case=CaseOut.model_validate(case, from_attributes=True),
                members=self._members(session, case.id),
                items=self._items(session, case.id, actor),
            )

    def members(self, case_id: str, *, actor: Actor) -> list[CaseMemberOut]:
        """Who works a case, longest-standing first."""
        with self.db.read() as session:
            return self._members(session, self._visible(session, case_id, actor).id)

    def items(self, case_id: str, *, actor: Actor) -> list[CaseItemOut]:
        """The case's items that the policy lets the actor see (members: all of them, through
        the case's grants; a complaint's restricted items only for professional standards),
        in recorded order."""
        with self.db.read() as session:
            return self._items(session, self._visible(session, case_id, actor).id, actor)

    def remove_item(self, case_id: str, item_id: str, *, actor: Actor) -> bool:
        """Take an item out of a case; members lose the access the case gave them. A complaint's
        restriction stays: lifting it is a decision of its own. False if it was not in the case."""
        with self.db.transaction() as uow:
            case = self._managed(uow.session, case_id, actor)
            row = uow.session.scalars(
                select(CaseItem).where(CaseItem.case_id == case.id, CaseItem.item_id == item_id)
            ).first()
            if row is None:
                return False
            uow.session.delete(row)
            revoke_grants(
                uow.session, source=SOURCE, source_id=case.id, now=self.clock.now(), item_id=item_id
            )
            self.audit.record(
                uow.session,
                AuditTag.CASE_ITEM_REMOVED,
                actor=actor,
                subject=Subject("item", item_id),
                details={"case": case.reference},
            )
        return True

    def close(self, case_id: str, *, actor: Actor) -> Case:
        """Close a case: its items' retention clocks that run from case closure start now (retention/).
        Closing twice changes nothing."""
        with self.db.transaction() as uow:
            case = self._managed(uow.session, case_id, actor)
            if case.closed_at is None:
                case.closed_at = self.clock.now()
                self.audit.record(
                    uow.session,
                    AuditTag.CASE_CASE_CLOSED,
                    actor=actor,
                    subject=Subject("case", case.id),
                    details={"reference": case.reference},
                )
        return case

    def remove_member(self, case_id: str, user_id: str, *, actor: Actor) -> bool:
        """Take someone off a case; they lose the access it gave them. A case keeps at least one
        member. False if they were not a member."""
        with self.db.transaction() as uow:
            case = self._managed(uow.session, case_id, actor)
            row = uow.session.scalars(
                select(CaseMember).where(CaseMember.case_id == case.id, CaseMember.user_id == user_id)
            ).first()
            if row is None:
                return False
            count = uow.session.scalar(select(func.count(CaseMember.id)).where(CaseMember.case_id == case.id))
            if count == 1:
                raise InvalidInput("a case keeps at least one member: invite someone else first")
            user = uow.session.get(User, user_id)
            uow.session.delete(row)
            revoke_grants(
                uow.session, source=SOURCE, source_id=case.id, now=self.clock.now(), user_id=user_id
            )
            self.audit.record(
                uow.session,
                AuditTag.CASE_MEMBER_REMOVED,
                actor=actor,
                subject=Subject("case", case.id),
                details={"member": user.display_name if user else user_id},
            )
        return True

    @staticmethod
    def _members(session: Session, case_id: str) -> list[CaseMemberOut]:
        rows = session.execute(
            select(User, CaseMember.added_at)
            .join(CaseMember, CaseMember.user_id == User.id)
            .where(CaseMember.case_id == case_id)
            .order_by(CaseMember.added_at, CaseMember.id)
        )
        return [
            CaseMemberOut(
                user_id=user.id,
                collar_number=user.collar_number,
                name=user.name,
                display_name=user.display_name,
                added_at=added_at,
            )
            for user, added_at in rows
        ]

    def _items(self, session: Session, case_id: str, actor: Actor) -> list[CaseItemOut]:
        rows = session.execute(
            select(Item, CaseItem.added_at)
            .join(CaseItem, CaseItem.item_id == Item.id)
            .where(CaseItem.case_id == case_id, visible_to(actor, self.clock.now()))
            .order_by(Item.recorded_start, Item.id)
        )
        return [_item_out(item, added_at) for item, added_at in rows]

    def _managed(self, session: Session, case_id: str, actor: Actor) -> Case:
        require(actor, Permission.CASE_MANAGE)
        return self._visible(session, case_id, actor)

    def _visible(self, session: Session, case_id: str, actor: Actor) -> Case:
        case = session.get(Case, case_id)
        psd = actor.has_role(Role.PROFESSIONAL_STANDARDS)
        if (
            case is None
            or (case.restricted and not psd)
            or not (psd or self._is_member(session, case.id, actor.id))
        ):
            raise NotFound(f"no case {case_id}")
        return case

    def _is_member(self, session: Session, case_id: str, user_id: str) -> bool:
        return (
            session.scalars(
                select(CaseMember.id).where(CaseMember.case_id == case_id, CaseMember.user_id == user_id)
            ).first()
            is not None
        )


def _item_out(item: Item, added_at: datetime) -> CaseItemOut:
    return CaseItemOut(
        id=item.id,
        filename=item.filename,
        title=item.title,
        recorded_start=item.recorded_start,
        recorded_end=item.recorded_end,
        duration_s=item.duration_s,
        officer=item.officer,
        camera_serial=item.camera_serial,
        category=item.category,
        evidential=item.evidential,
        state=str(item.state),
        width=item.width,
        height=item.height,
        has_thumbnail=item.derivative(DerivativeKind.THUMBNAIL_STRIP) is not None,
        has_redacted_copy=item.derivative(DerivativeKind.REDACTED) is not None,
        added_at=added_at,
    )
