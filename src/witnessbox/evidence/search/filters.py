"""One search as the search page's query string says it: words, filters, place, order."""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from witnessbox.core.errors import InvalidInput

MAX_RADIUS_M = 100_000


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
