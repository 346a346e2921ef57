"""Shapes of what retention pages and the API show."""

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from witnessbox.core.text import NON_BLANK
from witnessbox.retention.models import ClockStart


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


class ReasonIn(BaseModel):
    """A decision's reason (optional to approve)."""

    reason: str = Field(default="", max_length=2000)


class RequiredReasonIn(BaseModel):
    """A decision's reason, required: to keep, to recover, to release a hold."""

    reason: str = Field(min_length=1, max_length=2000, pattern=NON_BLANK)


class RuleIn(BaseModel):
    """One line of the schedule, to preview or save."""

    retention_class: str = Field(min_length=1, max_length=96)
    period_days: int = Field(ge=1, le=36600)
    clock_start: ClockStart
    source: str = Field(default="", max_length=2000)


class RuleOut(RuleIn):
    """A line of the schedule in force."""


class EffectOut(BaseModel):
    """How many items a schedule change moves, and which way."""

    retention_class: str
    items: int
    earlier: int
    later: int
    newly_due: int


class HoldIn(BaseModel):
    """A legal hold on one item or one case."""

    item_id: str | None = None
    case_id: str | None = None
    reason: str = Field(min_length=1, max_length=2000, pattern=NON_BLANK)
    until: AwareDatetime | None = None


class HoldRecord(BaseModel):
    """A manual hold as recorded."""

    id: str
    item_id: str | None
    case_id: str | None
    reason: str
    placed_by_name: str
    placed_at: datetime
    until: datetime | None
    released_at: datetime | None


class SubjectAccessIn(BaseModel):
    """A subject access request: an incident number, a time window, or both."""

    reference: str = Field(min_length=1, max_length=64, pattern=NON_BLANK)
    requester: str = Field(min_length=1, max_length=255, pattern=NON_BLANK)
    incident_number: str | None = Field(default=None, max_length=64)
    from_at: AwareDatetime | None = None
    to_at: AwareDatetime | None = None
    place: str | None = Field(default=None, max_length=255)


class SubjectAccessOut(BaseModel):
    """A subject access request and the items it holds."""

    id: str
    reference: str
    requester: str
    received_at: datetime
    closed_at: datetime | None
    item_ids: list[str]


class CertificateOut(BaseModel):
    """A deletion certificate: the signed statement, its signature and the key that made it."""

    id: str
    item_id: str
    statement: dict[str, Any]
    signature: str
    key_id: str
    signature_valid: bool
