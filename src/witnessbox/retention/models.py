"""Tables for retention: the schedule, each item's due date and stage, holds, subject access
requests, approvals and deletion certificates (which are also the purged items' tombstones)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class ClockStart(StrEnum):
    """What starts a retention period running."""

    RECORDING = "recording"
    CATEGORISATION = "categorisation"
    CASE_CLOSURE = "case_closure"


class Stage(StrEnum):
    """Where an item is on the deletion path."""

    SCHEDULED = "scheduled"  # due some day (or never yet: no due date)
    WARNED = "warned"  # owner and supervisor told; in the review queue
    RECYCLED = "recycled"  # out of sight, bytes kept, recoverable by two people
    PURGED = "purged"  # bytes gone, certificate kept


class RetentionRule(Base):
    """One line of the schedule: how long a class of item is kept and from when.

    `retention_class` is `uncategorised`, `non_evidential`, `complaint`, `evidential` (the default
    for evidential items) or `evidential:<offence category>`.
    """

    __tablename__ = "retention_rules"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    retention_class: Mapped[str] = mapped_column(String(96), unique=True)
    period_days: Mapped[int] = mapped_column(Integer)
    clock_start: Mapped[ClockStart] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text, default="")  # where the period comes from
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(160))


class ItemRetention(Base):
    """An item's place on the deletion path; the due date is stored so every queue is a query."""

    __tablename__ = "item_retention"
    __table_args__ = (Index("ix_item_retention_stage_due", "stage", "due_at"),)

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True)
    retention_class: Mapped[str] = mapped_column(String(96))
    categorised_at: Mapped[datetime | None]  # the item's categorisation this due date was computed from
    computed_at: Mapped[datetime]  # a case closed or joined after this makes the due date stale
    clock_started_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None] = mapped_column(index=True)  # None: the clock has not started
    kept_until: Mapped[datetime | None]  # a "keep" moves the due date no earlier than this
    keep_reason: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[Stage] = mapped_column(String(16), default=Stage.SCHEDULED)
    cycle: Mapped[int] = mapped_column(Integer, default=1)  # approvals count within one pass only
    warned_at: Mapped[datetime | None]
    recycled_at: Mapped[datetime | None]
    recycle_until: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    bytes_removed: Mapped[bool] = mapped_column(default=False)
    # The store refused to remove the purged bytes: its retention lock lasts until then (decision 0028).
    bytes_locked_until: Mapped[datetime | None]


class ApprovalKind(StrEnum):
    """What a person signed off: a deletion, or a recovery from the recycle window."""

    DELETE = "delete"
    RECOVER = "recover"


class RetentionApproval(Base):
    """One person's sign-off; two different people's are needed (decision 0023)."""

    __tablename__ = "retention_approvals"
    __table_args__ = (UniqueConstraint("item_id", "cycle", "kind", "user_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ApprovalKind] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(160))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]


class Hold(Base):
    """A manual legal hold on an item or on every item of a case: who, why, until when."""

    __tablename__ = "retention_holds"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str | None] = mapped_column(ForeignKey("items.id"), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    placed_by_name: Mapped[str] = mapped_column(String(160))
    placed_at: Mapped[datetime]
    until: Mapped[datetime | None]  # None: until released
    released_at: Mapped[datetime | None]
    released_by_name: Mapped[str | None] = mapped_column(String(160))
    release_reason: Mapped[str | None] = mapped_column(Text)


class SubjectAccessRequest(Base):
    """A person's request for footage of themselves (Data Protection Act 2018): its items are held
    until it is closed."""

    __tablename__ = "subject_access_requests"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    requester: Mapped[str] = mapped_column(String(255))
    incident_number: Mapped[str | None] = mapped_column(String(64))
    from_at: Mapped[datetime | None]
    to_at: Mapped[datetime | None]
    place: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime]
    recorded_by_name: Mapped[str] = mapped_column(String(160))
    closed_at: Mapped[datetime | None]


class SubjectAccessItem(Base):
    """An item named in a subject access request, to be reviewed (and kept) for it."""

    __tablename__ = "subject_access_items"
    __table_args__ = (UniqueConstraint("request_id", "item_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("subject_access_requests.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    added_at: Mapped[datetime]


class DeletionCertificate(Base):
    """The signed record of one purge, kept for ever: also the item's tombstone, so search and the
    item page still say what was there and why it went."""

    __tablename__ = "deletion_certificates"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    retention_class: Mapped[str] = mapped_column(String(96))
    reason: Mapped[str] = mapped_column(Text)
    statement: Mapped[dict[str, Any]]  # everything signed: item, hashes, rule, approvers, times
    signature: Mapped[str] = mapped_column(String(128))  # hex Ed25519 over the canonical statement
    key_id: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[datetime]


class StorageLegalHold(Base):
    """A blob the object store has been told to keep under a legal hold (retention/legal_holds.py).

    The rows are what was last applied; the reconciliation compares them with the items held now.
    """

    __tablename__ = "storage_legal_holds"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)  # the held item it belongs to
    applied_at: Mapped[datetime]
