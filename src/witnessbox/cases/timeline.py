"""A case's items on one time axis: one lane per officer and camera, bars placed in percent.

The server does the arithmetic so the page needs no date library: each bar and tick carries
its position as a percentage of the case's span, which the page's script applies.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from witnessbox.cases.schemas import CaseItemOut

# Tick spacings a person reads easily, in seconds: seconds, minutes, hours, days.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
              43200, 86400, 172800, 604800, 2592000)  # fmt: skip
MAX_TICKS = 8
EMPTY_SPAN = timedelta(minutes=1)  # the axis of items that all start at one instant


@dataclass(frozen=True)
class Bar:
    """One item on the axis."""

    item: CaseItemOut
    left: float  # percent of the span from its start
    width: float  # percent of the span


@dataclass(frozen=True)
class Lane:
    """One officer's camera: the items it recorded, in time order."""

    officer: str
    camera: str
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    """A labelled moment on the axis."""

    at: datetime
    left: float
    label: str


@dataclass(frozen=True)
class Timeline:
    """The whole axis: its span, its ticks and its lanes."""

    start: datetime
    end: datetime
    ticks: list[Tick]
    lanes: list[Lane]


def timeline(items: Sequence[CaseItemOut], zone: tzinfo = UTC) -> Timeline | None:
    """Lay the items out on one axis (None when there are none); tick labels read in `zone`."""
    if not items:
        return None
    start = min(item.recorded_start for item in items)
    end = max(item.ends for item in items)
    if end - start < EMPTY_SPAN:
        end = start + EMPTY_SPAN
    span = (end - start).total_seconds()

    def percent(moment: datetime) -> float:
        return round((moment - start).total_seconds() / span * 100, 3)

    lanes: dict[tuple[str, str], list[Bar]] = {}
    for item in sorted(items, key=lambda i: (i.recorded_start, i.id)):
        key = (item.officer or "Unknown officer", item.camera_serial or "no camera")
        left = percent(item.recorded_start)
        lanes.setdefault(key, []).append(Bar(item, left, round(percent(item.ends) - left, 3)))
    return Timeline(
        start=start,
        end=end,
        ticks=[Tick(at, percent(at), _label(at.astimezone(zone), step)) for at, step in _ticks(start, end)],
        lanes=[Lane(officer, camera, bars) for (officer, camera), bars in lanes.items()],
    )


def _ticks(start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """Round moments from start to end, at most MAX_TICKS of them."""
    span = (end - start).total_seconds()
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = -(-int((start - epoch).total_seconds()) // step) * step  # the first multiple at or after start
    moments = []
    at = epoch + timedelta(seconds=first)
    while at <= end:
        moments.append((at, step))
        at += timedelta(seconds=step)
    return moments


def _label(at: datetime, step: int) -> str:
    if step < 60:
        return at.strftime("%H:%M:%S")
    if step < 86400:
        return at.strftime("%H:%M")
    return at.strftime("%d %b")
