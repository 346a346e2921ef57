"""Request and response shapes of the redaction API (the contract the editor page is built on)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


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


def _number_not_text(value: object) -> object:
    """JSON numbers only: text and true/false are refused (1.0 is still the integer 1)."""
    if isinstance(value, str | bool):
        raise ValueError("must be a number, not text or true/false")
    return value


Count = Annotated[int, BeforeValidator(_number_not_text)]
Corner = Annotated[float, Field(ge=0, lt=1, strict=True)]
Side = Annotated[float, Field(gt=0, le=1, strict=True)]
Seconds = Annotated[float, Field(ge=0, strict=True)]


class KeyframeIn(BaseModel):
    """A region's box at one moment (fractions of the frame); the box must lie inside the frame."""

    model_config = ConfigDict(extra="forbid")
    t: Seconds
    box: tuple[Corner, Corner, Side, Side]
    score: float | None = Field(default=None, strict=True)


class RegionIn(BaseModel):
    """One region: automatic (a face track) or drawn by hand; one box per moment."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="unique within the plan")
    source: Literal["auto", "manual"] = "manual"
    enabled: bool = Field(default=True, strict=True)
    label: str = Field(default="", max_length=120)
    keyframes: list[KeyframeIn] = Field(min_length=1, max_length=200_000)


class SoundIn(BaseModel):
    """Seconds of sound to mute or bleep; `end` after `start`, both within the recording."""

    model_config = ConfigDict(extra="forbid")
    start: Seconds
    end: Seconds
    mode: Literal["mute", "bleep"]


class PlanBody(BaseModel):
    """A redaction plan (decision 0026; the rules a schema cannot state are answered with 422)."""

    model_config = ConfigDict(extra="forbid")
    effect: Literal["pixelate", "box"] = "pixelate"
    regions: list[RegionIn] = Field(max_length=500)
    audio: list[SoundIn] = Field(default_factory=list, max_length=500)


class PlanIn(BaseModel):
    """A plan to save over the version it was edited from."""

    base_version: Count = Field(ge=0, description="the version the edit started from (409 unless the latest)")
    plan: PlanBody = Field(description="effect, regions (with keyframes) and audio ranges")
    note: str | None = Field(default=None, max_length=500, description="why this version (optional)")


class SavedOut(BaseModel):
    """The version a save made."""

    version: int


class JobOut(BaseModel):
    """A started face detection."""

    job_id: str


class RenderIn(BaseModel):
    """Which plan version to render."""

    version: Count = Field(ge=1)


class RenderStarted(BaseModel):
    """A started render."""

    render_id: str


class FollowIn(BaseModel):
    """A box drawn at one moment, to follow forward and back."""

    t: Seconds = Field(description="seconds from the start")
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
