"""Tables for redaction: versioned plans, face detection runs and renders of a plan.

A plan is never edited in place: each save adds a version (1, 2, ...) of the whole plan, so the
plan a redacted copy was made from can always be read back. Renders keep their history here;
each finished render points to the "redacted" derivative it made (decision 0026).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class RunState(StrEnum):
    """The life of a detection run or a render."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PlanVersion(Base):
    """One saved version of an item's redaction plan (the JSON the editor edits)."""

    __tablename__ = "redaction_plans"
    __table_args__ = (UniqueConstraint("item_id", "version", name="uq_redaction_plans_item_version"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    version: Mapped[int]
    plan: Mapped[dict[str, Any]]
    author_id: Mapped[str | None] = mapped_column(String(26))  # None: saved by the system
    author: Mapped[str] = mapped_column(String(160))  # name as it was when saved
    note: Mapped[str | None] = mapped_column(Text)
    detection_id: Mapped[str | None] = mapped_column(String(26))  # the run whose faces it holds, if any
    created_at: Mapped[datetime]


class DetectionRun(Base):
    """Finding faces in one item's original (a job); when done it saved a plan version."""

    __tablename__ = "redaction_detections"
    __table_args__ = (Index("ix_redaction_detections_item_created", "item_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    state: Mapped[RunState] = mapped_column(String(16), default=RunState.QUEUED)
    job_id: Mapped[str | None] = mapped_column(String(26))
    requested_by: Mapped[str | None] = mapped_column(String(26))
    requested_by_name: Mapped[str] = mapped_column(String(160))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None]  # tracks found, parameters and versions (not the tracks)
    plan_version: Mapped[int | None]  # the version it saved
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Render(Base):
    """Making the redacted copy of one plan version (a job) and the derivative it made."""

    __tablename__ = "redaction_renders"
    __table_args__ = (Index("ix_redaction_renders_item_created", "item_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    plan_version: Mapped[int]
    state: Mapped[RunState] = mapped_column(String(16), default=RunState.QUEUED)
    job_id: Mapped[str | None] = mapped_column(String(26))
    requested_by: Mapped[str | None] = mapped_column(String(26))
    requested_by_name: Mapped[str] = mapped_column(String(160))
    # the derivative it made; kept as text, not a foreign key, so the record outlives a purge (retention/)
    derivative_id: Mapped[str | None] = mapped_column(String(26))
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
