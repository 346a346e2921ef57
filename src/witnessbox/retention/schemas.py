"""Shapes of what retention pages and the API show."""

from datetime import datetime

from pydantic import BaseModel


class QueueEntry(BaseModel):
    """An item on the deletion path, as the review queue lists it (metadata only, no footage)."""

    item_id: str
    filename: str
    officer: str | None
    recorded_start: datetime
    category: str | None
    evidential: bool | None
    retention_class: str
    due_at: datetime | None
    stage: str
    recycle_until: datetime | None
    approvals: list[str]  # names of those who approved this pass (deletion, or recovery when recycled)
    held: bool


class HoldOut(BaseModel):
    """One reason an item is kept."""

    kind: str
    description: str
    since: datetime | None
    until: datetime | None
    hold_id: str | None


class ItemRetentionOut(BaseModel):
    """An item's retention, for its page: class, due date, stage, holds, and its certificate once purged."""

    item_id: str
    retention_class: str | None
    due_at: datetime | None
    stage: str
    holds: list[HoldOut]
    certificate_id: str | None
    purged_at: datetime | None
    purge_reason: str | None


class SweepOutcome(BaseModel):
    """What one sweep did."""

    computed: int = 0
    warned: int = 0
    recycled: int = 0
    rescued: int = 0
    purged: int = 0
