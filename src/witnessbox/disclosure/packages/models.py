"""The disclosure package table: who asked for which items, and what the built ZIP turned out to be."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base


class PackageState(StrEnum):
    """The life of a package: asked for, being written, ready to download, or failed."""

    QUEUED = "queued"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class DisclosurePackage(Base):
    """One export of a case or a selection; its ZIP lies under the data directory once ready."""

    __tablename__ = "disclosure_packages"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))  # the case reference, or what the selection is
    item_ids: Mapped[list[Any]]  # frozen at request time: a later change to the case does not alter it
    # item id -> the redacted copy (derivative id) exported in place of its original (decision 0026)
    redacted_copies: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    server_url: Mapped[str] = mapped_column(String(255))  # where the recipient finds the published keys
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    requested_by_name: Mapped[str] = mapped_column(String(160))  # name as it was when asked
    state: Mapped[PackageState] = mapped_column(String(16), default=PackageState.QUEUED)
    job_id: Mapped[str | None] = mapped_column(String(26))
    file_count: Mapped[int | None]
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the whole ZIP, computed as it was written
    filename: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
