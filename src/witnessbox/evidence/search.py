"""Search over the items a person may see: filters, full text, place, sort, keyset paging.

The contract the API, the library page and the benchmark share: `Filters` (parsed from and
written back to the search page's query string), `SearchService.search` returning a `Page`
with an opaque cursor for the next page, and `index_item`, which every change to an item's
words, bookmarks or track calls in its own transaction.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item, SavedSearch

# The item ids in one case, as a subquery (handed in by the composition root: cases sit above evidence).
CaseScope = Callable[[str], Select[Any]]


def words(text: str) -> list[str]:
    """The words text is indexed and searched by: lower-case runs of letters and digits.

    Both databases are given these words already split (SQLite FTS5 unicode61, PostgreSQL
    to_tsvector('simple')), so they find the same items.
    """
    return re.findall(r"\w+", text.lower())


class Sort(StrEnum):
    """Result order: newest recording first, or best text match first."""

    RECORDED = "recorded"
    RELEVANCE = "relevance"


@dataclass(frozen=True)
class Circle:
    """Within radius_m metres of a point."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class Box:
    """Inside a latitude/longitude box."""

    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True)
class Filters:
    """One search. Query-string names: q, officer (collar number), team (id), camera (serial),
    from, to (ISO 8601), category, evidential (yes|no|uncategorised), incident, crime,
    case (id), bookmarked (1), min_duration, max_duration (seconds), near (lat,lon,metres),
    box (south,west,north,east), sort (recorded|relevance)."""

    text: str = ""
    officer: str | None = None
    team_id: str | None = None
    camera: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    category: str | None = None
    evidential: str | None = None
    incident_number: str | None = None
    crime_reference: str | None = None
    case_id: str | None = None
    bookmarked: bool = False
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    near: Circle | None = None
    box: Box | None = None
    sort: Sort = Sort.RECORDED

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> "Filters":
        """Parse the search page's query string; InvalidInput names the first bad field."""
        raise NotImplementedError

    def to_query(self) -> dict[str, str]:
        """The query string that gives this search back (only the fields that are set)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Page:
    """One page of results, and the cursor of the next (None on the last page)."""

    items: list[Item]
    next: str | None


def index_item(session: Session, item: Item) -> None:
    """Bring the item's words, bookmark count and places up to date, in the caller's transaction."""
    raise NotImplementedError


class SearchService:
    """Finds items for a person; keeps saved searches."""

    def __init__(self, db: Database, clock: Clock, case_scope: CaseScope) -> None:
        self.db, self.clock, self.case_scope = db, clock, case_scope

    def statement(
        self, actor: Actor, filters: Filters, *, after: str | None = None, limit: int = 50
    ) -> Select[Any]:
        """The SELECT a search runs (the benchmark runs it directly to compare)."""
        raise NotImplementedError

    def search(self, actor: Actor, filters: Filters, *, after: str | None = None, limit: int = 50) -> Page:
        """One page of the items the actor may see that match, in the filters' order."""
        raise NotImplementedError

    def saved(self, actor: Actor) -> list[SavedSearch]:
        """The actor's saved searches, by name."""
        raise NotImplementedError

    def save(self, actor: Actor, name: str, filters: Filters) -> SavedSearch:
        """Keep a search under a name (the same name replaces it)."""
        raise NotImplementedError

    def delete_saved(self, actor: Actor, saved_id: str) -> None:
        """Forget one of the actor's saved searches."""
        raise NotImplementedError
