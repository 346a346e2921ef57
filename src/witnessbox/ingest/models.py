"""Tables for resumable uploads in progress."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class UploadState(StrEnum):
    """The life of a tus upload."""

    RECEIVING = "receiving"
    COMPLETE = "complete"
    REFUSED = "refused"
    TERMINATED = "terminated"
    EXPIRED = "expired"


class Upload(Base):
    """A tus upload: what the dock declared, how far it got, and what it became."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    dock_id: Mapped[str | None] = mapped_column(ForeignKey("docks.id"), index=True)
    uploader: Mapped[str] = mapped_column(String(128))
    uploader_id: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    declared_sha256: Mapped[str] = mapped_column(String(64), index=True)
    camera_serial: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    recording_started_at: Mapped[datetime]
    upload_metadata: Mapped[dict[str, Any]]
    state: Mapped[UploadState] = mapped_column(String(16), default=UploadState.RECEIVING)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    item_id: Mapped[str | None] = mapped_column(ForeignKey("items.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
