"""Tables for cameras and docks."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class Camera(Base):
    """A body-worn camera known to the force, by its serial number."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(64), default="")
    firmware: Mapped[str | None] = mapped_column(String(64))
    officer: Mapped[str | None] = mapped_column(String(64))
    registered_at: Mapped[datetime]
    last_docked_at: Mapped[datetime | None]


class Dock(Base):
    """A docking station that uploads from cameras, with its own bearer credential."""

    __tablename__ = "docks"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
