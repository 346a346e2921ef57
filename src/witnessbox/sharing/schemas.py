"""The JSON shapes of shares."""

from datetime import datetime

from pydantic import BaseModel, Field


class ShareIn(BaseModel):
    """Share an item with one person (collar number) or one team."""

    collar_number: str | None = None
    team: str | None = None
    expires_at: datetime | None = Field(default=None, description="when the share ends (UTC)")
    note: str = ""


class ShareOut(BaseModel):
    """A live share."""

    id: str
    item_id: str
    user_id: str | None
    team_id: str | None
    created_at: datetime
    expires_at: datetime | None
