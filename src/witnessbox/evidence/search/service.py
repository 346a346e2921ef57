"""The search itself: one SQL statement per page, keyset cursors, saved searches, audit."""

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import (
    ColumnElement,
    Double,
    Float,
    Integer,
    Select,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    select,
    table,
    tuple_,
)
from sqlalchemy.orm import Session

from witnessbox.accounts.models import User
from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item, ItemText, SavedSearch
from witnessbox.evidence.search.filters import Filters, Sort
from witnessbox.evidence.search.places import within_box, within_circle
from witnessbox.evidence.visibility import visible_to

# The item ids in one case, as a subquery (handed in by the composition root: cases sit above evidence).
CaseScope = Callable[[str, Actor], Select[Any]]

MAX_LIMIT = 200

# The full-text indexes the migration writes by hand beside item_text.
FTS = table("item_text_fts", column("rowid", Integer))
FTS_TABLE: ColumnElement[Any] = literal_column("item_text_fts")
DOCUMENT: ColumnElement[Any] = literal_column("item_text.document")


@dataclass(frozen=True)
class Page:
    """One page of results, and the cursor of the next (None on the last page)."""

    items: list[Item]
    next: str | None


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's sort key."""

    sort: Sort
    key: float | datetime
    id: str

    def encode(self) -> str:
        """Opaque to clients: URL-safe base64 of a small JSON object."""
        key = self.key.isoformat() if isinstance(self.key, datetime) else self.key
        raw = json.dumps({"s": str(self.sort), "k": key, "i": self.id}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str, sort: Sort) -> "Cursor":
        """Read a cursor back; NotFound when it is not one of this search's cursors (no such page)."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            if raw["s"] != sort or not isinstance(raw["i"], str):
                raise ValueError(raw)
            if sort == Sort.RECORDED:
                return cls(sort, datetime.fromisoformat(raw["k"]).astimezone(UTC), raw["i"])
            if isinstance(raw["k"], bool) or not isinstance(raw["k"], int | float):
                raise ValueError(raw)
            return cls(sort, float(raw["k"]), raw["i"])
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
            raise NotFound("after: not a cursor of this search (start from the first page)") from error


class SearchService:
    """Finds items for a person; keeps saved searches.

    The first page of every search is audited (who looked for what, and how much they were
    shown), as are saved searches kept and forgotten; later pages of the same search are not.
    """

    def __init__(self, db: Database, clock: Clock, case_scope: CaseScope, audit: AuditLog) -> None:
        self.db, self.clock, self.case_scope, self.audit = db, clock, case_scope, audit

    def statement(
        self, actor: Actor, filters: Filters, *, after: str | None = None, limit: int = 50
    ) -> Select[Any]:
        """The SELECT a search runs (the benchmark runs it directly to compare).

        Rows are (Item, score): score is the text rank (lower is better) under relevance
        order, else null. One row more than `limit` is asked for, to know if a page follows.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit: between 1 and {MAX_LIMIT}")
        cursor = Cursor.decode(after, filters.order) if after else None
        visible = visible_to(actor, self.clock.now())
        if filters.order == Sort.RELEVANCE:
            ranked = self._ranked(filters.terms, cursor).subquery("ranked")
            query = select(Item, ranked.c.score).join(ranked, ranked.c.item_id == Item.id)
            query = query.order_by(ranked.c.score, ranked.c.item_id)
        else:
            query = select(Item, cast(null(), Float).label("score"))
            query = query.order_by(Item.recorded_start.desc(), Item.id.desc())
            if filters.terms:
                query = query.where(Item.id.in_(self._matching(filters.terms)))
            if cursor:
                key = literal(cursor.key, Item.recorded_start.type)
                query = query.where(tuple_(Item.recorded_start, Item.id) < tuple_(key, cursor.id))
        return query.where(visible, *self._conditions(filters, actor)).limit(limit + 1)

    def _matching(self, terms: list[str]) -> Select[Any]:
        """The ids of the items holding every word (as a prefix)."""
        if self.db.dialect == "postgresql":
            return select(ItemText.item_id).where(DOCUMENT.op("@@")(_tsquery(terms)))
        rows = select(FTS.c.rowid).where(FTS_TABLE.op("MATCH")(_fts_query(terms)))
        return select(ItemText.item_id).where(ItemText.id.in_(rows))

    def _ranked(self, terms: list[str], cursor: Cursor | None) -> Select[Any]:
        """(item_id, score) of the items holding every word, after the cursor; the lower the better.

        On PostgreSQL the matches come sorted out of this subquery (which keeps it from being
        merged into the outer query), so the items are then read in that order and only until
        the page is full: a common word's thousands of matches are ranked, but only the page's
        items are read. SQLite merges the subquery and sorts the joined rows itself.
        """
        rank: ColumnElement[Any]
        if self.db.dialect == "postgresql":
            query = _tsquery(terms)
            # In double precision, so the cursor's copy of a score compares equal to the score itself.
            rank = -cast(func.ts_rank(DOCUMENT, query), Double)
            ranked = select(ItemText.item_id, rank.label("score")).where(DOCUMENT.op("@@")(query))
            ranked = ranked.order_by(rank, ItemText.item_id)
        else:
            rank = func.bm25(FTS_TABLE)
            ranked = (
                select(ItemText.item_id, rank.label("score"))
                .select_from(FTS)
                .join(ItemText, ItemText.id == FTS.c.rowid)
                .where(FTS_TABLE.op("MATCH")(_fts_query(terms)))
            )
        if cursor:
            ranked = ranked.where(tuple_(rank, ItemText.item_id) > tuple_(literal(cursor.key), cursor.id))
        return ranked

    def _conditions(self, filters: Filters, actor: Actor) -> Iterator[ColumnElement[bool]]:
        equal = {
            Item.team_id: filters.team_id,
            Item.camera_serial: filters.camera,
            Item.category: filters.category,
            Item.incident_number: filters.incident_number,
            Item.crime_reference: filters.crime_reference,
        }
        yield from (column == value for column, value in equal.items() if value is not None)
        if filters.officer is not None:
            yield Item.officer_id.in_(select(User.id).where(User.collar_number == filters.officer))
        if filters.case_id is not None:
            yield Item.id.in_(self.case_scope(filters.case_id, actor))
        if filters.recorded_from is not None:
            yield Item.recorded_start >= filters.recorded_from
        if filters.recorded_to is not None:
            yield Item.recorded_start < filters.recorded_to
        if filters.evidential is not None:
            decided = {"yes": True, "no": False, "uncategorised": None}[filters.evidential]
            yield Item.evidential.is_(None) if decided is None else Item.evidential == decided
        if filters.bookmarked:
            yield Item.bookmark_count > 0
        if filters.min_duration_s is not None:
            yield Item.duration_s >= filters.min_duration_s
        if filters.max_duration_s is not None:
            yield Item.duration_s <= filters.max_duration_s
        if filters.near is not None:
            yield Item.id.in_(within_circle(filters.near))
        if filters.box is not None:
            yield Item.id.in_(within_box(filters.box))

    def search(self, actor: Actor, filters: Filters, *, after: str | None = None, limit: int = 50) -> Page:
        """One page of the items the actor may see that match, in the filters' order."""
        statement = self.statement(actor, filters, after=after, limit=limit)
        with self.db.read() as session:
            rows = session.execute(statement).all()
        items = [row[0] for row in rows[:limit]]
        following = None
        if len(rows) > limit:
            last, score = rows[limit - 1]
            key = score if filters.order == Sort.RELEVANCE else last.recorded_start
            following = Cursor(filters.order, key, last.id).encode()
        if after is None:
            shown = {"query": filters.to_query(), "shown": len(items)}
            self._record(AuditTag.EVIDENCE_SEARCH_RUN, actor, shown)
        return Page(items, following)

    def saved(self, actor: Actor) -> list[SavedSearch]:
        """The actor's saved searches, by name."""
        _require_person(actor)
        with self.db.read() as session:
            query = select(SavedSearch).where(SavedSearch.user_id == actor.id).order_by(SavedSearch.name)
            return list(session.scalars(query))

    def save(self, actor: Actor, name: str, filters: Filters) -> SavedSearch:
        """Keep a search under a name (the same name replaces it)."""
        _require_person(actor)
        name = name.strip()
        if not 1 <= len(name) <= 120:
            raise InvalidInput("name: between 1 and 120 characters")
        query = urlencode(filters.to_query())
        with self.db.transaction() as uow:
            kept = uow.session.scalars(
                select(SavedSearch).where(SavedSearch.user_id == actor.id, SavedSearch.name == name)
            ).first()
            if kept is None:
                kept = SavedSearch(id=new_id(), user_id=actor.id, name=name, created_at=self.clock.now())
                uow.session.add(kept)
            kept.query = query
            uow.session.flush()
            self._audit(uow.session, AuditTag.EVIDENCE_SEARCH_SAVED, actor, {"name": name, "query": query})
        return kept

    def delete_saved(self, actor: Actor, saved_id: str) -> None:
        """Forget one of the actor's saved searches."""
        _require_person(actor)
        with self.db.transaction() as uow:
            kept = uow.session.get(SavedSearch, saved_id)
            if kept is None or kept.user_id != actor.id:
                raise NotFound(f"no saved search {saved_id}")
            uow.session.delete(kept)
            details = {"name": kept.name, "query": kept.query}
            self._audit(uow.session, AuditTag.EVIDENCE_SEARCH_DELETED, actor, details)

    def _record(self, tag: AuditTag, actor: Actor, details: dict[str, Any]) -> None:
        with self.db.transaction() as uow:
            self._audit(uow.session, tag, actor, details)

    def _audit(self, session: Session, tag: AuditTag, actor: Actor, details: dict[str, Any]) -> None:
        self.audit.record(session, tag, actor=actor, subject=Subject("user", actor.id), details=details)


def _require_person(actor: Actor) -> None:
    """Saved searches belong to people (and to tokens allowed to list items)."""
    if actor.kind != ActorKind.USER or decide(actor, Permission.ITEM_LIST) != Access.ALLOW:
        raise Forbidden("only people keep saved searches")


def _fts_query(terms: list[str]) -> str:
    return " AND ".join(f'"{term}"*' for term in terms)


def _tsquery(terms: list[str]) -> ColumnElement[Any]:
    return func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))
