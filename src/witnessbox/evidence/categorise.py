"""Categorising recordings: evidential or not, offence category, references, title, notes.

Changes apply to one item or many at once, all or nothing: every item is
authorised and every value validated before anything changes. Each item's
audit entry records the fields before and after.
"""

import re
from dataclasses import dataclass, fields
from typing import Any

from witnessbox.accounts.roles import Permission
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import InvalidInput
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item
from witnessbox.evidence.search import index_item
from witnessbox.evidence.service import EvidenceService

MAX_BULK = 500
UNSET: Any = object()  # "leave this field as it is" (None means "clear it")


@dataclass(frozen=True)
class CategoryRules:
    """The force's offence categories and reference formats (from configuration)."""

    categories: tuple[str, ...]
    incident_number: re.Pattern[str]
    crime_reference: re.Pattern[str]

    @classmethod
    def from_patterns(cls, categories: list[str], incident: str, crime: str) -> "CategoryRules":
        """Compile the configured patterns."""
        return cls(tuple(categories), re.compile(incident), re.compile(crime))


@dataclass(frozen=True)
class Categorisation:
    """The fields to change; fields left UNSET are not touched."""

    evidential: Any = UNSET
    category: Any = UNSET
    incident_number: Any = UNSET
    crime_reference: Any = UNSET
    title: Any = UNSET
    notes: Any = UNSET

    def changes(self) -> dict[str, Any]:
        """Only the fields being set (or cleared)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not UNSET}


class CategorisationService:
    """Validates and applies categorisations."""

    def __init__(
        self, db: Database, audit: AuditLog, clock: Clock, evidence: EvidenceService, rules: CategoryRules
    ) -> None:
        self.db, self.audit, self.clock, self.evidence, self.rules = db, audit, clock, evidence, rules

    def categorise(self, item_ids: list[str], change: Categorisation, *, actor: Actor) -> int:
        """Apply one change to every listed item the actor may categorise; returns how many changed."""
        values = self._validated(change)
        ids = list(dict.fromkeys(item_ids))
        if not ids or len(ids) > MAX_BULK:
            raise InvalidInput(f"choose between 1 and {MAX_BULK} recordings")
        for item_id in ids:
            self.evidence.authorise(item_id, Permission.ITEM_CATEGORISE, actor=actor)
        with self.db.transaction() as uow:
            for item_id in ids:
                item = uow.session.get(Item, item_id)
                assert item is not None
                before = {name: getattr(item, name) for name in values}
                for name, value in values.items():
                    setattr(item, name, value)
                item.categorised_at, item.categorised_by = self.clock.now(), actor.name
                index_item(uow.session, item)
                self.audit.record(
                    uow.session,
                    AuditTag.EVIDENCE_ITEM_CATEGORISED,
                    actor=actor,
                    subject=Subject("item", item.id),
                    details={"before": before, "after": values},
                )
        return len(ids)

    def _validated(self, change: Categorisation) -> dict[str, Any]:
        values = {name: _clean(value) for name, value in change.changes().items()}
        if not values:
            raise InvalidInput("nothing to change")
        if "evidential" in values and values["evidential"] not in (True, False, None):
            raise InvalidInput("evidential must be yes, no or not yet decided")
        category = values.get("category")
        if category is not None and category not in self.rules.categories:
            raise InvalidInput(
                f"unknown offence category {category!r}; the force's list: "
                + ", ".join(self.rules.categories)
            )
        self._check(values.get("incident_number"), self.rules.incident_number, "incident number")
        self._check(values.get("crime_reference"), self.rules.crime_reference, "crime reference")
        for name, limit in (("title", 255), ("notes", 10_000)):
            if isinstance(values.get(name), str) and len(values[name]) > limit:
                raise InvalidInput(f"{name} is longer than {limit} characters")
        return values

    @staticmethod
    def _check(value: str | None, pattern: re.Pattern[str], what: str) -> None:
        if value is not None and not pattern.fullmatch(value):
            raise InvalidInput(f"{what} {value!r} does not match the force's format ({pattern.pattern})")


def _clean(value: Any) -> Any:
    """Strip text; empty text clears the field."""
    if isinstance(value, str):
        return value.strip() or None
    return value
