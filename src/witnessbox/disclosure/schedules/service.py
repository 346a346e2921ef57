"""A case's disclosure schedules: drafted from the case's recordings, decided entry by entry, exported.

The schedule is never a list kept beside the case: it is the case's recordings as they are now,
joined to what has been decided about each, so nothing in the case can be missing from it. Rules
(CPIA Code of Practice, decision 0022): used material takes no decision; sensitive (MG6D) material
is never marked "disclose"; every decision states its reasons.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission, Role
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.models import Case
from witnessbox.cases.service import CaseService
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database, flush_unique
from witnessbox.disclosure.schedules.export import schedule_csv, schedule_pdf
from witnessbox.disclosure.schedules.models import Decision, ScheduleEntry, ScheduleKind
from witnessbox.disclosure.schedules.schemas import EntryIn, EntryOut, EntryStatus, ScheduleOut
from witnessbox.evidence.models import Item

RESTRICTED_DESCRIPTION = "Restricted material: professional standards hold it and decide on it"
USED_TAKES_NO_DECISION = (
    "used material is served with the prosecution case: "
    "it takes no disclosure decision (mark it unused first)"
)
SENSITIVE_NOT_DISCLOSED = (
    "sensitive (MG6D) material is not disclosed from the schedule: if it meets the test, mark it "
    "'do not disclose', say why in the reasons and refer it to the prosecutor (MG6E), or move it to "
    "MG6C once it can be disclosed without the harm"
)
NUMBER_PREFIX = {ScheduleKind.NON_SENSITIVE: "C", ScheduleKind.SENSITIVE: "D"}


@dataclass(frozen=True)
class ExportFile:
    """An exported schedule: its file name, media type and bytes."""

    filename: str
    media_type: str
    body: bytes


Describe = Callable[[datetime | None, str], str]  # a moment in the force's local time, in a style


class ScheduleService:
    """Drafting, deciding and reading a case's schedules of unused material."""

    def __init__(
        self, db: Database, audit: AuditLog, clock: Clock, cases: CaseService, local: Describe
    ) -> None:
        self.db, self.audit, self.clock, self.cases, self.local = db, audit, clock, cases, local

    def schedule(self, case_id: str, *, actor: Actor) -> ScheduleOut:
        """Every recording in the case, with its entry; for the case's members (complaints: PSD only)."""
        case = self.cases.get(case_id, actor=actor)
        with self.db.read() as session:
            rows = session.execute(self._rows(case, actor)).all()
        psd = actor.has_role(Role.PROFESSIONAL_STANDARDS)
        entries = _numbered(
            [self._entry(item, entry, hidden=item.restricted and not psd) for item, entry in rows]
        )
        return ScheduleOut(
            case_id=case.id,
            case_reference=case.reference,
            case_title=case.title,
            entries=entries,
            undecided=sum(e.status == EntryStatus.UNDECIDED for e in entries),
            may_decide=self.may_decide(actor),
        )

    @staticmethod
    def may_decide(actor: Actor) -> bool:
        """Whether the actor decides schedule entries (on the cases they may see)."""
        return decide(actor, Permission.SCHEDULE_DECIDE) == Access.ALLOW

    def decide_entry(self, case_id: str, item_id: str, entry: EntryIn, *, actor: Actor) -> EntryOut:
        """Record the entry for one recording of the case; audited with what it was before."""
        wanted = _checked(entry)
        require(actor, Permission.SCHEDULE_DECIDE)
        case = self.cases.get(case_id, actor=actor)
        now = self.clock.now()
        with self.db.transaction() as uow:
            item = self._item_of(uow.session, case, item_id, actor)
            row = uow.session.scalars(
                select(ScheduleEntry).where(
                    ScheduleEntry.case_id == case.id, ScheduleEntry.item_id == item.id
                )
            ).first()
            before = _snapshot(row)
            if before != wanted:
                row = row or ScheduleEntry(id=new_id(), case_id=case.id, item_id=item.id)
                _apply(row, wanted, actor, now)
                uow.session.add(row)
                flush_unique(
                    uow.session, "someone decided this entry at the same moment: reload and decide again"
                )
                self.audit.record(
                    uow.session,
                    AuditTag.DISCLOSURE_SCHEDULE_DECIDED,
                    actor=actor,
                    subject=Subject("item", item.id),
                    details={"case": case.reference, "before": before, "after": wanted},
                )
            return self._entry(item, row, hidden=False)

    def export_csv(self, case_id: str, *, actor: Actor) -> ExportFile:
        """Every entry as CSV (the case file's copy); audited as an export."""
        schedule = self._exported(case_id, "csv", actor=actor)
        name = f"{schedule.case_reference}-schedules.csv"
        return ExportFile(name, "text/csv; charset=utf-8", schedule_csv(schedule))

    def export_pdf(self, case_id: str, kind: ScheduleKind, *, actor: Actor) -> ExportFile:
        """One schedule of unused material as PDF, signed off with the actor's name and today; audited."""
        schedule = self._exported(case_id, f"pdf-{kind}", actor=actor)
        body = schedule_pdf(schedule, kind, actor.name, self.clock.now(), self.local)
        return ExportFile(f"{schedule.case_reference}-{kind.value.upper()}.pdf", "application/pdf", body)

    def _exported(self, case_id: str, kind: str, *, actor: Actor) -> ScheduleOut:
        """The schedule, read for an export that is audited as one (who took which copy, when)."""
        schedule = self.schedule(case_id, actor=actor)
        with self.db.transaction() as uow:
            self.audit.record(
                uow.session,
                AuditTag.DISCLOSURE_SCHEDULE_EXPORTED,
                actor=actor,
                subject=Subject("case", schedule.case_id),
                details={
                    "case": schedule.case_reference,
                    "export": kind,
                    "entries": len(schedule.entries),
                    "undecided": schedule.undecided,
                },
            )
        return schedule

    def _rows(self, case: Case, actor: Actor) -> Select[Item, ScheduleEntry]:
        in_case = self.cases.item_ids_query(case.id, actor)
        joined = and_(ScheduleEntry.item_id == Item.id, ScheduleEntry.case_id == case.id)
        return (
            select(Item, ScheduleEntry)
            .outerjoin(ScheduleEntry, joined)
            .where(Item.id.in_(in_case))
            .order_by(Item.recorded_start, Item.id)
        )

    def _item_of(self, session: Session, case: Case, item_id: str, actor: Actor) -> Item:
        """A recording of the case the actor may decide on; others are "not found", as ids reveal nothing."""
        in_case = self.cases.item_ids_query(case.id, actor)
        item = session.scalars(select(Item).where(Item.id == item_id, Item.id.in_(in_case))).first()
        if item is None or (item.restricted and not actor.has_role(Role.PROFESSIONAL_STANDARDS)):
            raise NotFound(f"no recording {item_id} in case {case.reference}")
        return item

    def _entry(self, item: Item, row: ScheduleEntry | None, *, hidden: bool) -> EntryOut:
        default = RESTRICTED_DESCRIPTION if hidden else self.default_description(item)
        shown = None if hidden or row is None else row
        return EntryOut(
            item_id=item.id,
            number="",
            reference=item.id[-8:] if hidden else reference(item),
            description=shown.description if shown and shown.description else default,
            described_by_default=not (shown and shown.description),
            recorded_start=None if hidden else item.recorded_start,
            officer=None if hidden else item.officer,
            camera=None if hidden else item.camera_serial,
            schedule=shown.schedule if shown else ScheduleKind.NON_SENSITIVE,
            used=shown.used if shown else False,
            decision=shown.decision if shown else None,
            reasons=shown.reasons if shown else "",
            decided_by=shown.decided_by_name if shown else None,
            decided_at=shown.decided_at if shown else None,
            status=_status(shown, hidden=hidden),
        )

    def default_description(self, item: Item) -> str:
        """What the recording is, from its own record: title or category, when, who, which camera."""
        what = item.title or (item.category and f"{item.category} footage") or "Body-worn video"
        who = item.officer or "an unattributed camera"
        length = (
            f", {round(item.duration_s // 60):d} min {round(item.duration_s % 60):d} s"
            if item.duration_s
            else ""
        )
        camera = f" on camera {item.camera_serial}" if item.camera_serial else ""
        return f"{what}: recorded by {who}{camera}, {self.local(item.recorded_start, 'minute')}{length}"


