"""The JSON shapes of shares."""

from datetime import datetime

from pydantic import BaseModel, Field


class ShareIn(BaseModel):
    """Share an item with one person (collar number) or one team."""

    # Exactly one recipient: JSON Schema states it (oneOf), the service checks it.
    model_config = {"json_schema_extra": {"oneOf": [
        {"required": ["collar_number"],
         "properties": {"collar_number": {"type": "string"}, "team": {"type": "null"}}},
        {"required": ["team"],
         "properties": {"team": {"type": "string"}, "collar_number": {"type": "null"}}},
    ]}}

    collar_number: str | None = None
    team: str | None = None
    expires_at: datetime | None = Field(
        default=None, description="when the share ends (UTC); in the future (409 otherwise)")
    note: str = ""


class ShareOut(BaseModel):
    """A live share."""

    id: str
    item_id: str
    user_id: str | None
    team_id: str | None
    created_at: datetime
    expires_at: datetime | None
