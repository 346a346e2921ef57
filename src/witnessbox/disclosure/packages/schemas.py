"""Request and response shapes of disclosure packages in the API."""

from datetime import datetime

from pydantic import BaseModel, Field, model_validator


class PackageIn(BaseModel):
    """Export a case (all its items) or a selection of items; a reason where the force asks for one."""

    # Exactly one source: JSON Schema states it (oneOf), the validator checks it.
    model_config = {"json_schema_extra": {"oneOf": [
        {"required": ["case_id"],
         "properties": {"case_id": {"type": "string", "minLength": 1}, "item_ids": {"maxItems": 0}}},
        {"required": ["item_ids"],
         "properties": {"item_ids": {"minItems": 1}, "case_id": {"type": "null"}}},
    ]}}

    case_id: str | None = Field(default=None, max_length=26)
    item_ids: list[str] = Field(default_factory=list, max_length=1000)
    reason: str | None = Field(default=None, max_length=2000)
    redacted_item_ids: list[str] = Field(
        default_factory=list, max_length=1000,
        description="items to export as their latest redacted copy instead of the original (decision 0026)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> "PackageIn":
        if bool(self.case_id) == bool(self.item_ids):
            raise ValueError("give either case_id or item_ids")
        return self


class PackageOut(BaseModel):
    """A package and how far its build has got."""

    id: str
    title: str
    case_id: str | None
    state: str
    progress: float = Field(description="0..1 while building; 1 when ready")
    items: int
    file_count: int | None
    size: int | None
    sha256: str | None = Field(description="SHA-256 of the whole ZIP, recorded as it was written")
    requested_by: str
    created_at: datetime
    completed_at: datetime | None
    error: str | None
    download_url: str | None
