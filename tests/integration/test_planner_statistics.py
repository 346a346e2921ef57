"""SQLite's planner is given statistics as the items grow, so searches keep using the right index."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories.items import ready_item
from tests.factories.people import make_force
from witnessbox.bootstrap import Container


def _analysed_items(container: Container) -> int:
    with container.db.engine.connect() as connection:
        stats = connection.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'items'")).scalars()
        return max((int(stat.split()[0]) for stat in stats), default=0)


def test_items_are_analysed_again_once_they_have_doubled(container: Container) -> None:
    """GIVEN a SQLite system WHEN items are added and the statistics refreshed THEN the planner's count
    follows them, but only once the table has more than doubled since it was last analysed."""
    if container.db.dialect != "sqlite":
        pytest.skip("PostgreSQL's autovacuum keeps its own statistics")
    force = make_force(container, camera=None)
    start = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    for minute in range(4):
        ready_item(container, force.actor("owner"), start + timedelta(minutes=minute), 60)
    container.db.refresh_statistics()
    assert _analysed_items(container) == 4
    ready_item(container, force.actor("owner"), start + timedelta(minutes=9), 60)
    container.db.refresh_statistics()
    assert _analysed_items(container) == 4  # 5 is not yet double
    for minute in range(10, 14):
        ready_item(container, force.actor("owner"), start + timedelta(minutes=minute), 60)
    container.db.refresh_statistics()
    assert _analysed_items(container) == 9
