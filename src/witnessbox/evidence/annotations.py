"""People's bookmarks and notes at a timecode of an item.

Who may do what (the policy decides on the item; this module adds authorship):
- list: whoever may view the item's record (Permission.ITEM_VIEW), since the marks
  describe the footage exactly as the record does;
- add: whoever may play the footage (Permission.ITEM_PLAY): a mark is placed while
  watching, so officers, their supervisors, case members and investigators with a
  recorded reason may mark it; trainers, auditors and administrators never see the
  footage and cannot;
- remove: only the mark's author, while they may still view the item. Nobody edits or
  removes another person's mark: it is part of the record of the review.
"""

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.accounts.roles import Permission
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Annotation, AnnotationKind, Item
from witnessbox.evidence.search import index_item
from witnessbox.evidence.service import EvidenceService

# A bookmark's text is a label on the timeline; a note says what happens at that moment.
MAX_TEXT = {AnnotationKind.BOOKMARK: 200, AnnotationKind.NOTE: 2000}


class AnnotationService:
    """Add, list and remove bookmarks and notes; every change audited."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, evidence: EvidenceService) -> None:
        self.db, self.audit, self.clock, self.evidence = db, audit, clock, evidence

    def list_for(self, item_id: str, *, actor: Actor) -> list[Annotation]:
        """Everyone's bookmarks and notes on an item, in timeline order."""
        self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor)
        query = (
            select(Annotation)
            .where(Annotation.item_id == item_id)
            .order_by(Annotation.at_s, Annotation.created_at, Annotation.id)
        )
        with self.db.read() as session:
            return list(session.scalars(query))

    def add(self, item_id: str, kind: AnnotationKind, at_s: float, text: str, *, actor: Actor) -> Annotation:
        """Place the actor's bookmark or note at `at_s` seconds into the recording."""
        text = _checked_text(kind, text)
        item = self.evidence.authorise(item_id, Permission.ITEM_PLAY, actor=actor)
        if actor.kind != ActorKind.USER:
            raise Forbidden("only people bookmark and annotate recordings")
        at_s = _checked_time(item, at_s)
        with self.db.transaction() as uow:
            annotation = Annotation(
                id=new_id(),
                item_id=item.id,
                user_id=actor.id,
                author=actor.name,
                kind=kind,
                at_s=at_s,
                text=text,
                created_at=self.clock.now(),
            )
            uow.session.add(annotation)
            self._record(uow.session, AuditTag.EVIDENCE_ANNOTATION_ADDED, annotation, actor)
        return annotation

    def remove(self, item_id: str, annotation_id: str, *, actor: Actor) -> None:
        """Remove one of the actor's own marks (the audit trail keeps what it said)."""
        self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor)
        with self.db.transaction() as uow:
            annotation = uow.session.get(Annotation, annotation_id)
            if annotation is None or annotation.item_id != item_id:
                raise NotFound(f"no bookmark or note {annotation_id} on item {item_id}")
            if annotation.user_id != actor.id:
                raise Forbidden(f"only {annotation.author}, who wrote it, can remove this {annotation.kind}")
            uow.session.delete(annotation)
            self._record(uow.session, AuditTag.EVIDENCE_ANNOTATION_REMOVED, annotation, actor)

    def _record(self, session: Session, tag: AuditTag, annotation: Annotation, actor: Actor) -> None:
        """Audit the change and refresh what the item is found by, in the same transaction."""
        session.flush()
        self.audit.record(
            session,
            tag,
            actor=actor,
            subject=Subject("item", annotation.item_id),
            details={
                "annotation": annotation.id,
                "kind": str(annotation.kind),
                "at_s": annotation.at_s,
                "text": annotation.text,
            },
        )
        item = session.get(Item, annotation.item_id)
        assert item is not None
        index_item(session, item)


def _checked_text(kind: AnnotationKind, text: str) -> str:
    clean, limit = text.strip(), MAX_TEXT[kind]
    if not clean:
        raise InvalidInput(f"a {kind} needs some text")
    if len(clean) > limit:
        raise InvalidInput(f"a {kind} is at most {limit} characters (this one has {len(clean)})")
    return clean


def _checked_time(item: Item, at_s: float) -> float:
    if item.duration_s is None:
        raise Conflict("this recording's length is not known yet: wait until it is processed")
    if not math.isfinite(at_s) or not 0 <= at_s <= item.duration_s:
        raise Conflict(f"the time must be between 0 and {item.duration_s:.3f} seconds into the recording")
    return round(at_s, 3)
