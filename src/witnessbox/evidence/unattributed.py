"""No recording belongs to nobody: the queue of camera recordings with no holder, and attributing one.

A docked recording belongs to whoever held the camera when it started. A camera with
no holder then (registered but not yet issued, or between officers) leaves the item
with no officer: nobody but investigators with a reason would ever see it. The queue
shows supervisors and administrators these items' records (metadata only: never the
footage, which administrators may not see), and one audited step gives an item to the
officer who held the camera. Restricted items stay out of it: they are for professional
standards alone.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import User
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import home_team, require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, InvalidInput, NotFound
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item
from witnessbox.evidence.search import index_item

QUEUE_LIMIT = 200


@dataclass(frozen=True)
class Unattributed:
    """What the queue shows of one recording: where and when it was made, never what it shows."""

    id: str
    camera: str | None
    filename: str
    recorded_start: datetime
    recorded_end: datetime | None
    uploaded_at: datetime
    state: str


class UnattributedService:
    """The unattributed queue and the attribution step; every attribution audited."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self.db, self.audit, self.clock = db, audit, clock

    def queue(self, *, actor: Actor) -> list[Unattributed]:
        """Camera recordings with no officer, oldest first (supervisors and administrators)."""
        require(actor, Permission.ITEM_ATTRIBUTE)
        query = select(Item).where(_unattributed()).order_by(Item.recorded_start, Item.id).limit(QUEUE_LIMIT)
        with self.db.read() as session:
            return [_entry(item) for item in session.scalars(query)]

    def attribute(self, item_id: str, collar_number: str, *, actor: Actor) -> Item:
        """Give an unattributed recording to the officer who held its camera; it is theirs from now on."""
        require(actor, Permission.ITEM_ATTRIBUTE)
        with self.db.transaction() as uow:
            item = uow.session.scalars(
                select(Item).where(Item.id == item_id, Item.restricted.is_(False)).with_for_update()
            ).first()
            if item is None or item.camera_id is None:
                raise NotFound(f"no unattributed recording {item_id}")
            if item.officer_id is not None:
                raise Conflict(f"this recording is already attributed to {item.officer}")
            officer = _officer(uow.session, collar_number)
            item.officer_id, item.officer = officer.id, officer.display_name
            item.team_id = home_team(uow.session, officer.id)
            index_item(uow.session, item)
            self.audit.record(
                uow.session,
                AuditTag.EVIDENCE_ITEM_ATTRIBUTED,
                actor=actor,
                subject=Subject("item", item.id),
                details={
                    "officer": officer.display_name,
                    "collar_number": officer.collar_number,
                    "camera": item.camera_serial,
                    "recorded_start": item.recorded_start.isoformat(),
                },
            )
        return item


def _unattributed() -> ColumnElement[bool]:
    return and_(Item.officer_id.is_(None), Item.camera_id.is_not(None), Item.restricted.is_(False))


def _officer(session: Session, collar_number: str) -> User:
    user = session.scalars(select(User).where(User.collar_number == collar_number.strip())).first()
    if user is None or not user.active:
        raise InvalidInput(f"no serving officer with collar number {collar_number.strip()[:20]!r}")
    return user


def _entry(item: Item) -> Unattributed:
    return Unattributed(
        id=item.id,
        camera=item.camera_serial,
        filename=item.filename,
        recorded_start=item.recorded_start,
        recorded_end=item.recorded_end,
        uploaded_at=item.uploaded_at,
        state=str(item.state),
    )
