"""The retention schedule: which rule an item falls under, when it is due, and what a change would do.

Due dates are stored on `ItemRetention` rows so that every queue (due soon, due now, recyclable) is
an indexed query. A row is recomputed when it goes stale: the item was (re)categorised, joined a
case, or one of its cases closed after the row was computed, or the schedule changed.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.models import Case, CaseItem, CaseKind
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock, as_utc
from witnessbox.core.errors import InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item, ItemState
from witnessbox.retention.models import ClockStart, ItemRetention, RetentionRule, Stage

UNCATEGORISED, NON_EVIDENTIAL, EVIDENTIAL, COMPLAINT = (
    "uncategorised",
    "non_evidential",
    "evidential",
    "complaint",
)
COLLEGE = "College of Policing APP, body-worn video: non-evidential footage kept about 31 days"
MOPI_2 = "College of Policing APP, information management (MoPI) group 2: review at 10 years"
MOPI_3 = "College of Policing APP, information management (MoPI) group 3: review at 6 years"
FORCE = "force default, no national period: six years after the complaint closes (set to PSD policy)"
SERIOUS = ("Domestic abuse", "Sexual offences", "Violence against the person")


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the schedule applies it."""

    retention_class: str
    period_days: int
    clock_start: ClockStart
    source: str = ""


DEFAULTS = (
    RuleSpec(UNCATEGORISED, 31, ClockStart.RECORDING, COLLEGE),
    RuleSpec(NON_EVIDENTIAL, 31, ClockStart.RECORDING, COLLEGE),
    RuleSpec(EVIDENTIAL, 2192, ClockStart.CATEGORISATION, MOPI_3),
    RuleSpec(COMPLAINT, 2192, ClockStart.CASE_CLOSURE, FORCE),
    *(RuleSpec(f"{EVIDENTIAL}:{name}", 3653, ClockStart.CATEGORISATION, MOPI_2) for name in SERIOUS),
)


@dataclass(frozen=True)
class ItemFacts:
    """What the schedule needs to know about one item."""

    item_id: str
    recorded_start: datetime
    evidential: bool | None
    category: str | None
    categorised_at: datetime | None
    in_complaint: bool
    case_closures: tuple[datetime | None, ...]  # one per case the item is in; None: still open


@dataclass(frozen=True)
class Effect:
    """What a schedule change would do to the items it covers."""

    retention_class: str
    items: int
    earlier: int
    later: int
    newly_due: int  # items that would be due at once (or already overdue)


def class_of(facts: ItemFacts, rules: dict[str, RuleSpec]) -> str:
    """The schedule line an item falls under."""
    if facts.in_complaint:
        return COMPLAINT
    if facts.evidential is None:
        return UNCATEGORISED
    if not facts.evidential:
        return NON_EVIDENTIAL
    specific = f"{EVIDENTIAL}:{facts.category}"
    return specific if specific in rules else EVIDENTIAL


def clock_start(facts: ItemFacts, rule: RuleSpec) -> datetime | None:
    """When the rule's period starts for this item; None while a case it waits for is open."""
    categorised = as_utc(facts.categorised_at or facts.recorded_start)
    if rule.clock_start == ClockStart.RECORDING:
        return as_utc(facts.recorded_start)
    if rule.clock_start == ClockStart.CATEGORISATION or not facts.case_closures:
        return categorised
    if any(closed is None for closed in facts.case_closures):
        return None
    return max(as_utc(closed) for closed in facts.case_closures if closed is not None)


def due_date(facts: ItemFacts, rule: RuleSpec, kept_until: datetime | None) -> datetime | None:
    """When the item is due for deletion under `rule` (never before a "keep" runs out)."""
    start = clock_start(facts, rule)
    if start is None:
        return None
    due = start + timedelta(days=rule.period_days)
    return max(due, as_utc(kept_until)) if kept_until else due


