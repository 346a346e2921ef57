"""Ten years of a force against a fake clock, one sweep a fortnight: thousands of recordings, random
categorisations, cases and complaints opening and closing, legal holds, subject access requests,
schedule changes, keeps and approvals. An oracle kept by the test itself (every hold's interval)
proves that no purged item was held at any moment of its recycle window; every evidential purge
was approved by two people other than its officer; every purge is certified and tombstoned; the
audit trail verifies at the end."""

import contextlib
import random
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.factories.people import make_force
from tests.factories.retention import records_managers
from witnessbox.bootstrap import build
from witnessbox.cases.models import CaseKind
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.core.clock import FixedClock, as_utc
from witnessbox.core.errors import NotFound
from witnessbox.evidence.categorise import Categorisation
from witnessbox.evidence.models import Item, ItemState
from witnessbox.evidence.service import ItemDraft
from witnessbox.retention.models import ClockStart, DeletionCertificate, ItemRetention, Stage
from witnessbox.retention.schedule import RuleSpec
from witnessbox.retention.subject_access import RequestDraft

START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
STEP_DAYS = 14  # one sweep a fortnight: the warning period, so no item skips its warning
STEPS = 261  # ten years
PER_STEP = 6
CATEGORIES = ["Theft", "Public order", "Domestic abuse", "Road traffic"]
OPEN = datetime.max.replace(tzinfo=UTC)


@dataclass
class Oracle:
    """Hold intervals per item, recorded by the test as it places and lifts them."""

    intervals: dict[str, list[list[datetime]]] = field(default_factory=lambda: defaultdict(list))

    def hold(self, item_ids: list[str], at: datetime) -> list[list[datetime]]:
        spans = [[at, OPEN] for _ in item_ids]
        for item_id, span in zip(item_ids, spans, strict=True):
            self.intervals[item_id].append(span)
        return spans

    @staticmethod
    def lift(spans: list[list[datetime]], at: datetime) -> None:
        for span in spans:
            span[1] = at

    def held_within(self, item_id: str, start: datetime, end: datetime) -> bool:
        return any(a <= end and b > start for a, b in self.intervals.get(item_id, []))


