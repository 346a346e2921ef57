"""The JSON shapes of external shares and their access reports."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from witnessbox.disclosure.models import RecipientKind


class ExternalShareIn(BaseModel):
    """Share a case's items (as they are now) or some items with one named recipient outside the force."""

    # Exactly one selection: JSON Schema states it (oneOf), the service checks it.
    model_config = {"json_schema_extra": {"oneOf": [
        {"required": ["case_id"],
         "properties": {"case_id": {"type": "string"}, "item_ids": {"type": "null"}}},
        {"required": ["item_ids"],
         "properties": {"item_ids": {"type": "array", "minItems": 1}, "case_id": {"type": "null"}}},
    ]}}

    recipient_name: str = Field(min_length=1, max_length=255, pattern=r"\S", description="the person's name")
    organisation: str = Field(
        min_length=1, max_length=255, pattern=r"\S", description="e.g. CPS Wessex, Smith & Co")
    kind: RecipientKind
    email: str | None = Field(
        default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$",
        description="where the link and the access code go (two messages) when the server sends mail")
    case_id: str | None = Field(default=None, description="share the case's items as they are now")
    item_ids: list[str] | None = Field(default=None, min_length=1, max_length=500)
    allow_original_download: bool = False
    expires_at: datetime = Field(
        description="when the share ends (UTC); in the future, at most a year ahead (409 otherwise)")
    note: str = Field(default="", max_length=1000)
    reason: str | None = Field(
        default=None, description="why you open items outside your close access (investigators, PSD)")


class ExternalShareOut(BaseModel):
    """An external share as its sharer sees it (never its link or code)."""

    id: str
    recipient_name: str
    organisation: str
    kind: RecipientKind
    email: str | None
    case_id: str | None
    item_ids: list[str]
    allow_original_download: bool
    created_by_name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    delivery: str = Field(description="'email': sent in two messages; 'shown': shown once to the sharer")
    live: bool


class ExternalShareCreated(ExternalShareOut):
    """A new share; `link` and `code` are given once, here, when they were not sent by e-mail."""

    link: str | None
    code: str | None
    mail_error: str | None = Field(default=None, description="why e-mail failed, when it did")


class AccessEntry(BaseModel):
    """One line of a share's access report, read from the audit trail."""

    at: datetime
    action: str = Field(description="the audit tag, e.g. evidence:item:played")
    actor: str
    actor_kind: str
    source_address: str | None
    item_id: str | None
    details: dict[str, Any]
