"""The force's local time: one format for every page, with the zone's name and its offset from UTC."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from witnessbox.config import Settings
from witnessbox.core.errors import InvalidInput
from witnessbox.core.localtime import LocalTime, zone_named

LONDON = LocalTime(zone_named("Europe/London"))
WINTER = datetime(2026, 12, 6, 14, 3, 22, tzinfo=UTC)
SUMMER = datetime(2026, 7, 6, 13, 3, 22, tzinfo=UTC)


@pytest.mark.parametrize(("moment", "style", "shown"), [
    (WINTER, "full", "06 Dec 2026 14:03:22 GMT (UTC+00:00)"),
    (SUMMER, "full", "06 Jul 2026 14:03:22 BST (UTC+01:00)"),
    (SUMMER, "time", "14:03:22 BST (UTC+01:00)"),
    (SUMMER, "minute", "06 Jul 2026 14:03 BST (UTC+01:00)"),
    (datetime(2026, 7, 6, 23, 30, tzinfo=UTC), "date", "07 Jul 2026"),  # already the next day in London
    (SUMMER, "clock", "14:03:22"),
    (SUMMER, "zone", "BST (UTC+01:00)"),
])
def test_a_utc_moment_reads_in_london_with_its_offset(moment: datetime, style: str, shown: str) -> None:
    """GIVEN a stored UTC moment WHEN formatted for a page in one style THEN it reads in London time, saying GMT or BST and the offset."""
    assert LONDON.format(moment, style) == shown


def test_zones_behind_utc_and_half_hours_show_their_sign_and_minutes() -> None:
    """GIVEN forces in other zones WHEN a moment is formatted THEN negative and half-hour offsets are written out."""
    assert LocalTime(zone_named("America/St_Johns")).format(WINTER, "zone").endswith("(UTC-03:30)")
    assert LocalTime(zone_named("Asia/Kolkata")).format(WINTER, "time") == "19:33:22 IST (UTC+05:30)"


def test_no_time_is_a_dash_or_what_the_page_asks() -> None:
    """GIVEN a time not yet known (never docked) WHEN formatted THEN a dash, or the page's own word."""
    assert LONDON.format(None) == "—" and LONDON.format(None, "minute", empty="never") == "never"


def test_an_unknown_zone_is_refused_in_the_settings_and_by_name() -> None:
    """GIVEN a misspelt zone WHEN the settings are read, or the zone is looked up THEN a clear refusal, before anything starts."""
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(time_zone="Europe/Londn")
    with pytest.raises(InvalidInput, match="IANA name"):
        zone_named("Mars/Olympus")
    assert Settings().time_zone == "Europe/London"
