"""The JSON shapes of evidence items in the API."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from witnessbox.core.text import NON_BLANK
from witnessbox.evidence.categorise import MAX_BULK
from witnessbox.evidence.models import Annotation, AnnotationKind, Derivative, Item


class DerivativeOut(BaseModel):
    """A derivative and how it was made."""

    kind: str
    sha256: str
    hash_algorithm: str
    size: int
    media_type: str
    source_sha256: str
    operation: str
    parameters: dict[str, Any]
    software_version: str
    created_at: datetime
    url: str


class ItemOut(BaseModel):
    """An evidence item as the API shows it."""

    id: str
    sha256: str
    hash_algorithm: str
    size: int
    filename: str
    state: str = Field(description="processing, ready or quarantined")
    reason: str | None = Field(description="why an item is quarantined")
    camera: str | None
    officer: str | None
    source: str | None = Field(description="handed-in footage: cctv, phone or other; null for a camera's")
    description: str | None = Field(description="handed-in footage: the uploader's words about it")
    recorded_start: datetime = Field(description="when recording started, UTC (ISO 8601)")
    recorded_end: datetime | None
    uploaded_at: datetime
    verified: bool = Field(description="the stored original was re-read and matched its SHA-256")
    evidential: bool | None = Field(description="true/false once categorised; null while uncategorised")
    category: str | None
    incident_number: str | None
    crime_reference: str | None
    title: str | None
    notes: str | None
    media: dict[str, Any] | None
    gps_track: list[Any] | None
    bookmarks: list[Any] | None
    original: str = Field(description="URL of the original; honours Range")
    proxy: str | None = Field(description="URL of the browser proxy; honours Range")
    thumbnails: str | None
    redacted: str | None = Field(default=None, description="URL of the latest redacted copy; honours Range")
    derivatives: list[DerivativeOut]

    @classmethod
    def of(cls, item: Item, base: str) -> "ItemOut":
        """Build from a row; `base` is the items API path."""
        url = f"{base}/{item.id}"
        kinds = {d.kind for d in item.derivatives}
        return cls(
            id=item.id,
            sha256=item.sha256,
            hash_algorithm=item.hash_algorithm,
            size=item.size,
            filename=item.filename,
            state=item.state,
            reason=item.state_reason,
            camera=item.camera_serial,
            officer=item.officer,
            source=handed_in_fact(item, "source"),
            description=handed_in_fact(item, "description"),
            recorded_start=item.recorded_start,
            recorded_end=item.recorded_end,
            uploaded_at=item.uploaded_at,
            verified=item.verified_at is not None,
            evidential=item.evidential,
            category=item.category,
            incident_number=item.incident_number,
            crime_reference=item.crime_reference,
            title=item.title,
            notes=item.notes,
            media=item.media_facts,
            gps_track=item.gps_track,
            bookmarks=item.bookmarks,
            original=f"{url}/original",
            proxy=f"{url}/proxy" if "proxy" in kinds else None,
            thumbnails=f"{url}/thumbnails" if "thumbnail_strip" in kinds else None,
            redacted=f"{url}/redacted" if "redacted" in kinds else None,
            derivatives=[_derivative(d, url) for d in item.derivatives],
        )


def handed_in_fact(item: Item, name: str) -> str | None:
    """One fact the uploader declared about handed-in footage (source, description); None otherwise."""
    handed = (item.camera_metadata or {}).get("handed_in")
    value = handed.get(name) if isinstance(handed, dict) else None
    return str(value) if value else None


def _derivative(made: Derivative, url: str) -> DerivativeOut:
    path = {"proxy": "proxy", "redacted": "redacted"}.get(made.kind, "thumbnails")
    return DerivativeOut(
        kind=made.kind,
        sha256=made.sha256,
        hash_algorithm=made.hash_algorithm,
        size=made.size,
        media_type=made.media_type,
        source_sha256=made.source_sha256,
        operation=made.operation,
        parameters=made.parameters,
        software_version=made.software_version,
        created_at=made.created_at,
        url=f"{url}/{path}",
    )


CHANGEABLE = ("evidential", "category", "incident_number", "crime_reference", "title", "notes")


class CategorisationIn(BaseModel):
    """Fields to set on one item, or on many with `item_ids`; omitted fields stay as they are, null clears."""

    # At least one field to change (item_ids only says where): JSON Schema states it, the service checks it.
    model_config = {"extra": "forbid", "json_schema_extra": {
        "anyOf": [{"required": [name]} for name in CHANGEABLE]}}

    item_ids: list[str] | None = Field(default=None, description="ignored by PATCH of one item")
    evidential: bool | None = Field(default=None, strict=True)
    category: str | None = None
    incident_number: str | None = None
    crime_reference: str | None = None
    title: str | None = Field(default=None, max_length=255)
    notes: str | None = Field(default=None, max_length=10_000)


class BulkCategorisationIn(CategorisationIn):
    """The same fields, set on every listed item at once (all or nothing)."""

    item_ids: list[str] = Field(min_length=1, max_length=MAX_BULK, description="the items to change")


class AnnotationIn(BaseModel):
    """A bookmark or note to place at a time of the recording."""

    model_config = {
        "extra": "forbid",
        # A bookmark's label is short; JSON Schema states it, the service checks it.
        "json_schema_extra": {"if": {"properties": {"kind": {"const": "bookmark"}}},
                              "then": {"properties": {"text": {"maxLength": 200}}}},
    }

    kind: AnnotationKind
    at_s: float = Field(
        ge=0, allow_inf_nan=False, strict=True,
        description="seconds from the start of the recording, at most its length (409 beyond it)")
    text: str = Field(min_length=1, max_length=2000, pattern=NON_BLANK,
                      description="a bookmark's label (up to 200 characters) or a note (up to 2000)")


class AnnotationOut(BaseModel):
    """A person's bookmark or note, and whether the caller may remove it (only its author may)."""

    id: str
    item_id: str
    kind: str
    at_s: float
    text: str
    author: str
    created_at: datetime
    mine: bool

    @classmethod
    def of(cls, annotation: Annotation, user_id: str) -> "AnnotationOut":
        """Build from a row, for the person `user_id`."""
        return cls(
            id=annotation.id,
            item_id=annotation.item_id,
            kind=annotation.kind,
            at_s=annotation.at_s,
            text=annotation.text,
            author=annotation.author,
            created_at=annotation.created_at,
            mine=annotation.user_id == user_id,
        )


class SearchOut(BaseModel):
    """One page of search results and the cursor of the next page."""

    items: list[ItemOut]
    next: str | None = Field(description="pass as `after` for the next page; null on the last page")


class SavedSearchIn(BaseModel):
    """A search to keep under a name (the same name replaces it)."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=120, pattern=NON_BLANK, description="1-120 characters")
    query: str = Field(description="the search's parameters, URL-encoded as GET /api/v1/search takes them")


class SavedSearchOut(BaseModel):
    """A saved search; run it with GET /api/v1/search?{query}."""

    id: str
    name: str
    query: str
    created_at: datetime
