"""Incident proposals: items a person may see that overlap an item in time and place.

An item is proposed with another when the rule in `evidence.incidents` says they meet,
directly or through a chain of other cameras the same person may see. Chains never pass
through an item the person may not see, so a proposal cannot hint that hidden footage exists.

Items without a GPS track are never proposed, and an item without one proposes nothing:
where a camera was cannot be judged, and everything recorded across the force at the same
minutes is a list, not an incident. The answer says why it is empty, so the page can say so.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from witnessbox.accounts.roles import Permission
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import InvalidInput
from witnessbox.db.session import Database
from witnessbox.evidence.incidents import Recording, Rule, TrackPoint, distance_m, meet, track_from
from witnessbox.evidence.models import Item, ItemState
from witnessbox.evidence.service import EvidenceService
from witnessbox.evidence.visibility import visible_to

# No camera writes one file longer than a shift; this bounds the index range scan on start time.
LONGEST_RECORDING = timedelta(hours=12)
# A chain may reach recordings outside the item's own time; look again this many times at most.
WIDEN_ROUNDS = 3
WATCH_MIN, WATCH_MAX = 2, 4
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Proposal:
    """Another camera's recording of the same incident.

    `distance_m` is the closest the two cameras came at moments within the rule's time
    window; None when the recording joins only through another camera.
    """

    id: str
    recorded_start: datetime
    recorded_end: datetime
    camera: str | None
    officer: str | None
    distance_m: float | None


@dataclass(frozen=True)
class IncidentProposals:
    """What is proposed for one item, and why nothing is when the list is empty for a reason."""

    item_id: str
    items: list[Proposal]
    reason: str | None = None


@dataclass(frozen=True)
class _Candidate:
    """An overlapping item as the rule and the answer need it."""

    recording: Recording
    camera: str | None
    officer: str | None


class IncidentFinder:
    """Proposes the recordings of one incident by several cameras (rule: evidence.incidents)."""

    def __init__(self, db: Database, clock: Clock, evidence: EvidenceService, rule: Rule) -> None:
        self.db, self.clock, self.evidence, self.rule = db, clock, evidence, rule

    def proposals(self, item_id: str, *, actor: Actor) -> IncidentProposals:
        """The other items the actor may see that recorded the same incident, earliest first."""
        item = self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor)
        if item.recorded_end is None:
            return IncidentProposals(item.id, [], "the recording has not been measured yet")
        own = Recording(
            item.id, item.recorded_start, item.recorded_end, track_of(item.recorded_start, item.gps_track)
        )
        if not own.track:
            return IncidentProposals(
                item.id, [], "the recording has no GPS track, so place cannot be compared"
            )
        joined = self._incident_of(own, actor)
        found = [_proposal(own, c, self.rule) for c in joined]
        return IncidentProposals(item.id, sorted(found, key=lambda p: (p.recorded_start, p.id)))

    def _incident_of(self, own: Recording, actor: Actor) -> list[_Candidate]:
        """Walk out from the item; widen the time searched while the chain reaches beyond it."""
        span = (own.start, own.end)
        for _round in range(WIDEN_ROUNDS):
            candidates = self._overlapping(span, own.id, actor)
            joined = _connected(own, candidates, self.rule)
            wider = (
                min([own.start, *(c.recording.start for c in joined)]),
                max([own.end, *(c.recording.end for c in joined)]),
            )
            if wider == span:
                break
            span = wider
        return joined

    def overlapping(self, span: tuple[datetime, datetime], item_id: str, actor: Actor) -> Select[Any]:
        """Items the actor may see that overlap `span`, bar one: a range scan of the start-time index.

        Whether each is ready is checked on the rows found: nearly every item is, so a condition on
        state would only tempt the database into walking the state index instead.
        """
        start, end = span
        columns = (Item.id, Item.recorded_start, Item.recorded_end, Item.camera_serial, Item.officer)
        return select(*columns, Item.gps_track, Item.state).where(
            Item.recorded_start < end,
            Item.recorded_start > start - LONGEST_RECORDING,
            Item.recorded_end > start,
            Item.id != item_id,
            visible_to(actor, self.clock.now()),
        )

    def _overlapping(self, span: tuple[datetime, datetime], item_id: str, actor: Actor) -> list[_Candidate]:
        with self.db.read() as session:
            rows = session.execute(self.overlapping(span, item_id, actor)).all()
        found = (
            _Candidate(
                Recording(
                    row.id, row.recorded_start, row.recorded_end, track_of(row.recorded_start, row.gps_track)
                ),
                row.camera_serial,
                row.officer,
            )
            for row in rows
            if row.state == ItemState.READY
        )
        return [c for c in found if c.recording.track]

    def watch(self, item_ids: Sequence[str], *, actor: Actor) -> list[Item]:
        """Two to four different items to play together, in the order asked; each may be played by
        the actor, and opening each is audited as a view of it."""
        wanted = list(dict.fromkeys(i.strip() for i in item_ids if i.strip()))
        if not WATCH_MIN <= len(wanted) <= WATCH_MAX:
            raise InvalidInput(f"choose {WATCH_MIN} to {WATCH_MAX} different recordings to watch together")
        for item_id in wanted:
            self.evidence.authorise(item_id, Permission.ITEM_PLAY, actor=actor)
        return [self.evidence.view_item(item_id, actor=actor) for item_id in wanted]


def track_of(start: datetime, gps: list[Any] | None) -> tuple[TrackPoint, ...]:
    """The item's GPS track as timed points; malformed points are left out, not fatal."""
    return track_from(start, [p for p in gps or () if _well_formed(p)])


