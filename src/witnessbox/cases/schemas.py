"""The JSON shapes of cases."""

from datetime import datetime

from pydantic import BaseModel

from witnessbox.cases.models import CaseKind


class CaseIn(BaseModel):
    """Open a case."""

    reference: str
    title: str
    kind: CaseKind = CaseKind.INVESTIGATION


class CaseOut(BaseModel):
    """A case."""

    id: str
    reference: str
    title: str
    kind: CaseKind
    created_at: datetime


class MemberIn(BaseModel):
    """Invite a colleague by collar number."""

    collar_number: str


class ItemsIn(BaseModel):
    """Items to add."""

    item_ids: list[str]
