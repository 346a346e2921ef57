"""Cases: create, add members and items; members get the case's items, complaints restrict them."""

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from witnessbox.accounts.grants import add_grant
from witnessbox.accounts.models import User
from witnessbox.accounts.roles import Permission, Role
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.models import Case, CaseItem, CaseKind, CaseMember
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database, flush_unique
from witnessbox.evidence.service import EvidenceService

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
                raise InvalidInput(f"no user with collar number {collar_number!r}")
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

    def add_items(self, case_id: str, item_ids: list[str], *, actor: Actor) -> int:
        """Add items the actor may see; members get them; a complaint case restricts them."""
        for item_id in item_ids:
            self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor)
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

    @staticmethod
    def item_ids_query(case_id: str) -> Select[Any]:
        """The ids of the items in a case, as a subquery for searches (no access check: the
        search applies the policy to every item it returns)."""
        return select(CaseItem.item_id).where(CaseItem.case_id == case_id)

    def get(self, case_id: str, *, actor: Actor) -> Case:
        """A case the actor works on (or any case, for professional standards)."""
        with self.db.read() as session:
            return self._visible(session, case_id, actor)

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
