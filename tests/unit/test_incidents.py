"""The incident-grouping rule on hand-made tracks."""

from datetime import UTC, datetime, timedelta

from witnessbox.evidence.incidents import (
    Recording,
    Rule,
    TrackPoint,
    distance_m,
    group_incidents,
    meet,
    track_from,
)

T0 = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
# Norwich, Gentleman's Walk; 0.001 deg of latitude is about 111 m.
LAT, LON = 52.6286, 1.2925


def rec(rid: str, start_min: float, minutes: float, path: list[tuple[float, float, float]]) -> Recording:
    """A recording starting `start_min` after T0, with points (seconds from its start, dlat, dlon)."""
    start = T0 + timedelta(minutes=start_min)
    gps = [{"t": t, "lat": LAT + dlat, "lon": LON + dlon} for t, dlat, dlon in path]
    return Recording(rid, start, start + timedelta(minutes=minutes), track_from(start, gps))


def still(seconds: int, dlat: float = 0.0, dlon: float = 0.0) -> list[tuple[float, float, float]]:
    """Standing in one place, a point every 5 s."""
    return [(t, dlat, dlon) for t in range(0, seconds, 5)]


def test_distance_is_metres() -> None:
    """GIVEN two points 0.001 degrees of latitude apart THEN they are about 111 m apart."""
    a, b = TrackPoint(T0, LAT, LON), TrackPoint(T0, LAT + 0.001, LON)
    assert 110 < distance_m(a, b) < 112


def test_two_officers_at_the_same_scene_are_one_incident() -> None:
    """GIVEN two recordings overlapping in time within 30 m of each other THEN they are one incident."""
    a = rec("a", 0, 10, still(600))
    b = rec("b", 3, 10, still(600, dlat=0.0002))
    assert meet(a, b, Rule())
    assert group_incidents([a, b], Rule()) == [["a", "b"]]


def test_same_place_different_times_are_not() -> None:
    """GIVEN two recordings at the same spot an hour apart THEN they are not one incident."""
    a = rec("a", 0, 10, still(600))
    b = rec("b", 70, 10, still(600))
    assert group_incidents([a, b], Rule()) == []


def test_same_time_far_apart_are_not() -> None:
    """GIVEN two recordings at the same time 2 km apart THEN they are not one incident."""
    a = rec("a", 0, 10, still(600))
    b = rec("b", 0, 10, still(600, dlat=0.018))
    assert group_incidents([a, b], Rule(distance_m=100)) == []


def test_tracks_that_cross_at_different_moments_do_not_meet() -> None:
    """GIVEN officer B passes the spot A stood on, but ten minutes after A left THEN they did not meet."""
    a = rec("a", 0, 20, [(t, 0.0, 0.0) if t < 300 else (t, 0.01, 0.0) for t in range(0, 1200, 5)])
    b = rec("b", 0, 20, [(t, 0.02, 0.0) if t < 900 else (t, 0.0, 0.0) for t in range(0, 1200, 5)])
    assert not meet(a, b, Rule(distance_m=50, time_window_s=30))


def test_arriving_officer_meets_when_converging() -> None:
    """GIVEN B drives towards A and arrives while A is still recording THEN they meet."""
    a = rec("a", 0, 15, still(900))
    approach = [(t, 0.01 * (1 - t / 600), 0.0) for t in range(0, 600, 5)] + still(300)[1:]
    b = rec("b", 2, 10, [(t, dlat, dlon) if t < 600 else (t, 0.0, 0.0) for t, dlat, dlon in approach])
    assert meet(a, b, Rule(distance_m=60))


def test_chains_join_into_one_incident_and_other_groups_stay_apart() -> None:
    """GIVEN A meets B, B meets C (A and C never close), and D, E meet elsewhere THEN two incidents: ABC and DE."""
    a = rec("a", 0, 10, still(600))
    b = rec("b", 1, 10, still(600, dlat=0.0006))
    c = rec("c", 2, 10, still(600, dlat=0.0012))
    d = rec("d", 0, 10, still(600, dlat=0.05))
    e = rec("e", 4, 10, still(600, dlat=0.0501))
    assert not meet(a, c, Rule(distance_m=100))
    assert sorted(group_incidents([e, c, a, d, b], Rule(distance_m=100))) == [["a", "b", "c"], ["d", "e"]]


def test_recordings_without_gps_are_never_proposed() -> None:
    """GIVEN two overlapping recordings, one with no GPS THEN no incident is proposed."""
    a = rec("a", 0, 10, still(600))
    b = Recording("b", T0, T0 + timedelta(minutes=10), ())
    assert group_incidents([a, b], Rule()) == []


def test_malformed_gps_points_are_ignored() -> None:
    """GIVEN a camera GPS list with junk entries WHEN turned into a track THEN only complete points remain, in time order."""
    track = track_from(T0, [{"t": 10, "lat": 1, "lon": 2}, {"t": 5}, {"t": 0, "lat": 1, "lon": 2}])  # type: ignore[list-item]
    assert [p.at for p in track] == [T0, T0 + timedelta(seconds=10)]
