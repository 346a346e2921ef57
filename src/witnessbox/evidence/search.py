"""Search over the items a person may see: filters, full text, place, sort, keyset paging.

The contract the API, the library page and the benchmark share: `Filters` (parsed from and
written back to the search page's query string), `SearchService.search` returning a `Page`
with an opaque cursor for the next page, and `index_item`, which every change to an item's
words, bookmarks or track calls in its own transaction.

Every filter is an indexed equality, a range, or `Item.id IN (subquery)`, never an OR, so
the planner can start from whichever index is narrowest. Pages are keyset pages: the cursor
carries the last row's sort key, so page 1,000 costs what page 1 does. A place is looked up
in the grid squares around it (`cell_of`), and relevance order ranks every match exactly:
nothing here trades which items come back for speed.
"""

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
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
    delete,
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
from witnessbox.accounts.policy import Access, decide, visible_items
from witnessbox.accounts.roles import Permission
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Annotation, AnnotationKind, Item, ItemPlace, ItemText, SavedSearch
from witnessbox.evidence.service import ITEM_COLUMNS

# The item ids in one case, as a subquery (handed in by the composition root: cases sit above evidence).
CaseScope = Callable[[str], Select[Any]]

MAX_LIMIT = 200
MAX_RADIUS_M = 100_000
EARTH_RADIUS_M = 6_371_000
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
TRACK_STEP_M = 25  # a kept GPS point moved at least this far from the one kept before it
# The place grid: squares of 1/500 degree (about 220 m north-south). A search reads every
# square its bounding box touches, up to MAX_CELLS (a radius of about 2 km in Britain);
# wider areas read the latitude band from the (lat, lon) index instead.
CELLS_PER_DEGREE = 500
GRID_COLUMNS = 360 * CELLS_PER_DEGREE + 1
MAX_CELLS = 400

# The full-text indexes the migration writes by hand beside item_text.
FTS = table("item_text_fts", column("rowid", Integer))
FTS_TABLE: ColumnElement[Any] = literal_column("item_text_fts")
DOCUMENT: ColumnElement[Any] = literal_column("item_text.document")


def words(text: str) -> list[str]:
    """The words text is indexed and searched by: lower-case runs of letters and digits.

    Both databases are given these words already split (SQLite FTS5 unicode61, PostgreSQL
    to_tsvector('simple')), so they find the same items. Underscores split words too, as
    both engines' own tokenisers would split them anyway.
    """
    return re.findall(r"[^\W_]+", text.lower())


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


EVIDENTIAL_VALUES = ("yes", "no", "uncategorised")
TEXT_FIELDS = {
    "officer": "officer",
    "team_id": "team",
    "camera": "camera",
    "category": "category",
    "incident_number": "incident",
    "crime_reference": "crime",
    "case_id": "case",
}


@dataclass(frozen=True)
class Filters:
    """One search. Query-string names: q, officer (collar number), team (id), camera (serial),
    from, to (ISO 8601), category, evidential (yes|no|uncategorised), incident, crime,
    case (id), bookmarked (1), min_duration, max_duration (seconds), near (lat,lon,metres),
    box (south,west,north,east), sort (recorded|relevance).

    `from` is inclusive and `to` exclusive; a date alone means its midnight, so `to` given as a
    date alone takes in the whole of that day. Times without a zone are UTC."""

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
        given = {key: value.strip() for key, value in params.items() if value.strip()}
        found: dict[str, Any] = {name: given.get(key) for name, key in TEXT_FIELDS.items()}
        evidential = given.get("evidential")
        if evidential is not None and evidential not in EVIDENTIAL_VALUES:
            raise InvalidInput("evidential: expected yes, no or uncategorised")
        return cls(
            text=given.get("q", ""),
            recorded_from=_time(given, "from", end_of_day=False),
            recorded_to=_time(given, "to", end_of_day=True),
            evidential=evidential,
            bookmarked=_flag(given, "bookmarked"),
            min_duration_s=_seconds(given, "min_duration"),
            max_duration_s=_seconds(given, "max_duration"),
            near=_circle(given),
            box=_box(given),
            sort=_sort(given),
            **found,
        )

    def to_query(self) -> dict[str, str]:
        """The query string that gives this search back (only the fields that are set)."""
        query: dict[str, str] = {}
        if self.text.strip():
            query["q"] = self.text.strip()
        query.update({key: getattr(self, name) for name, key in TEXT_FIELDS.items() if getattr(self, name)})
        if self.recorded_from:
            query["from"] = self.recorded_from.isoformat()
        if self.recorded_to:
            query["to"] = self.recorded_to.isoformat()
        if self.evidential:
            query["evidential"] = self.evidential
        if self.bookmarked:
            query["bookmarked"] = "1"
        if self.min_duration_s is not None:
            query["min_duration"] = _number(self.min_duration_s)
        if self.max_duration_s is not None:
            query["max_duration"] = _number(self.max_duration_s)
        if self.near:
            query["near"] = ",".join(map(_number, (self.near.lat, self.near.lon, self.near.radius_m)))
        if self.box:
            query["box"] = ",".join(_number(getattr(self.box, f.name)) for f in fields(Box))
        if self.sort != Sort.RECORDED:
            query["sort"] = str(self.sort)
        return query

    @property
    def terms(self) -> list[str]:
        """The words every result must contain (each as a prefix)."""
        return words(self.text)

    @property
    def order(self) -> Sort:
        """The order results come in: relevance needs words to be relevant to."""
        return Sort.RELEVANCE if self.sort == Sort.RELEVANCE and self.terms else Sort.RECORDED


