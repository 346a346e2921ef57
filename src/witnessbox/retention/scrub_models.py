"""Tables of the integrity scrub: its passes (with the cursor a background pass resumes from) and
the problems it found (decision 0024)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from witnessbox.db.base import Base
from witnessbox.evidence.models import Derivative


class FindingKind(StrEnum):
    """What a scrub can find wrong."""

    MISSING = "missing"  # a record says an object is stored; the store has no such object
    MISMATCH = "mismatch"  # the object's bytes no longer hash to its recorded SHA-256 (bit rot, tampering)
    UNREADABLE = "unreadable"  # the store failed to give the bytes back (an I/O error)
    ORPHAN = "orphan"  # the store holds an object that no record accounts for (put there by hand)


class PassMode(StrEnum):
    """Who ran a pass: the periodic job a slice at a time, or `witnessbox storage scrub` in one go."""

    BACKGROUND = "background"
    COMMAND = "command"


class Phase(StrEnum):
    """A pass first re-reads what the records list, then lists the store for what they do not."""

    RECORDS = "records"
    STORE = "store"


class ScrubPass(Base):
    """One walk over the records and the store; the cursor says where it has got to."""

    __tablename__ = "scrub_passes"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    mode: Mapped[PassMode] = mapped_column(String(16))
    phase: Mapped[Phase] = mapped_column(String(16))
    cursor: Mapped[str] = mapped_column(String(1024), default="")  # last hash (records) or key (store) done
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(index=True)
    complete: Mapped[bool] = mapped_column(default=False)  # walked to the end (not stopped by a limit)
    objects_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    objects_listed: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    read_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # time spent re-reading, pauses included
    problems: Mapped[int] = mapped_column(BigInteger, default=0)  # findings made or seen again in this pass


class ScrubFinding(Base):
    """A problem the scrub found with one stored object: open until an administrator acknowledges it
    with a reason, or until a later pass finds the object whole again (restored from a copy).

    The item is named by id and file name, not by a foreign key: the finding must outlive the item
    (a purge later on) and say what was there.
    """

    __tablename__ = "scrub_findings"
    __table_args__ = (Index("ix_scrub_findings_key_kind", "key", "kind"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    kind: Mapped[FindingKind] = mapped_column(String(16), index=True)
    key: Mapped[str] = mapped_column(String(1024))  # the recorded hash, or the store's key for an orphan
    item_id: Mapped[str | None] = mapped_column(String(26), index=True)
    item_name: Mapped[str | None] = mapped_column(String(255))  # the original's file name, as it was
    derivative_id: Mapped[str | None] = mapped_column(String(26))
    what: Mapped[str] = mapped_column(String(32))  # "original", a derivative's kind, or "unrecorded object"
    expected_sha256: Mapped[str | None] = mapped_column(String(64))
    expected_size: Mapped[int | None] = mapped_column(BigInteger)
    found_sha256: Mapped[str | None] = mapped_column(String(64))
    found_size: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text)
    found_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]  # a later pass found the object whole (or recorded)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(26))
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(160))
    acknowledged_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def open(self) -> bool:
        """Nobody has yet acknowledged it and the object has not been found whole again."""
        return self.acknowledged_at is None and self.cleared_at is None


# The scrub walks derivatives in hash order and looks orphans up by hash: without this index each
# batch would scan and sort the whole table. Declared here, beside its only reader's tables.
Index("ix_derivatives_sha256", Derivative.sha256)
