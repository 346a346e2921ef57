"""Search filters to and from the query string, the words both databases index, GPS thinning."""

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from witnessbox.core.errors import InvalidInput, NotFound
from witnessbox.evidence.search import (
    MAX_CELLS,
    Box,
    Circle,
    Cursor,
    Filters,
    Sort,
    cell_of,
    cells_of,
    distance_m,
    thinned,
    words,
)

EVERYTHING = Filters(
    text="knife hedge",
    officer="1142",
    team_id="01TEAM",
    camera="WBX00001",
    recorded_from=datetime(2026, 1, 1, 8, 30, tzinfo=UTC),
    recorded_to=datetime(2026, 2, 1, tzinfo=UTC),
    category="Domestic abuse",
    evidential="uncategorised",
    incident_number="26/101",
    crime_reference="DV/10101/26",
    case_id="01CASE",
    bookmarked=True,
    min_duration_s=2.5,
    max_duration_s=600,
    near=Circle(50.7236, -3.5275, 250),
    box=Box(50.3, -4.2, 50.4, -4.1),
    sort=Sort.RELEVANCE,
)


@pytest.mark.parametrize("filters", [Filters(), EVERYTHING, Filters(evidential="no", near=Circle(0.1, 0, 1))])
def test_query_string_round_trip(filters: Filters) -> None:
    """GIVEN filters WHEN written to a query string, URL-encoded and read back THEN the same filters."""
    query = filters.to_query()
    assert Filters.from_query(dict(parse_qsl(urlencode(query)))) == filters


def test_only_set_fields_are_written() -> None:
    """GIVEN a search by text and bookmarks only WHEN written THEN only those names appear."""
    assert Filters(text=" patrol ", bookmarked=True).to_query() == {"q": "patrol", "bookmarked": "1"}
    assert EVERYTHING.to_query()["near"] == "50.7236,-3.5275,250"


def test_empty_fields_from_a_form_are_absent() -> None:
    """GIVEN a submitted form with every field empty WHEN parsed THEN no filter at all."""
    names = (
        "q",
        "officer",
        "team",
        "camera",
        "from",
        "to",
        "category",
        "evidential",
        "incident",
        "crime",
        "case",
        "bookmarked",
        "min_duration",
        "max_duration",
        "near",
        "box",
        "sort",
        "after",
        "limit",
    )
    assert Filters.from_query(dict.fromkeys(names, " ")) == Filters()


def test_times() -> None:
    """GIVEN times as people and browsers write them WHEN parsed THEN UTC; a date alone for `to` takes in that day."""
    parsed = Filters.from_query({"from": "2026-01-12T08:30", "to": "2026-01-13"})
    assert parsed.recorded_from == datetime(2026, 1, 12, 8, 30, tzinfo=UTC)
    assert parsed.recorded_to == datetime(2026, 1, 14, tzinfo=UTC)
    zoned = Filters.from_query({"from": "2026-06-01T10:00:00+01:00", "to": "2026-06-01T10:00:00 01:00"})
    assert zoned.recorded_from == zoned.recorded_to == datetime(2026, 6, 1, 9, tzinfo=UTC)
    assert Filters.from_query({"from": "2026-06-01T09:00:00Z"}).recorded_from == datetime(
        2026, 6, 1, 9, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"from": "yesterday"}, "from: not an ISO 8601 time"),
        ({"to": "2026-13-01"}, "to: not an ISO 8601 time"),
        ({"evidential": "maybe"}, "evidential: expected yes, no or uncategorised"),
        ({"bookmarked": "sometimes"}, "bookmarked: expected 1 or 0"),
        ({"min_duration": "ten"}, "min_duration: expected a number of seconds"),
        ({"max_duration": "-1"}, "max_duration: expected a number of seconds"),
        ({"min_duration": "nan"}, "min_duration: expected a number of seconds"),
        ({"near": "50.7,-3.5"}, "near: expected lat,lon,metres"),
        ({"near": "91,0,100"}, "near: latitude must be"),
        ({"near": "50,0,0"}, "near: the radius must be more than 0"),
        ({"near": "50,0,1000000"}, "near: the radius must be more than 0"),
        ({"box": "1,2,3"}, "box: expected south,west,north,east"),
        ({"box": "51,0,50,1"}, "box: south must not be above north"),
        ({"sort": "random"}, "sort: expected recorded or relevance"),
    ],
)
def test_bad_values_name_the_field(query: dict[str, str], says: str) -> None:
    """GIVEN a bad value WHEN parsed THEN InvalidInput names the field and what was expected."""
    with pytest.raises(InvalidInput, match=says):
        Filters.from_query(query)


