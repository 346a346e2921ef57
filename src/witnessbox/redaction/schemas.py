"""Request and response shapes of the redaction API (the contract the editor page is built on)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field


class DetectionOut(BaseModel):
    """The latest face detection run of an item."""

    state: str = Field(description="queued, running, done or failed")
    progress: float = Field(ge=0, le=1)
    error: str | None
    model_sha256: str | None = Field(description="SHA-256 of the face model file that ran")


class RenderOut(BaseModel):
    """One render of a plan version."""

    id: str
    state: str = Field(description="queued, running, done or failed")
    progress: float = Field(ge=0, le=1)
    plan_version: int
    sha256: str | None = Field(description="SHA-256 of the redacted copy once made")
    error: str | None
    created_at: datetime


class MediaOut(BaseModel):
    """The recording's picture and length, for drawing boxes and the timeline."""

    width: int | None
    height: int | None
    fps: float | None
    duration_s: float | None


class RedactionOut(BaseModel):
    """An item's redaction: the latest plan version, the latest detection, its renders (newest first)."""

    item_id: str
    plan: dict[str, Any] | None
    version: int = Field(description="the latest plan version; 0 when none was saved")
    detection: DetectionOut | None
    renders: list[RenderOut]
    media: MediaOut


class PlanIn(BaseModel):
    """A plan to save over the version it was edited from."""

    base_version: int = Field(ge=0, description="the version the edit started from (409 unless the latest)")
    plan: dict[str, Any] = Field(description="effect, regions (with keyframes) and audio ranges")
    note: str | None = Field(default=None, max_length=500, description="why this version (optional)")


class SavedOut(BaseModel):
    """The version a save made."""

    version: int


class JobOut(BaseModel):
    """A started face detection."""

    job_id: str


class RenderIn(BaseModel):
    """Which plan version to render."""

    version: int = Field(ge=1)


class RenderStarted(BaseModel):
    """A started render."""

    render_id: str


Corner = Annotated[float, Field(ge=0, lt=1)]
Side = Annotated[float, Field(gt=0, le=1)]


class FollowIn(BaseModel):
    """A box drawn at one moment, to follow forward and back."""

    t: float = Field(ge=0, description="seconds from the start")
    box: tuple[Corner, Corner, Side, Side] = Field(
        description="[x, y, width, height] as fractions of the frame (cut at its edge)"
    )


class KeyframeOut(BaseModel):
    """A box at one moment."""

    t: float
    box: list[float]


class FollowOut(BaseModel):
    """The boxes the tracker found."""

    keyframes: list[KeyframeOut]
