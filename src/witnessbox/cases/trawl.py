"""The incident trawl: every recording, from any camera, that was near a case's incident when it happened.

Other officers' cameras at the same incident are relevant material even when nobody has looked at
them; missing them is a classic disclosure failure. The trawl takes a place, a moment, a distance
and a time window, and finds every recording the person may see listed whose GPS track came within
the distance during the window (the geometry of `evidence.incidents`, the start-time bounding of
`evidence.proposals`). Recordings that ran during the window but have no GPS fix in it are listed
apart, never dropped: where they were cannot be judged, so a person must. Each is marked: already
in the case, open to the person, or needing a recorded reason first (decision 0022).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from witnessbox.accounts.grants import REASON_LASTS
from witnessbox.accounts.models import AccessReason, Grant
from witnessbox.accounts.policy import Access, ItemFacts, decide, live_grants_to
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.service import CaseService
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict
from witnessbox.db.session import Database
from witnessbox.evidence.incidents import Rule, TrackPoint, distance_m
from witnessbox.evidence.models import Item, ItemState
from witnessbox.evidence.proposals import LONGEST_RECORDING
from witnessbox.evidence.proposals import track_of as item_track
from witnessbox.evidence.visibility import visible_to

NO_PLACE_LIMIT = 200  # recordings without a fix listed at most; a narrower window lists the rest
TRAWL_FURTHEST_M = 10_000.0  # beyond a town's width a trawl is a search, not an incident
TRAWL_LONGEST_S = LONGEST_RECORDING.total_seconds()  # half a window: as long as the longest recording


@dataclass(frozen=True)
class Incident:
    """Where and when the case's incident happened, and how near in place and time counts."""

    lat: float
    lon: float
    at: datetime
    distance_m: float
    window_s: float

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The moments searched: the incident's time, give or take the window."""
        half = timedelta(seconds=self.window_s)
        return self.at - half, self.at + half


@dataclass(frozen=True)
class Chosen:
    """What the person chose on the trawl form or in the API's query; None: not chosen."""

    lat: float | None = None
    lon: float | None = None
    at: datetime | None = None
    distance_m: float | None = None
    window_s: float | None = None


class Standing(StrEnum):
    """Where a found recording stands for the person trawling."""

    IN_CASE = "in_case"
    OPEN = "open"  # they may open it now (theirs, shared, or a reason already given)
    NEEDS_REASON = "needs_reason"  # they may open it once they say why


@dataclass(frozen=True)
class Found:
    """A recording the trawl found; `closest_m` is None for one with no GPS fix during the window."""

    id: str
    recorded_start: datetime
    recorded_end: datetime
    camera: str | None
    officer: str | None
    closest_m: float | None
    standing: Standing


@dataclass(frozen=True)
class TrawlResult:
    """What the trawl found near the incident, and what ran during it with no place to judge."""

    incident: Incident
    near: list[Found]
    no_place: list[Found]
    no_place_left_off: int


def closest_during(incident: Incident, track: Iterable[TrackPoint]) -> float | None:
    """The closest a track came to the incident during its window, in metres; None without a fix in it."""
    start, end = incident.window
    spot = TrackPoint(incident.at, incident.lat, incident.lon)
    distances = [distance_m(spot, point) for point in track if start <= point.at <= end]
    return round(min(distances), 1) if distances else None


