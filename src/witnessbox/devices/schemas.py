"""The JSON shapes of cameras and docks in the API (times in UTC, ISO 8601)."""

from datetime import datetime

from pydantic import BaseModel, Field

from witnessbox.devices.overview import AssignmentRow, CameraDetail, CameraRow, DockRow


class CameraOut(BaseModel):
    """A camera: who holds it now, how, and how much it has recorded."""

    serial: str
    model: str
    pool: str | None = Field(description="the pool dock's station; null for a personally issued camera")
    holder: str | None = Field(description="the officer holding it now; null when nobody is")
    holder_kind: str | None = Field(description="personal or pool; null when nobody holds it")
    registered_at: datetime
    last_docked_at: datetime | None
    recordings: int

    @classmethod
    def of(cls, row: CameraRow) -> "CameraOut":
        """From the fleet overview's row."""
        return cls(**row.__dict__)


class AssignmentRecordOut(BaseModel):
    """One spell of a camera in an officer's hands."""

    officer: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None = Field(description="null: still issued")
    assigned_by: str

    @classmethod
    def of(cls, row: AssignmentRow) -> "AssignmentRecordOut":
        """From the fleet overview's row."""
        return cls(**row.__dict__)


class CameraDetailOut(CameraOut):
    """A camera and everyone who has held it, newest first."""

    history: list[AssignmentRecordOut]

    @classmethod
    def of_detail(cls, detail: CameraDetail) -> "CameraDetailOut":
        """From the fleet overview's detail."""
        history = [AssignmentRecordOut.of(spell) for spell in detail.history]
        return cls(**detail.camera.__dict__, history=history)


class DockOut(BaseModel):
    """A dock and when it was last heard from."""

    name: str
    created_at: datetime
    last_seen_at: datetime | None = Field(description="when its token was last used; null: never")
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: DockRow) -> "DockOut":
        """From the fleet overview's row."""
        return cls(**row.__dict__)
