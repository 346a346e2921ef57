"""The trawl's one rule of geometry: how close a GPS track came to the incident during its window."""

from datetime import UTC, datetime, timedelta

import pytest

from witnessbox.cases.trawl import Incident, closest_during
from witnessbox.evidence.incidents import TrackPoint

pytestmark = pytest.mark.backend_free

AT = datetime(2026, 11, 5, 23, 40, tzinfo=UTC)
LAT, LON = 52.6286, 1.2925  # 0.001 degrees of latitude is about 111 m
INCIDENT = Incident(LAT, LON, AT, distance_m=100, window_s=60)


def point(seconds: float, dlat: float = 0.0) -> TrackPoint:
    """A fix `seconds` after the incident's time, `dlat` degrees north of it."""
    return TrackPoint(AT + timedelta(seconds=seconds), LAT + dlat, LON)


def test_the_closest_fix_inside_the_window_counts() -> None:
    """GIVEN fixes 222 m, 56 m and 111 m away inside the window WHEN measured THEN the closest, 56 m."""
    assert closest_during(INCIDENT, [point(-50, 0.002), point(0, 0.0005), point(50, 0.001)]) == pytest.approx(55.6, abs=0.2)


def test_fixes_outside_the_window_do_not_count_even_on_the_spot() -> None:
    """GIVEN a camera standing on the spot two minutes before and after, and 1 km away during the window
    WHEN measured THEN 1 km: being there at another time is not being at the incident."""
    track = [point(-120), point(30, 0.009), point(120)]
    assert closest_during(INCIDENT, track) == pytest.approx(1000.8, abs=1)


def test_the_window_edges_are_inside() -> None:
    """GIVEN fixes exactly at the start and end of the window WHEN measured THEN they count."""
    assert closest_during(INCIDENT, [point(-60, 0.0001)]) is not None
    assert closest_during(INCIDENT, [point(60.001)]) is None


@pytest.mark.parametrize("track", [[], [point(-61), point(61)]])
def test_no_fix_in_the_window_is_not_a_distance(track: list[TrackPoint]) -> None:
    """GIVEN no GPS at all, or fixes only outside the window WHEN measured THEN None: place cannot be judged."""
    assert closest_during(INCIDENT, track) is None


def test_the_window_is_the_time_give_or_take() -> None:
    """GIVEN an incident with a 15-minute window WHEN asked for its window THEN 15 minutes either side."""
    incident = Incident(LAT, LON, AT, distance_m=50, window_s=900)
    assert incident.window == (AT - timedelta(minutes=15), AT + timedelta(minutes=15))