def _number(value: float) -> str:
    text = repr(float(value))
    return text.removesuffix(".0")


def _time(given: Mapping[str, str], key: str, *, end_of_day: bool) -> datetime | None:
    value = given.get(key)
    if value is None:
        return None
    moment = _iso(value) or _iso(re.sub(r" (\d\d:?\d\d)$", r"+\1", value))  # "+" may arrive as a space
    if moment is None:
        raise InvalidInput(f"{key}: not an ISO 8601 time: {value[:40]!r}")
    if end_of_day and len(value) == len("2026-11-26"):
        moment += timedelta(days=1)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _flag(given: Mapping[str, str], key: str) -> bool:
    value = given.get(key, "0").lower()
    if value not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise InvalidInput(f"{key}: expected 1 or 0")
    return value in ("1", "true", "yes", "on")


def _floats(value: str, key: str, count: int, shape: str) -> list[float]:
    parts = value.split(",")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(f"{key}: expected {shape}")
    return numbers


def _seconds(given: Mapping[str, str], key: str) -> float | None:
    value = given.get(key)
    if value is None:
        return None
    [seconds] = _floats(value, key, 1, "a number of seconds")
    if seconds < 0:
        raise InvalidInput(f"{key}: expected a number of seconds")
    return seconds


def _check_point(key: str, lat: float, lon: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(f"{key}: latitude must be -90..90 and longitude -180..180")


def _circle(given: Mapping[str, str]) -> Circle | None:
    value = given.get("near")
    if value is None:
        return None
    lat, lon, radius = _floats(value, "near", 3, "lat,lon,metres")
    _check_point("near", lat, lon)
    if not 0 < radius <= MAX_RADIUS_M:
        raise InvalidInput(f"near: the radius must be more than 0 and at most {MAX_RADIUS_M} metres")
    return Circle(lat, lon, radius)


def _box(given: Mapping[str, str]) -> Box | None:
    value = given.get("box")
    if value is None:
        return None
    south, west, north, east = _floats(value, "box", 4, "south,west,north,east")
    _check_point("box", south, west)
    _check_point("box", north, east)
    if south > north or west > east:
        raise InvalidInput("box: south must not be above north, nor west east of east")
    return Box(south, west, north, east)


def _sort(given: Mapping[str, str]) -> Sort:
    try:
        return Sort(given.get("sort", Sort.RECORDED))
    except ValueError as error:
        raise InvalidInput("sort: expected recorded or relevance") from error


@dataclass(frozen=True)
class Page:
    """One page of results, and the cursor of the next (None on the last page)."""

    items: list[Item]
    next: str | None


def index_item(session: Session, item: Item) -> None:
    """Bring the item's words, bookmark count and places up to date, in the caller's transaction."""
    marks = [mark for mark in item.bookmarks or [] if isinstance(mark, dict)]
    notes = session.execute(
        select(Annotation.kind, Annotation.text).where(Annotation.item_id == item.id)
    ).all()
    parts = [item.title, item.notes, item.incident_number, item.crime_reference, item.category]
    parts += [str(mark.get("label") or "") for mark in marks] + [text for _, text in notes]
    body = " ".join(words(" ".join(part for part in parts if part)))
    row = session.scalars(select(ItemText).where(ItemText.item_id == item.id)).first()
    if row is None:
        session.add(ItemText(item_id=item.id, body=body))
    elif row.body != body:
        row.body = body
    item.bookmark_count = len(marks) + sum(1 for kind, _ in notes if kind == AnnotationKind.BOOKMARK)
    session.execute(delete(ItemPlace).where(ItemPlace.item_id == item.id))
    session.add_all(
        ItemPlace(item_id=item.id, lat=lat, lon=lon, cell=cell_of(lat, lon))
        for lat, lon in thinned(item.gps_track)
    )


def cell_of(lat: float, lon: float) -> int:
    """The grid square a point lies in, row by row from the south-west corner of the world.

    The migration that added the grid computes the same numbers in SQL with the same
    arithmetic, `(lat + 90) * CELLS_PER_DEGREE` floored, so a point and a search agree.
    """
    return _row(lat) * GRID_COLUMNS + _column(lon)


def _row(lat: float) -> int:
    return math.floor((lat + 90) * CELLS_PER_DEGREE)


def _column(lon: float) -> int:
    return math.floor((lon + 180) * CELLS_PER_DEGREE)


def cells_of(box: Box) -> list[int] | None:
    """Every grid square the box touches, or None when there are more than MAX_CELLS."""
    rows = range(_row(max(box.south, -90)), _row(min(box.north, 90)) + 1)
    columns = range(_column(max(box.west, -180)), _column(min(box.east, 180)) + 1)
    if len(rows) * len(columns) > MAX_CELLS:
        return None
    return [row * GRID_COLUMNS + column for row in rows for column in columns]


def thinned(track: list[Any] | None) -> list[tuple[float, float]]:
    """The track's points less those within TRACK_STEP_M of the last one kept (first and last stay)."""
    points = list(_points(track or []))
    kept = points[:1]
    for point in points[1:-1]:
        if distance_m(kept[-1], point) > TRACK_STEP_M:
            kept.append(point)
    if len(points) > 1:
        kept.append(points[-1])
    return kept


def _points(track: list[Any]) -> Iterator[tuple[float, float]]:
    for point in track:
        try:
            lat, lon = float(point["lat"]), float(point["lon"])
        except (KeyError, TypeError, ValueError):
            continue
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            yield lat, lon


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two points, equirectangular: exact enough within a county."""
    x = (b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2))
    return METRES_PER_DEGREE * math.hypot(x, b[0] - a[0])


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
        """Read a cursor back; InvalidInput when it is not one of this search's cursors."""
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
            raise InvalidInput("after: not a cursor of this search (start from the first page)") from error


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
        visible = visible_items(actor, ITEM_COLUMNS, self.clock.now())
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
        return query.where(visible, *self._conditions(filters)).limit(limit + 1)

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

    def _conditions(self, filters: Filters) -> Iterator[ColumnElement[bool]]:
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
            yield Item.id.in_(self.case_scope(filters.case_id))
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
            yield Item.id.in_(_within_circle(filters.near))
        if filters.box is not None:
            yield Item.id.in_(_within_box(filters.box))

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


def _within_circle(circle: Circle) -> Select[Any]:
    """Points in the circle's bounding box, then within the radius (equirectangular, no SQL maths)."""
    scale = math.cos(math.radians(circle.lat))
    half_lat = circle.radius_m / METRES_PER_DEGREE
    half_lon = half_lat / max(scale, 1e-6)
    north_m = (ItemPlace.lat - circle.lat) * METRES_PER_DEGREE
    east_m = (ItemPlace.lon - circle.lon) * (METRES_PER_DEGREE * scale)
    bounds = Box(circle.lat - half_lat, circle.lon - half_lon, circle.lat + half_lat, circle.lon + half_lon)
    return _within_box(bounds).where(north_m * north_m + east_m * east_m <= circle.radius_m**2)


def _within_box(box: Box) -> Select[Any]:
    """The ids of items with a point in the box: from its grid squares when they are few."""
    query = select(ItemPlace.item_id).where(
        ItemPlace.lat.between(box.south, box.north), ItemPlace.lon.between(box.west, box.east)
    )
    cells = cells_of(box)
    return query if cells is None else query.where(ItemPlace.cell.in_(cells))