def _new_items(container, officer: Actor, now: datetime, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    with container.db.transaction() as uow:
        ids = []
        for _ in range(count):
            start = now - timedelta(hours=random.uniform(1, 100))
            draft = ItemDraft(sha256=secrets.token_hex(32), size=1000, filename="sim.mp4", camera_id=None,
                              camera_serial="WBX00001", dock_id=None, officer_id=officer.id, officer=officer.name,
                              team_id=min(officer.teams), recorded_start=start, upload_started_at=start)
            item = container.evidence.create_item(uow.session, draft, actor=SYSTEM)
            item.state = ItemState.READY
            ids.append(item.id)
    return ids


def test_ten_years_of_a_force(settings: Settings) -> None:
    """GIVEN a force recording every week for ten years, with everything that keeps footage going on
    WHEN the retention sweep runs every fortnight
    THEN nothing held was ever purged, evidential purges had two approvers, all purges are
    certified and tombstoned, and the audit trail verifies."""
    random.seed(20261206)
    began = time.monotonic()
    clock = FixedClock(START)
    container = build(settings.model_copy(update={"retention_warning_days": 14}), clock=clock)
    try:
        force = make_force(container)
        owner, investigator, psd = (force.actor(p) for p in ("owner", "investigator", "psd"))
        managers, oracle = records_managers(container), Oracle()
        uncategorised: list[str] = []
        cases: list[tuple[str, datetime, list[list[datetime]], Actor]] = []
        holds: list[tuple[str, list[list[datetime]]]] = []
        requests: list[tuple[str, datetime, list[list[datetime]]]] = []
        for week in range(STEPS):
            now = clock.now()
            uncategorised += _new_items(container, owner, now, PER_STEP)
            _categorise(container, owner, uncategorised)
            _cases(container, oracle, cases, investigator, psd, now, week)
            _holds(container, oracle, holds, managers[0], now)
            _requests(container, oracle, requests, managers[1], now, week)
            _schedule_changes(container, managers[0], week)
            _decide(container, owner, managers)
            container.retention.sweep()
            clock.advance(days=STEP_DAYS)
        container.retention.sweep()
        _check(container, oracle, owner)
        assert container.audit.verify().ok
        assert time.monotonic() - began < 240
    finally:
        container.close()


def _categorise(container, owner: Actor, pending: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Most recordings are categorised within a couple of weeks; some never are."""
    ready = [pending.pop(0) for _ in range(min(len(pending), PER_STEP)) if random.random() < 0.9]
    for item_id in ready:
        evidential = random.random() < 0.3
        change = Categorisation(evidential=evidential, category=random.choice(CATEGORIES) if evidential else None)
        with contextlib.suppress(NotFound):  # purged meanwhile, or restricted by a complaint
            container.categorise.categorise([item_id], change, actor=owner)


def _live_items(container, count: int, within: timedelta, now: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    with container.db.read() as session:
        ids = list(session.scalars(select(Item.id).where(
            Item.state == ItemState.READY, Item.restricted.is_(False), Item.recorded_start > now - within)))
    return random.sample(ids, min(count, len(ids)))


def _cases(container, oracle: Oracle, cases, investigator: Actor, psd: Actor, now: datetime,  # type: ignore[no-untyped-def]
           week: int) -> None:
    if random.random() < 0.15:
        complaint = random.random() < 0.2
        actor = psd if complaint else investigator
        kind = CaseKind.COMPLAINT if complaint else CaseKind.INVESTIGATION
        case = container.cases.create(f"C/{week}", "simulated", actor=actor, kind=kind)
        items = _live_items(container, 4, timedelta(days=25), now)
        if items:
            container.cases.add_items(case.id, items, actor=actor, reason="simulated incident review on Elm Road")
        cases.append((case.id, now + timedelta(days=random.randint(14, 400)), oracle.hold(items, now), actor))
    for entry in [c for c in cases if c[1] <= now]:
        container.cases.close(entry[0], actor=entry[3])
        oracle.lift(entry[2], now)
        cases.remove(entry)


def _holds(container, oracle: Oracle, holds, manager: Actor, now: datetime) -> None:  # type: ignore[no-untyped-def]
    if random.random() < 0.1:
        items = _live_items(container, 1, timedelta(days=60), now)
        if items:
            hold = container.holds.place(actor=manager, reason="civil claim", item_id=items[0])
            holds.append((hold.id, oracle.hold(items, now)))
    if holds and random.random() < 0.1:
        hold_id, spans = holds.pop(random.randrange(len(holds)))
        container.holds.release(hold_id, actor=manager, reason="claim settled")
        oracle.lift(spans, now)


def _requests(container, oracle: Oracle, requests, manager: Actor, now: datetime, week: int) -> None:  # type: ignore[no-untyped-def]
    if random.random() < 0.05:
        window = (now - timedelta(days=20), now - timedelta(days=18))
        request, items = container.subject_access.record(
            RequestDraft(f"SAR/{week}", "a member of the public", from_at=window[0], to_at=window[1]), actor=manager)
        requests.append((request.id, now + timedelta(days=28), oracle.hold(items, now)))
    for entry in [r for r in requests if r[1] <= now]:
        container.subject_access.close(entry[0], actor=manager)
        oracle.lift(entry[2], now)
        requests.remove(entry)


def _schedule_changes(container, manager: Actor, week: int) -> None:  # type: ignore[no-untyped-def]
    changes = {
        75: RuleSpec("non_evidential", 45, ClockStart.RECORDING, "force review"),
        100: RuleSpec("evidential:Theft", 700, ClockStart.CATEGORISATION, "force review"),
        150: RuleSpec("evidential", 900, ClockStart.CATEGORISATION, "force review"),
    }
    if week in changes:
        container.retention_schedule.change(changes[week], actor=manager)


def _decide(container, owner: Actor, managers: list[Actor]) -> None:  # type: ignore[no-untyped-def]
    """Reviewers approve warned evidential items; the owner keeps a few; now and then a recovery."""
    for entry in container.retention.queue(actor=managers[0]):
        if entry.held:
            continue
        if entry.stage == Stage.WARNED and entry.retention_class != "complaint" and random.random() < 0.05:
            container.retention.keep(entry.item_id, actor=owner, reason="still needed for a file")
        elif entry.stage == Stage.WARNED and entry.retention_class.startswith("evidential"):
            for manager in managers:
                if manager.name not in entry.approvals:
                    container.retention.approve(entry.item_id, actor=manager)
        elif entry.stage == Stage.RECYCLED and random.random() < 0.02:
            for manager in managers:
                container.retention.recover(entry.item_id, actor=manager, reason="found to be needed")


def _check(container, oracle: Oracle, owner: Actor) -> None:  # type: ignore[no-untyped-def]
    with container.db.read() as session:
        purged = {i.id: i for i in session.scalars(select(Item).where(Item.state == ItemState.PURGED))}
        certificates = {c.item_id: c for c in session.scalars(select(DeletionCertificate))}
        rows = {r.item_id: r for r in session.scalars(select(ItemRetention))}
        total = session.query(Item).count()
    assert total >= STEPS * PER_STEP and len(purged) > 800
    assert set(purged) == set(certificates)
    for item_id, certificate in certificates.items():
        row = rows[item_id]
        assert row.stage == Stage.PURGED and row.recycled_at is not None
        assert not oracle.held_within(item_id, as_utc(row.recycled_at), as_utc(certificate.purged_at)), item_id
        assert container.retention.verify_certificate(certificate)
        if certificate.retention_class.startswith("evidential") or certificate.retention_class == "complaint":
            approvers = {a["user_id"] for a in certificate.statement["approvers"]}
            assert len(approvers) >= 2 and owner.id not in approvers
    assert any(c.retention_class.startswith("evidential") for c in certificates.values())
    evidential = sum(c.retention_class != "non_evidential" and c.retention_class != "uncategorised"
                     for c in certificates.values())
    print(f"\nten years: {total} items, {len(purged)} purged ({evidential} with two approvers)")
