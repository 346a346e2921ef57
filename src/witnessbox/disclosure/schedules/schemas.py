"""The shapes of a schedule: the entry a disclosure officer sends, the schedule pages and the API show."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from witnessbox.core.text import NON_BLANK
from witnessbox.disclosure.schedules.models import Decision, ScheduleKind

DESCRIPTION_LIMIT = 2000
REASONS_LIMIT = 4000


class EntryStatus(StrEnum):
    """Where a recording stands on the schedules."""

    UNDECIDED = "undecided"  # unused, and nobody has decided on it yet
    DECIDED = "decided"
    USED = "used"  # relied on as evidence: served with the prosecution case, not scheduled as unused
    RESTRICTED = "restricted"  # in a complaint case too: only professional standards see or decide it


class EntryIn(BaseModel):
    """The disclosure officer's entry for one recording (the whole entry: what is left out takes its default).

    The rules of decision 0022, which the service checks, are stated here too: used material takes no
    decision, sensitive (MG6D) material is never "disclose", and a decision comes with its reasons.
    """

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "allOf": [
                {
                    "if": {"properties": {"used": {"const": True}}, "required": ["used"]},
                    "then": {"properties": {"decision": {"type": "null"}}},
                },
                {
                    "if": {"properties": {"schedule": {"const": "mg6d"}}, "required": ["schedule"]},
                    "then": {"properties": {"decision": {"not": {"const": "disclose"}}}},
                },
                {
                    "if": {"properties": {"decision": {"type": "string"}}, "required": ["decision"]},
                    "then": {"required": ["reasons"], "properties": {"reasons": {"pattern": NON_BLANK}}},
                },
            ]
        },
    }

    schedule: ScheduleKind = ScheduleKind.NON_SENSITIVE
    used: bool = Field(default=False, strict=True)
    description: str | None = Field(default=None, max_length=DESCRIPTION_LIMIT)
    decision: Decision | None = None
    reasons: str = Field(default="", max_length=REASONS_LIMIT)


class EntryOut(BaseModel):
    """One recording of the case on its schedules."""

    item_id: str
    number: str  # its number on its schedule: C1, C2 ... on MG6C, D1 ... on MG6D, U1 ... for used material
    reference: str  # the recording's short id, crime reference and incident number
    description: str
    described_by_default: bool  # the description is made from the recording's own record
    recorded_start: datetime | None
    officer: str | None
    camera: str | None
    schedule: ScheduleKind
    used: bool
    decision: Decision | None
    reasons: str
    decided_by: str | None
    decided_at: datetime | None
    status: EntryStatus


class ScheduleOut(BaseModel):
    """A case's schedules: every recording in the case, in recorded order, with what is decided."""

    case_id: str
    case_reference: str
    case_title: str
    entries: list[EntryOut]
    undecided: int  # unused recordings without a decision: the schedules are not ready while any remain
    may_decide: bool