def reference(item: Item) -> str:
    """A recording's reference on a schedule: its short id, the force's crime and incident references."""
    parts = [item.id[-8:]]
    if item.crime_reference:
        parts.append(f"CR {item.crime_reference}")
    if item.incident_number:
        parts.append(f"INC {item.incident_number}")
    return " / ".join(parts)


def _checked(entry: EntryIn) -> dict[str, Any]:
    """The entry as it will be kept, refused with a reason a disclosure officer can act on."""
    reasons = " ".join(entry.reasons.split())
    description = (entry.description or "").strip() or None
    if entry.used and entry.decision is not None:
        raise InvalidInput(USED_TAKES_NO_DECISION)
    if entry.schedule == ScheduleKind.SENSITIVE and entry.decision == Decision.DISCLOSE:
        raise InvalidInput(SENSITIVE_NOT_DISCLOSED)
    if entry.decision is not None and not reasons:
        raise InvalidInput("give the reasons for the decision: the prosecutor reviews every one")
    return {
        "schedule": str(entry.schedule),
        "used": entry.used,
        "description": description,
        "decision": str(entry.decision) if entry.decision else None,
        "reasons": reasons if entry.decision or reasons else "",
    }


def _snapshot(row: ScheduleEntry | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "schedule": str(row.schedule),
        "used": row.used,
        "description": row.description,
        "decision": str(row.decision) if row.decision else None,
        "reasons": row.reasons,
    }


def _apply(row: ScheduleEntry, wanted: dict[str, Any], actor: Actor, now: datetime) -> None:
    row.schedule = ScheduleKind(wanted["schedule"])
    row.used = wanted["used"]
    row.description = wanted["description"]
    row.decision = Decision(wanted["decision"]) if wanted["decision"] else None
    row.reasons = wanted["reasons"]
    row.decided_by, row.decided_by_name, row.decided_at = actor.id, actor.name, now


def _status(row: ScheduleEntry | None, *, hidden: bool) -> EntryStatus:
    if hidden:
        return EntryStatus.RESTRICTED
    if row is not None and row.used:
        return EntryStatus.USED
    return EntryStatus.DECIDED if row is not None and row.decision else EntryStatus.UNDECIDED


def _numbered(entries: list[EntryOut]) -> list[EntryOut]:
    """Number each entry on its own schedule in recorded order (C1, C2 ...; D1 ...; used: U1 ...)."""
    counts: dict[str, int] = {}
    numbered = []
    for entry in entries:
        prefix = (
            "U"
            if entry.used
            else "R"
            if entry.status == EntryStatus.RESTRICTED
            else NUMBER_PREFIX[entry.schedule]
        )
        counts[prefix] = counts.get(prefix, 0) + 1
        numbered.append(entry.model_copy(update={"number": f"{prefix}{counts[prefix]}"}))
    return numbered