def stale_items() -> Select[str]:
    """Ids of ready items whose due date is missing or out of date, as a query."""
    row = ItemRetention
    changed_case = exists().where(
        CaseItem.item_id == Item.id,
        CaseItem.case_id == Case.id,
        or_(CaseItem.added_at >= row.computed_at, Case.closed_at >= row.computed_at),
    )
    return (
        select(Item.id)
        .outerjoin(row, row.item_id == Item.id)
        .where(Item.state == ItemState.READY)
        .where(
            or_(row.item_id.is_(None), row.categorised_at.is_distinct_from(Item.categorised_at), changed_case)
        )
    )


def facts_of(session: Session, item_ids: Iterable[str]) -> list[ItemFacts]:
    """The schedule's facts for these items, read in two queries."""
    ids = list(item_ids)
    closures: dict[str, list[tuple[CaseKind, datetime | None]]] = {}
    for item_id, kind, closed in session.execute(
        select(CaseItem.item_id, Case.kind, Case.closed_at)
        .join(Case, Case.id == CaseItem.case_id)
        .where(CaseItem.item_id.in_(ids))
    ):
        closures.setdefault(item_id, []).append((CaseKind(kind), closed))
    items = session.execute(
        select(Item.id, Item.recorded_start, Item.evidential, Item.category, Item.categorised_at).where(
            Item.id.in_(ids)
        )
    )
    return [
        ItemFacts(
            item_id=item_id,
            recorded_start=start,
            evidential=evidential,
            category=category,
            categorised_at=categorised,
            in_complaint=any(kind == CaseKind.COMPLAINT for kind, _ in closures.get(item_id, [])),
            case_closures=tuple(closed for _, closed in closures.get(item_id, [])),
        )
        for item_id, start, evidential, category, categorised in items
    ]


