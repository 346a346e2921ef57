"""A stateful property test of the purge rule: an item is purged only if no hold covered it at any
moment of its recycle window. Hypothesis drives time, legal holds and cases (placed, released,
opened, closed at any moment, between sweeps or not); the test keeps its own record of every
hold's interval and checks each purge against it after every step."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select

from tests.conftest import fresh_database_url, settings_for
from tests.factories.items import ready_item
from tests.factories.people import Force, make_force
from tests.factories.retention import records_managers
from witnessbox.bootstrap import Container, build
from witnessbox.core.actor import Actor
from witnessbox.core.clock import FixedClock, as_utc
from witnessbox.evidence.categorise import Categorisation
from witnessbox.retention.models import ClockStart, DeletionCertificate, ItemRetention, Stage
from witnessbox.retention.schedule import RuleSpec

ITEMS = 3
WORLD: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One system for every example (each example makes its own items), on a clock only moving forward."""
    folder: Path = tmp_path_factory.mktemp("retention-property")
    with fresh_database_url(folder) as url:
        clock = FixedClock(datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
        short = {"retention_warning_days": 2, "retention_recycle_days": 10}  # many windows in a short run
        container = build(settings_for(folder, url).model_copy(update=short), clock=clock)
        force = make_force(container)
        manager = records_managers(container, 1)[0]
        container.retention_schedule.change(RuleSpec("non_evidential", 3, ClockStart.RECORDING), actor=manager)
        WORLD.update(container=container, clock=clock, force=force, manager=manager)
        try:
            yield
        finally:
            container.close()


class PurgeRule(RuleBasedStateMachine):
    """Items on the deletion path, holds coming and going, sweeps now and then."""

    def __init__(self) -> None:
        super().__init__()
        self.container: Container = WORLD["container"]  # type: ignore[assignment]
        self.clock: FixedClock = WORLD["clock"]  # type: ignore[assignment]
        self.force: Force = WORLD["force"]  # type: ignore[assignment]
        self.manager: Actor = WORLD["manager"]  # type: ignore[assignment]
        self.items: list[str] = []
        self.spans: dict[str, list[list[datetime | None]]] = {}
        self.holds: dict[int, str] = {}  # item index -> open manual hold
        self.cases: dict[int, str] = {}  # item index -> open case

    @initialize()
    def recordings(self) -> None:
        owner = self.force.actor("owner")
        self.items = [ready_item(self.container, owner, self.clock.now(), 5.0) for _ in range(ITEMS)]
        self.container.categorise.categorise(self.items, Categorisation(evidential=False), actor=owner)
        self.spans = {item_id: [] for item_id in self.items}
        self.container.retention.sweep()

    @rule(days=st.integers(min_value=1, max_value=6), sweep=st.booleans())
    def time_passes(self, days: int, sweep: bool) -> None:
        self.clock.advance(days=days)
        if sweep:
            self.container.retention.sweep()

    @rule(index=st.integers(0, ITEMS - 1))
    def place_hold(self, index: int) -> None:
        item_id = self.items[index]
        if index in self.holds or self._purged(item_id):  # a hold after the purge has nothing to keep
            return
        self.holds[index] = self.container.holds.place(actor=self.manager, reason="prop", item_id=item_id).id
        self.spans[item_id].append([self.clock.now(), None])

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data())
    def release_hold(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(sorted(self.holds)))
        self.container.holds.release(self.holds.pop(index), actor=self.manager, reason="prop done")
        self._end(self.items[index])

    @rule(index=st.integers(0, ITEMS - 1))
    def open_case(self, index: int) -> None:
        item_id = self.items[index]
        if index in self.cases or self._purged(item_id):
            return
        investigator = self.force.actor("investigator")
        case = self.container.cases.create(f"P/{item_id}/{len(self.spans[item_id])}", "prop", actor=investigator)
        self.container.cases.add_items(case.id, [item_id], actor=investigator,
                                       reason="occurrence 26/4411, arrest on Elm Road")
        self.cases[index] = case.id
        self.spans[item_id].append([self.clock.now(), None])

    @precondition(lambda self: bool(self.cases))
    @rule(data=st.data())
    def close_case(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(sorted(self.cases)))
        self.container.cases.close(self.cases.pop(index), actor=self.force.actor("investigator"))
        self._end(self.items[index])

    def _end(self, item_id: str) -> None:
        """Close the oldest open interval of the item (holds and cases end in any order)."""
        span = next(s for s in self.spans[item_id] if s[1] is None)
        span[1] = self.clock.now()

    def _purged(self, item_id: str) -> bool:
        with self.container.db.read() as session:
            return session.get_one(ItemRetention, item_id).stage == Stage.PURGED

    @invariant()
    def purged_only_if_never_held_in_the_window(self) -> None:
        with self.container.db.read() as session:
            purged = session.execute(
                select(ItemRetention.item_id, ItemRetention.recycled_at, DeletionCertificate.purged_at)
                .join(DeletionCertificate, DeletionCertificate.item_id == ItemRetention.item_id)
                .where(ItemRetention.item_id.in_(self.items))
            ).all()
        for item_id, recycled_at, purged_at in purged:
            start, end = as_utc(recycled_at), as_utc(purged_at)
            for began, ended in self.spans[item_id]:
                assert began is not None
                assert not (began <= end and (ended is None or ended > start)), (item_id, began, ended)


PurgeRule.TestCase.settings = settings(max_examples=60, stateful_step_count=20, phases=[Phase.generate], deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
TestPurgeRule = PurgeRule.TestCase


def test_the_examples_did_purge() -> None:
    """GIVEN the examples above (run first, in file order) THEN some purged items, and some items were
    rescued, so the property was not vacuously true."""
    with WORLD["container"].db.read() as session:  # type: ignore[attr-defined]
        stages = set(session.scalars(select(ItemRetention.stage)))
        assert session.scalars(select(DeletionCertificate.id)).first() is not None
    assert Stage.PURGED in stages
