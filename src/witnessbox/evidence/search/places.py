"""Places: GPS tracks thinned to points in a grid of small squares, and the SQL that finds them."""

import math
from collections.abc import Iterator
from typing import Any

from sqlalchemy import (
    Select,
    select,
)

from witnessbox.evidence.models import ItemPlace
from witnessbox.evidence.search.filters import Box, Circle

EARTH_RADIUS_M = 6_371_000
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
TRACK_STEP_M = 25  # a kept GPS point moved at least this far from the one kept before it
# The place grid: squares of 1/500 degree (about 220 m north-south). A search reads every
# square its bounding box touches, up to MAX_CELLS (a radius of about 2 km in Britain);
# wider areas read the latitude band from the (lat, lon) index instead.
CELLS_PER_DEGREE = 500
GRID_COLUMNS = 360 * CELLS_PER_DEGREE + 1
MAX_CELLS = 400


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


def within_circle(circle: Circle) -> Select[Any]:
    """Points in the circle's bounding box, then within the radius (equirectangular, no SQL maths)."""
    scale = math.cos(math.radians(circle.lat))
    half_lat = circle.radius_m / METRES_PER_DEGREE
    half_lon = half_lat / max(scale, 1e-6)
    north_m = (ItemPlace.lat - circle.lat) * METRES_PER_DEGREE
    east_m = (ItemPlace.lon - circle.lon) * (METRES_PER_DEGREE * scale)
    bounds = Box(circle.lat - half_lat, circle.lon - half_lon, circle.lat + half_lat, circle.lon + half_lon)
    return within_box(bounds).where(north_m * north_m + east_m * east_m <= circle.radius_m**2)


def within_box(box: Box) -> Select[Any]:
    """The ids of items with a point in the box: from its grid squares when they are few."""
    query = select(ItemPlace.item_id).where(
        ItemPlace.lat.between(box.south, box.north), ItemPlace.lon.between(box.west, box.east)
    )
    cells = cells_of(box)
    return query if cells is None else query.where(ItemPlace.cell.in_(cells))