class RetentionSchedule:
    """Reads and changes the schedule; keeps every item's due date up to date."""

    BATCH = 500

    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self.db, self.audit, self.clock = db, audit, clock

    def rules(self, session: Session | None = None) -> dict[str, RuleSpec]:
        """The schedule in force: the saved rules, and the shipped defaults for any class not saved."""
        if session is None:
            with self.db.read() as own:
                return self.rules(own)
        saved = {
            rule.retention_class: RuleSpec(
                rule.retention_class, rule.period_days, ClockStart(rule.clock_start), rule.source
            )
            for rule in session.scalars(select(RetentionRule))
        }
        return {spec.retention_class: spec for spec in DEFAULTS} | saved

    def rules_for(self, *, actor: Actor) -> list[RuleSpec]:
        """The schedule in force, for those who run it or review deletions, in class order."""
        if decide(actor, Permission.RETENTION_REVIEW) != Access.ALLOW:
            require(actor, Permission.RETENTION_SCHEDULE)
        return sorted(self.rules().values(), key=lambda spec: spec.retention_class)

    def preview(self, change: RuleSpec, *, actor: Actor) -> Effect:
        """What saving `change` would do: how many items' due dates move, earlier or later."""
        require(actor, Permission.RETENTION_SCHEDULE)
        with self.db.read() as session:
            return self._effect(session, self._validated(session, change))

    def change(self, change: RuleSpec, *, actor: Actor) -> Effect:
        """Save one rule of the schedule (audited with its effect) and recompute the items it covers."""
        require(actor, Permission.RETENTION_SCHEDULE)
        now = self.clock.now()
        with self.db.transaction() as uow:
            change = self._validated(uow.session, change)
            before = self.rules(uow.session).get(change.retention_class)
            effect = self._effect(uow.session, change)
            self._save(uow.session, change, actor, now)
            self._recompute(uow.session, self._class_items(uow.session, change.retention_class), now)
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_SCHEDULE_CHANGED,
                actor=actor,
                subject=Subject("retention_rule", change.retention_class),
                details={
                    "before": _spec_dict(before),
                    "after": _spec_dict(change),
                    "items": effect.items,
                    "earlier": effect.earlier,
                    "later": effect.later,
                    "newly_due": effect.newly_due,
                },
            )
        return effect

    def refresh(self) -> int:
        """Compute the due date of every item whose date is missing or stale; how many were computed."""
        seen: set[str] = set()  # a case joined in the same instant as the computation stays "stale"
        while True:
            with self.db.transaction() as uow:
                ids = [
                    i
                    for i in uow.session.scalars(stale_items().limit(self.BATCH + len(seen)))
                    if i not in seen
                ]
                if not ids:
                    return len(seen)
                ids = ids[: self.BATCH]
                self._recompute(uow.session, ids, self.clock.now())
                seen.update(ids)

    def _validated(self, session: Session, change: RuleSpec) -> RuleSpec:
        known = self.rules(session)
        if change.retention_class not in known and not change.retention_class.startswith(f"{EVIDENTIAL}:"):
            raise NotFound(f"no retention class {change.retention_class!r}")
        if not 1 <= change.period_days <= 100 * 366:
            raise InvalidInput("a retention period is between 1 day and 100 years")
        return change

    def _class_items(self, session: Session, retention_class: str) -> list[str]:
        """The live items a change to this class may move (an evidential:<category> rule may take
        items from the evidential default)."""
        classes = {retention_class}
        if retention_class.startswith(f"{EVIDENTIAL}:"):
            classes.add(EVIDENTIAL)
        return list(
            session.scalars(
                select(ItemRetention.item_id).where(
                    ItemRetention.retention_class.in_(classes),
                    ItemRetention.stage.in_([Stage.SCHEDULED, Stage.WARNED]),
                )
            )
        )

    def _effect(self, session: Session, change: RuleSpec) -> Effect:
        rules = self.rules(session) | {change.retention_class: change}
        items = earlier = later = newly_due = 0
        now = self.clock.now()
        ids = self._class_items(session, change.retention_class)
        rows = {
            row.item_id: row
            for row in session.scalars(select(ItemRetention).where(ItemRetention.item_id.in_(ids)))
        }
        for facts in facts_of(session, ids):
            retention_class = class_of(facts, rules)
            if retention_class != change.retention_class:
                continue
            row = rows[facts.item_id]
            new = due_date(facts, rules[retention_class], row.kept_until)
            old = as_utc(row.due_at) if row.due_at else None
            items += 1
            if new != old:
                earlier += int(new is not None and (old is None or new < old))
                later += int(old is not None and (new is None or new > old))
                newly_due += int(new is not None and new <= now and (old is None or old > now))
        return Effect(change.retention_class, items, earlier, later, newly_due)

    def _save(self, session: Session, change: RuleSpec, actor: Actor, now: datetime) -> None:
        rule = session.scalars(
            select(RetentionRule).where(RetentionRule.retention_class == change.retention_class)
        ).first()
        if rule is None:
            rule = RetentionRule(id=new_id(), retention_class=change.retention_class)
            session.add(rule)
        rule.period_days, rule.clock_start = change.period_days, change.clock_start
        rule.source, rule.updated_at, rule.updated_by = change.source, now, actor.name

    def _recompute(self, session: Session, item_ids: list[str], now: datetime) -> None:
        rules = self.rules(session)
        rows = {
            row.item_id: row
            for row in session.scalars(select(ItemRetention).where(ItemRetention.item_id.in_(item_ids)))
        }
        for facts in facts_of(session, item_ids):
            row = rows.get(facts.item_id)
            if row is None:
                row = ItemRetention(
                    item_id=facts.item_id, stage=Stage.SCHEDULED, cycle=1, bytes_removed=False
                )
                session.add(row)
            elif row.stage not in (Stage.SCHEDULED, Stage.WARNED):
                row.categorised_at, row.computed_at = facts.categorised_at, now  # past the schedule's say
                continue
            retention_class = class_of(facts, rules)
            rule = rules[retention_class]
            row.retention_class, row.categorised_at, row.computed_at = (
                retention_class,
                facts.categorised_at,
                now,
            )
            row.clock_started_at = clock_start(facts, rule)
            row.due_at = due_date(facts, rule, row.kept_until)


def _spec_dict(spec: RuleSpec | None) -> dict[str, object] | None:
    if spec is None:
        return None
    return {"period_days": spec.period_days, "clock_start": str(spec.clock_start), "source": spec.source}
