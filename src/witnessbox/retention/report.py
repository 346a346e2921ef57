"""The storage report: what is kept, by offence category and retention class, and a forecast of
what falls due (and so will be deleted unless held or kept) month by month."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock, as_utc
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item, ItemState
from witnessbox.retention.holds import HoldRules, held_during
from witnessbox.retention.models import ItemRetention, Stage


class StorageLine(BaseModel):
    """Recordings and bytes of one group."""

    key: str
    items: int
    bytes: int


class StorageReport(BaseModel):
    """Kept footage by category and class; due footage by month (held footage counted apart)."""

    by_category: list[StorageLine]
    by_class: list[StorageLine]
    due_by_month: list[StorageLine]  # due, not held now: what the path will delete unless kept
    held: StorageLine  # due or not, held now


class StorageReports:
    """Reads the storage report (records managers, administrators, reviewers)."""

    def __init__(self, db: Database, clock: Clock, holds: HoldRules) -> None:
        self.db, self.clock, self.holds = db, clock, holds

    def report(self, *, actor: Actor) -> StorageReport:
        """The report as of now, read in three grouped queries and one pass over due dates."""
        if decide(actor, Permission.RETENTION_REVIEW) != Access.ALLOW:
            require(actor, Permission.RETENTION_SCHEDULE)
        now = self.clock.now()
        live = Item.state == ItemState.READY
        with self.db.read() as session:
            by_category = session.execute(
                select(Item.category, func.count(), func.sum(Item.size)).where(live).group_by(Item.category)
            ).all()
            by_class = session.execute(
                select(ItemRetention.retention_class, func.count(), func.sum(Item.size))
                .join(Item, Item.id == ItemRetention.item_id)
                .where(live)
                .group_by(ItemRetention.retention_class)
            ).all()
            held = held_during(Item.id, now, now, self.holds)
            held_line = session.execute(select(func.count(), func.sum(Item.size)).where(live, held)).one()
            due = session.execute(
                select(ItemRetention.due_at, Item.size)
                .join(Item, Item.id == ItemRetention.item_id)
                .where(live, ItemRetention.due_at.is_not(None), ItemRetention.stage != Stage.PURGED, ~held)
            ).all()
        return StorageReport(
            by_category=_lines(by_category),
            by_class=_lines(by_class),
            due_by_month=_months(due),
            held=StorageLine(key="held", items=held_line[0] or 0, bytes=held_line[1] or 0),
        )


def _lines(rows: Sequence[Any]) -> list[StorageLine]:
    lines = [
        StorageLine(
            key="(none)" if row[0] is None else str(row[0]), items=int(row[1]), bytes=int(row[2] or 0)
        )
        for row in rows
    ]
    return sorted(lines, key=lambda line: line.key)


def _months(rows: Sequence[Any]) -> list[StorageLine]:
    """Due dates grouped by month in Python: month arithmetic differs between SQLite and PostgreSQL."""
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        month = months[as_utc(row[0]).strftime("%Y-%m")]
        month[0] += 1
        month[1] += int(row[1])
    return [StorageLine(key=k, items=v[0], bytes=v[1]) for k, v in sorted(months.items())]