def _well_formed(point: Any) -> bool:
    try:
        return isinstance(point, dict) and all(math.isfinite(float(point[k])) for k in ("t", "lat", "lon"))
    except (KeyError, TypeError, ValueError):
        return False


def _connected(own: Recording, candidates: list[_Candidate], rule: Rule) -> list[_Candidate]:
    """The candidates joined to `own` by meetings, directly or through each other.

    Only the item's own incident is wanted, so this searches outwards from it rather than
    pairing every candidate with every other as `group_incidents` does: with hundreds of
    cameras out at once, that is the difference between milliseconds and seconds.
    """
    boxes = {c.recording.id: _box(c.recording) for c in candidates}
    waiting = {c.recording.id: c for c in candidates}
    frontier, joined = [own], []
    while frontier and waiting:
        here = frontier.pop()
        near = _box(here)
        for other_id, other in list(waiting.items()):
            if _boxes_apart(near, boxes[other_id], rule.distance_m) or not meet(here, other.recording, rule):
                continue
            del waiting[other_id]
            joined.append(other)
            frontier.append(other.recording)
    return joined


Box = tuple[float, float, float, float]


def _box(recording: Recording) -> Box:
    """South, north, west, east edges of a track (never empty here)."""
    lats = [p.lat for p in recording.track]
    lons = [p.lon for p in recording.track]
    return min(lats), max(lats), min(lons), max(lons)


def _boxes_apart(a: Box, b: Box, metres: float) -> bool:
    """Whether two tracks' boxes are further apart than `metres`: a quick no before the exact test."""
    lat_gap = max(a[0] - b[1], b[0] - a[1], 0.0) * _METRES_PER_DEGREE
    widest = max(abs(a[0]), abs(a[1]), abs(b[0]), abs(b[1]))
    # Degrees of longitude shrink towards the poles; the widest latitude gives the smallest metres.
    lon_metres = _METRES_PER_DEGREE * max(math.cos(math.radians(widest)), 1e-6)
    lon_gap = max(a[2] - b[3], b[2] - a[3], 0.0) * lon_metres
    return lat_gap > metres * 1.01 or lon_gap > metres * 1.01


def _proposal(own: Recording, candidate: _Candidate, rule: Rule) -> Proposal:
    recording = candidate.recording
    return Proposal(
        id=recording.id,
        recorded_start=recording.start,
        recorded_end=recording.end,
        camera=candidate.camera,
        officer=candidate.officer,
        distance_m=_closest_m(own, recording, rule),
    )


def _closest_m(a: Recording, b: Recording, rule: Rule) -> float | None:
    """The closest two cameras came at moments within the rule's window, if that makes them meet."""
    if a.start >= b.end or b.start >= a.end:
        return None
    window, first, closest = timedelta(seconds=rule.time_window_s), 0, math.inf
    for point in a.track:  # both tracks are in time order: slide a window along b's
        while first < len(b.track) and b.track[first].at < point.at - window:
            first += 1
        j = first
        while j < len(b.track) and b.track[j].at <= point.at + window:
            closest = min(closest, distance_m(point, b.track[j]))
            j += 1
    return round(closest, 1) if closest <= rule.distance_m else None
