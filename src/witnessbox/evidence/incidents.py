"""Incidents seen by several cameras: which recordings overlap in time and meet in place.

Two recordings meet when their times overlap and, at some moment they share
(within `time_window_s`), their GPS positions are within `distance_m` of each
other. Recordings that meet, directly or through others, are proposed as one
incident. A recording without a GPS track is never proposed: place cannot be
judged. Pure functions: the search service feeds them items.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class TrackPoint:
    """A position at an absolute time."""

    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True)
class Recording:
    """What the rule needs of an item: its id, when it ran, where it went."""

    id: str
    start: datetime
    end: datetime
    track: tuple[TrackPoint, ...]


@dataclass(frozen=True)
class Rule:
    """How close in place and time two cameras must come to be one incident (force-configurable)."""

    distance_m: float = 100.0
    time_window_s: float = 30.0


def distance_m(a: TrackPoint, b: TrackPoint) -> float:
    """Great-circle distance between two positions, in metres (haversine)."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def track_from(start: datetime, gps: Sequence[dict[str, float]] | None) -> tuple[TrackPoint, ...]:
    """Turn a camera's GPS list ({t, lat, lon}, t in seconds from the start) into timed points."""
    points = (
        TrackPoint(start + timedelta(seconds=float(p["t"])), float(p["lat"]), float(p["lon"]))
        for p in gps or ()
        if {"t", "lat", "lon"} <= p.keys()
    )
    return tuple(sorted(points, key=lambda p: p.at))


def meet(a: Recording, b: Recording, rule: Rule) -> bool:
    """Whether two recordings overlap in time and come within the rule's distance at a shared moment."""
    if a.start >= b.end or b.start >= a.end or not a.track or not b.track:
        return False
    window = timedelta(seconds=rule.time_window_s)
    first = 0
    for point in a.track:
        while first < len(b.track) and b.track[first].at < point.at - window:
            first += 1
        j = first
        while j < len(b.track) and b.track[j].at <= point.at + window:
            if distance_m(point, b.track[j]) <= rule.distance_m:
                return True
            j += 1
    return False


def group_incidents(recordings: Sequence[Recording], rule: Rule) -> list[list[str]]:
    """Groups of two or more recordings that meet (directly or through others), earliest first."""
    ordered = sorted(recordings, key=lambda r: r.start)
    parent = {r.id: r.id for r in ordered}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start >= a.end:
                break  # sorted by start: nothing later can overlap a
            if meet(a, b, rule):
                parent[root(b.id)] = root(a.id)
    groups: dict[str, list[str]] = {}
    for recording in ordered:
        groups.setdefault(root(recording.id), []).append(recording.id)
    return [members for members in groups.values() if len(members) > 1]
