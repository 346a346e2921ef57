"""Tables for cases and their members and items."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class CaseKind(StrEnum):
    """An investigation, or a complaint against police (restricted to professional standards)."""

    INVESTIGATION = "investigation"
    COMPLAINT = "complaint"


class Case(Base):
    """A set of items for one investigation or complaint."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    kind: Mapped[CaseKind] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]  # closing starts the retention clock of its items (retention/)

    @property
    def restricted(self) -> bool:
        """Complaint cases, and their items, are for professional standards only."""
        return self.kind == CaseKind.COMPLAINT


class CaseMember(Base):
    """A person working a case."""

    __tablename__ = "case_members"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    added_at: Mapped[datetime]


class CaseItem(Base):
    """An item in a case."""

    __tablename__ = "case_items"
    __table_args__ = (UniqueConstraint("case_id", "item_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    added_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime]