def test_words_are_what_both_databases_index() -> None:
    """GIVEN references, punctuation, capitals and accents WHEN split THEN lower-case runs of letters and digits."""
    assert words("CR/12345/26 and 26/123456") == ["cr", "12345", "26", "and", "26", "123456"]
    assert words("Suspect punches victim!") == ["suspect", "punches", "victim"]
    assert words("Café O'Neill's snake_case") == ["café", "o", "neill", "s", "snake", "case"]
    assert words("  ,;- ") == []


def test_relevance_needs_words() -> None:
    """GIVEN relevance order without words WHEN searched THEN newest first (nothing to be relevant to)."""
    assert Filters(sort=Sort.RELEVANCE).order == Sort.RECORDED
    assert Filters(text="?!", sort=Sort.RELEVANCE).order == Sort.RECORDED
    assert Filters(text="knife", sort=Sort.RELEVANCE).order == Sort.RELEVANCE


def test_cursor_round_trip_and_refusals() -> None:
    """GIVEN cursors of both orders WHEN read back THEN the same key; a cursor of the other order or garbage is one this search never gave (not found)."""
    at = Cursor(Sort.RECORDED, datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "01ABC")
    score = Cursor(Sort.RELEVANCE, -0.1 / 3, "01DEF")
    assert Cursor.decode(at.encode(), Sort.RECORDED) == at
    assert Cursor.decode(score.encode(), Sort.RELEVANCE) == score
    for value, sort in [
        (at.encode(), Sort.RELEVANCE),
        ("%%%", Sort.RECORDED),
        ("", Sort.RECORDED),
        ("eyJzIjoicmVsZXZhbmNlIiwiayI6dHJ1ZSwiaSI6IngifQ", Sort.RELEVANCE),
    ]:
        with pytest.raises(NotFound, match="after: not a cursor"):
            Cursor.decode(value, sort)


def test_tracks_are_thinned_to_points_25_metres_apart() -> None:
    """GIVEN a track standing still, then walking, with a bad point WHEN thinned THEN first, moves over 25 m, and last."""
    start = {"lat": 50.0, "lon": -3.0}
    track = [
        start,
        {"lat": 50.0001, "lon": -3.0},
        {"lat": "x"},
        {"lat": 50.0003, "lon": -3.0},
        {"lat": 50.0004, "lon": -3.0},
        {"lat": 50.00041, "lon": -3.0},
    ]
    assert thinned(track) == [(50.0, -3.0), (50.0003, -3.0), (50.00041, -3.0)]
    assert thinned([start]) == [(50.0, -3.0)]
    assert thinned(None) == []
    assert distance_m((50.0, -3.0), (50.0003, -3.0)) == pytest.approx(33.4, abs=0.1)


def test_grid_squares_are_a_500th_of_a_degree_numbered_row_by_row() -> None:
    """GIVEN points a square apart, on a square's edge, at the world's corners WHEN numbered THEN neighbours differ by 1 or a row."""
    here = cell_of(50.7236, -3.5275)
    assert cell_of(50.7236, -3.5255) == here + 1  # 0.002 degrees east
    assert cell_of(50.7256, -3.5275) == here + 360 * 500 + 1  # 0.002 degrees north: one row on
    assert cell_of(50.724, -3.5275) == cell_of(50.7258, -3.5275)  # 50.724 starts a square
    assert cell_of(-90, -180) == 0
    assert cell_of(90, 180) == 180 * 500 * (360 * 500 + 1) + 360 * 500


@given(
    st.floats(-89.9, 89.9),
    st.floats(-179.9, 179.9),
    st.floats(0, 0.03),
    st.floats(0, 0.03),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_a_box_s_squares_hold_every_point_inside_it(
    south: float, west: float, height: float, width: float, up: float, across: float
) -> None:
    """GIVEN any small box and any point inside it, edges included WHEN the box's squares are listed THEN the point's is one."""
    box = Box(south, west, south + height, west + width)
    point = (min(box.north, south + up * height), min(box.east, west + across * width))
    cells = cells_of(box)
    assert cells is not None and cell_of(*point) in cells


def test_wide_boxes_are_left_to_the_latitude_longitude_index() -> None:
    """GIVEN boxes of about 2 and 10 km WHEN their squares are listed THEN the first has at most MAX_CELLS, the second none."""
    small = cells_of(Box(50.71, -3.54, 50.73, -3.51))
    assert small is not None and len(small) <= MAX_CELLS
    assert len(set(small)) == len(small)
    assert cells_of(Box(50.68, -3.60, 50.78, -3.45)) is None
