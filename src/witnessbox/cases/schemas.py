"""The shapes of cases: API bodies, and what the case's pages and API show of members and items."""

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from witnessbox.cases.models import CaseKind
from witnessbox.core.text import NON_BLANK


class CaseIn(BaseModel):
    """Open a case."""

    reference: str = Field(min_length=1, max_length=64, pattern=NON_BLANK)
    title: str = Field(min_length=1, max_length=255, pattern=NON_BLANK)
    kind: CaseKind = CaseKind.INVESTIGATION


class CaseOut(BaseModel):
    """A case."""

    id: str
    reference: str
    title: str
    kind: CaseKind
    created_at: datetime
    closed_at: datetime | None = None  # closing starts the retention clock of its items


class MemberIn(BaseModel):
    """Invite a colleague by collar number."""

    collar_number: str


class ItemsIn(BaseModel):
    """Items to add."""

    item_ids: list[str]
    reason: str | None = Field(default=None, max_length=1000, description="why, for items that need one")


class CaseMemberOut(BaseModel):
    """A person working a case, and since when."""

    user_id: str
    collar_number: str
    name: str
    display_name: str
    added_at: datetime


class CaseItemOut(BaseModel):
    """An item of a case as the case shows it: when, who, which camera, how it is categorised."""

    id: str
    filename: str
    title: str | None
    recorded_start: datetime
    recorded_end: datetime | None
    duration_s: float | None
    officer: str | None
    camera_serial: str | None
    category: str | None
    evidential: bool | None
    state: str
    width: int | None
    height: int | None
    has_thumbnail: bool
    added_at: datetime
    has_redacted_copy: bool = False  # a disclosure package may carry it instead of the original

    @property
    def frame_aspect(self) -> float | None:
        """Width over height of a frame (and so of each tile of the thumbnail strip), when known."""
        return round(self.width / self.height, 4) if self.width and self.height else None

    @property
    def ends(self) -> datetime:
        """When the recording stops (its start, while its length is not yet known)."""
        if self.recorded_end is not None:
            return self.recorded_end
        return self.recorded_start + timedelta(seconds=self.duration_s or 0)


class CaseOverview(BaseModel):
    """Everything the case page shows, read in one go."""

    case: CaseOut
    members: list[CaseMemberOut]
    items: list[CaseItemOut]