class IncidentTrawl:
    """Finds the recordings of a case's incident from every camera, for those who work the case."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, cases: CaseService, rule: Rule) -> None:
        self.db, self.audit, self.clock, self.cases, self.rule = db, audit, clock, cases, rule

    def suggested(self, case_id: str, *, actor: Actor) -> Incident | None:
        """The first GPS fix of the case's earliest recording that has one, with the force's distance and
        window: where the trawl form starts. None when no recording of the case has a track."""
        in_case = self.cases.item_ids_query(case_id, actor)
        query = select(Item.recorded_start, Item.gps_track).where(  # never a place the actor may not see
            Item.id.in_(in_case), Item.gps_track.is_not(None), visible_to(actor, self.clock.now())
        )
        with self.db.read() as session:
            rows = session.execute(query.order_by(Item.recorded_start, Item.id)).all()
        for row in rows:
            track = item_track(row.recorded_start, row.gps_track)
            if track:
                first = track[0]
                return Incident(first.lat, first.lon, first.at, self.rule.distance_m, self.rule.time_window_s)
        return None

    def incident(self, case_id: str, chosen: Chosen, *, actor: Actor) -> Incident:
        """The incident as chosen, what was not chosen taken from the suggestion and the force's rule.

        Conflict (409) when place or time is missing and no recording of the case suggests one.
        """
        distance = chosen.distance_m or self.rule.distance_m
        window = chosen.window_s or self.rule.time_window_s
        if chosen.lat is not None and chosen.lon is not None and chosen.at is not None:
            return Incident(chosen.lat, chosen.lon, chosen.at, distance, window)
        found = self.suggested(case_id, actor=actor)
        if found is None:
            raise Conflict("no recording of this case has a GPS track: give the incident's place and time")
        return Incident(
            found.lat if chosen.lat is None else chosen.lat,
            found.lon if chosen.lon is None else chosen.lon,
            chosen.at or found.at,
            distance,
            window,
        )

    def trawl(self, case_id: str, incident: Incident, *, actor: Actor) -> TrawlResult:
        """Every recording the actor may see listed that was near the incident, nearest first, and those
        that ran during it without a fix; the run is audited (it lists other officers' footage)."""
        require(actor, Permission.CASE_MANAGE)  # the trawl is for adding to the case
        case = self.cases.get(case_id, actor=actor)
        in_case = self.cases.item_ids_query(case.id, actor)
        now = self.clock.now()
        with self.db.transaction() as uow:
            rows = uow.session.execute(self._overlapping(incident, actor, now)).all()
            rows = [row for row in rows if row.state == ItemState.READY]
            standing = _standings(uow.session, actor, rows, set(uow.session.scalars(in_case)), now)
            result = _sorted(incident, rows, standing)
            self.audit.record(
                uow.session,
                AuditTag.CASE_TRAWL_RUN,
                actor=actor,
                subject=Subject("case", case.id),
                details={
                    "case": case.reference,
                    "lat": incident.lat,
                    "lon": incident.lon,
                    "at": incident.at.isoformat(),
                    "distance_m": incident.distance_m,
                    "window_s": incident.window_s,
                    "near": len(result.near),
                    "no_place": len(result.no_place) + result.no_place_left_off,
                },
            )
        return result

    def _overlapping(self, incident: Incident, actor: Actor, now: datetime) -> Any:
        """Recordings the actor may see listed that ran during the window (a start-time index range scan)."""
        start, end = incident.window
        return select(
            Item.id,
            Item.recorded_start,
            Item.recorded_end,
            Item.camera_serial,
            Item.officer,
            Item.officer_id,
            Item.team_id,
            Item.restricted,
            Item.state,
            Item.gps_track,
        ).where(
            Item.recorded_start <= end,
            Item.recorded_start > start - LONGEST_RECORDING,
            Item.recorded_end >= start,
            visible_to(actor, now),
        )


def _standings(
    session: Session, actor: Actor, rows: list[Row[Any]], in_case: set[str], now: datetime
) -> dict[str, Standing]:
    """Each row's standing, from the one policy: the grants and reasons of all rows read in two queries."""
    ids = [row.id for row in rows]
    granted = set(
        session.scalars(select(Grant.item_id).where(Grant.item_id.in_(ids), *live_grants_to(actor, now)))
    )
    reasoned = set(
        session.scalars(
            select(AccessReason.item_id).where(
                AccessReason.user_id == actor.id,
                AccessReason.item_id.in_(ids),
                AccessReason.given_at > now - REASON_LASTS,
            )
        )
    )
    standing = {}
    for row in rows:
        facts = ItemFacts(row.officer_id, row.team_id, row.restricted, row.id in granted, row.id in reasoned)
        access = decide(actor, Permission.ITEM_VIEW, facts)
        if row.id in in_case:
            standing[row.id] = Standing.IN_CASE
        elif access != Access.DENY:  # listed, so never DENY; kept as a guard all the same
            standing[row.id] = Standing.OPEN if access == Access.ALLOW else Standing.NEEDS_REASON
    return standing


def _sorted(incident: Incident, rows: list[Row[Any]], standing: dict[str, Standing]) -> TrawlResult:
    near, no_place = [], []
    for row in rows:
        if row.id not in standing:
            continue
        closest = closest_during(incident, item_track(row.recorded_start, row.gps_track))
        found = Found(
            row.id,
            row.recorded_start,
            row.recorded_end,
            row.camera_serial,
            row.officer,
            closest,
            standing[row.id],
        )
        if closest is None:
            no_place.append(found)
        elif closest <= incident.distance_m:
            near.append(found)
    near.sort(key=lambda f: (f.closest_m, f.recorded_start, f.id))
    no_place.sort(key=lambda f: (f.recorded_start, f.id))
    return TrawlResult(incident, near, no_place[:NO_PLACE_LIMIT], max(0, len(no_place) - NO_PLACE_LIMIT))
