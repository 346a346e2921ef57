"""Tables for evidence items and their derivatives."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from witnessbox.db.base import Base


class ItemState(StrEnum):
    """Where an item is in its life after upload."""

    PROCESSING = "processing"
    READY = "ready"
    QUARANTINED = "quarantined"


class DerivativeKind(StrEnum):
    """The kinds of file made from an original."""

    PROXY = "proxy"
    THUMBNAIL_STRIP = "thumbnail_strip"


class Item(Base):
    """One uploaded recording: its immutable original, who/what/when, and its media facts."""

    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hash_algorithm: Mapped[str] = mapped_column(String(16), default="sha256")
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id"), index=True)
    camera_serial: Mapped[str | None] = mapped_column(String(64))
    dock_id: Mapped[str | None] = mapped_column(ForeignKey("docks.id"))
    officer_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    officer: Mapped[str | None] = mapped_column(String(160))  # name as it was at upload
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"), index=True)
    restricted: Mapped[bool] = mapped_column(default=False)  # in a complaint case: PSD only
    recorded_start: Mapped[datetime] = mapped_column(index=True)
    recorded_end: Mapped[datetime | None]
    upload_started_at: Mapped[datetime]
    uploaded_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    state: Mapped[ItemState] = mapped_column(String(16), default=ItemState.PROCESSING, index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    container: Mapped[str | None] = mapped_column(String(32))
    video_codec: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None]
    height: Mapped[int | None]
    fps: Mapped[float | None]
    duration_s: Mapped[float | None]
    has_audio: Mapped[bool | None]
    media_facts: Mapped[dict[str, Any] | None]
    gps_track: Mapped[list[Any] | None]
    bookmarks: Mapped[list[Any] | None]
    camera_metadata: Mapped[dict[str, Any] | None]
    evidential: Mapped[bool | None] = mapped_column(index=True)  # None: not yet categorised
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    incident_number: Mapped[str | None] = mapped_column(String(64), index=True)
    crime_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text)
    categorised_at: Mapped[datetime | None]
    categorised_by: Mapped[str | None] = mapped_column(String(160))

    derivatives: Mapped[list["Derivative"]] = relationship(
        back_populates="item", order_by="Derivative.kind", lazy="selectin"
    )

    def derivative(self, kind: DerivativeKind) -> "Derivative | None":
        """The item's derivative of one kind, if made."""
        return next((d for d in self.derivatives if d.kind == kind), None)


class Derivative(Base):
    """A file made from an original (proxy, thumbnails), recording exactly how it was made."""

    __tablename__ = "derivatives"
    __table_args__ = (UniqueConstraint("item_id", "kind"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    kind: Mapped[DerivativeKind] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    hash_algorithm: Mapped[str] = mapped_column(String(16), default="sha256")
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    source_sha256: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]]
    software_version: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]

    item: Mapped[Item] = relationship(back_populates="derivatives")
