"""Tables for cameras, docks and who had which camera when."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class Camera(Base):
    """A body-worn camera known to the force, by its serial number."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(64), default="")
    firmware: Mapped[str | None] = mapped_column(String(64))
    pool: Mapped[str | None] = mapped_column(String(128))  # the pool dock's station, for shared cameras
    registered_at: Mapped[datetime]
    last_docked_at: Mapped[datetime | None]


class CameraAssignment(Base):
    """A camera in one officer's hands from `starts_at` until `ends_at` (open: still issued)."""

    __tablename__ = "camera_assignments"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "personal" issue or "pool" sign-out
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime | None]
    assigned_by: Mapped[str] = mapped_column(String(128))


class Dock(Base):
    """A docking station that uploads from cameras; its credential is an ApiToken of kind "dock"."""

    __tablename__ = "docks"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]


class DockCamera(Base):
    """A camera a dock is registered for: only its uploads of that camera are the camera's recordings."""

    __tablename__ = "dock_cameras"
    __table_args__ = (UniqueConstraint("dock_id", "camera_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    dock_id: Mapped[str] = mapped_column(ForeignKey("docks.id"), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(128))
