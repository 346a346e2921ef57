"""The clock seam: code asks a Clock for the time so tests can fix it."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests that only moves when told to."""

    current: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        """Return the fixed time."""
        return self.current

    def advance(self, **delta: float) -> None:
        """Move the clock forward, e.g. advance(hours=2)."""
        self.current += timedelta(**delta)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime (as SQLite returns them) as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
