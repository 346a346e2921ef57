"""Tables for evidence items and their derivatives."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from witnessbox.db.base import Base


class ItemState(StrEnum):
    """Where an item is in its life after upload."""

    PROCESSING = "processing"
    READY = "ready"
    QUARANTINED = "quarantined"
    PURGED = "purged"  # deleted under the retention schedule; its certificate says why (retention/)


class DerivativeKind(StrEnum):
    """The kinds of file made from an original."""

    PROXY = "proxy"
    THUMBNAIL_STRIP = "thumbnail_strip"
    REDACTED = "redacted"  # one per render of a redaction plan; the latest is the current one (0026)


class Item(Base):
    """One uploaded recording: its immutable original, who/what/when, and its media facts."""

    __tablename__ = "items"
    # Keyset paging of searches sorted by recorded time: (recorded_start, id) is the page cursor.
    # An officer's and a team's recordings are read newest first straight off their own index,
    # which also serves the foreign keys (so officer_id and team_id need none of their own, as
    # recorded_start needs none beside the first).
    __table_args__ = (
        Index("ix_items_recorded_start_id", "recorded_start", "id"),
        Index("ix_items_officer_recorded", "officer_id", "recorded_start", "id"),
        Index("ix_items_team_recorded", "team_id", "recorded_start", "id"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hash_algorithm: Mapped[str] = mapped_column(String(16), default="sha256")
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id"), index=True)
    camera_serial: Mapped[str | None] = mapped_column(String(64))
    dock_id: Mapped[str | None] = mapped_column(ForeignKey("docks.id"))
    officer_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    officer: Mapped[str | None] = mapped_column(String(160))  # name as it was at upload
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"))
    restricted: Mapped[bool] = mapped_column(default=False)  # in a complaint case: PSD only
    recorded_start: Mapped[datetime]
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
    bookmarks: Mapped[list[Any] | None]  # the camera's own bookmarks, as uploaded
    bookmark_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # camera + people
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
        """The item's derivative of one kind, if made (of redacted copies, the latest)."""
        made = [d for d in self.derivatives if d.kind == kind]
        return max(made, key=lambda d: (d.created_at, d.id)) if made else None


class Derivative(Base):
    """A file made from an original (proxy, thumbnails, redacted copies), recording exactly how it was made.

    One of each kind per item, except redacted copies: each render of a plan adds one (decision 0026).
    """

    __tablename__ = "derivatives"
    __table_args__ = (
        Index(
            "uq_derivatives_item_kind_single",
            "item_id",
            "kind",
            unique=True,
            sqlite_where=text("kind <> 'redacted'"),
            postgresql_where=text("kind <> 'redacted'"),
        ),
    )

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


class AnnotationKind(StrEnum):
    """A person's mark on a recording's timeline."""

    BOOKMARK = "bookmark"
    NOTE = "note"


class Annotation(Base):
    """A bookmark or note a person placed at a timecode of an item (never changes the original)."""

    __tablename__ = "annotations"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    author: Mapped[str] = mapped_column(String(160))  # name as it was when written
    kind: Mapped[AnnotationKind] = mapped_column(String(16))
    at_s: Mapped[float] = mapped_column(Float)  # seconds from the start of the recording
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ItemPlace(Base):
    """One point of an item's GPS track, thinned, so place searches run in the database.

    `cell` numbers the grid square the point lies in (witnessbox.evidence.search.cell_of): a
    search near a place reads the few squares around it from one covering index, and only
    wide areas fall back to the latitude/longitude index.
    """

    __tablename__ = "item_places"
    __table_args__ = (
        Index("ix_item_places_lat_lon", "lat", "lon"),
        Index("ix_item_places_cell", "cell", "lat", "lon", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    cell: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class SavedSearch(Base):
    """A person's named search: the query string of the search page, kept to run again."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    query: Mapped[str] = mapped_column(Text)  # url-encoded search parameters
    created_at: Mapped[datetime]


class ItemText(Base):
    """The words an item is found by (title, notes, references, bookmark labels), one row per item.

    The migration adds the full-text index beside it: an FTS5 table kept in step by triggers on
    SQLite, a generated `tsvector` column with a GIN index on PostgreSQL.
    """

    __tablename__ = "item_text"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
