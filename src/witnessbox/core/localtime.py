"""The force's local time: how pages show a stored UTC moment to the people who read them.

Times are stored and exchanged (API, exports, the audit trail) in UTC. People read
them in the force's zone, always with the zone's abbreviation and its offset from
UTC, so that a time copied into a statement cannot be misread across a clock change.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from witnessbox.core.errors import InvalidInput

DEFAULT_ZONE = "Europe/London"
STYLES = {
    "full": "%d %b %Y %H:%M:%S",
    "minute": "%d %b %Y %H:%M",
    "time": "%H:%M:%S",
    "date": "%d %b %Y",
    "clock": "%H:%M:%S",  # bare, only where the zone is stated beside it (a timeline, the player)
}
BARE = frozenset({"date", "clock"})


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone called `name` (e.g. Europe/London); InvalidInput when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {name!r}: use an IANA name such as Europe/London") from error


@dataclass(frozen=True)
class LocalTime:
    """Formats UTC moments in one zone: '06 Dec 2026 14:03:22 GMT (UTC+00:00)'."""

    zone: ZoneInfo

    @property
    def name(self) -> str:
        """The zone's IANA name, which browsers' Intl.DateTimeFormat understands too."""
        return self.zone.key

    def format(self, moment: datetime | None, style: str = "full", *, empty: str = "—") -> str:
        """`moment` in the zone in one of STYLES with abbreviation and offset; "zone": only those."""
        if moment is None:
            return empty
        local = moment.astimezone(self.zone)
        label = f"{local.strftime('%Z')} ({utc_offset(local)})"
        if style == "zone":
            return label
        shown = local.strftime(STYLES[style])
        return shown if style in BARE else f"{shown} {label}"


def utc_offset(local: datetime) -> str:
    """'UTC+01:00' for a moment an hour ahead of UTC."""
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
