"""The disclosure officer's entries on a case's schedules of unused material."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class ScheduleKind(StrEnum):
    """Which schedule an unused recording goes on (CPIA Code of Practice; CPS forms MG6C and MG6D)."""

    NON_SENSITIVE = "mg6c"
    SENSITIVE = "mg6d"


class Decision(StrEnum):
    """The disclosure officer's view of an unused recording against the disclosure test."""

    DISCLOSE = "disclose"  # might undermine the prosecution case or assist the accused
    DO_NOT_DISCLOSE = "do_not_disclose"  # relevant, but does not meet the test (or sensitive: withheld)
    CLEARLY_NOT_DISCLOSABLE = "clearly_not_disclosable"  # plainly cannot meet the test


class ScheduleEntry(Base):
    """What has been decided about one recording of one case; a recording without a row is undecided.

    The schedule itself is always the case's current recordings joined to these rows, so a
    recording added to the case later appears on it at once, undecided.
    """

    __tablename__ = "schedule_entries"
    __table_args__ = (UniqueConstraint("case_id", "item_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    schedule: Mapped[ScheduleKind] = mapped_column(String(8), default=ScheduleKind.NON_SENSITIVE)
    used: Mapped[bool] = mapped_column(default=False)  # relied on by the prosecution as evidence
    description: Mapped[str | None] = mapped_column(Text)  # None: described from the recording itself
    decision: Mapped[Decision | None] = mapped_column(String(32))
    reasons: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    decided_by_name: Mapped[str] = mapped_column(String(160))  # name as it was when decided
    decided_at: Mapped[datetime]
