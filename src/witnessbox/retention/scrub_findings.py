"""The integrity scrub's findings: what a check found, and how it becomes a finding row.

Helpers of retention/scrub.py (findings made from problems, the summary the page and the metrics
read), kept apart so the service reads as the walk it is.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from witnessbox.audit.service import Subject
from witnessbox.core.ids import new_id
from witnessbox.evidence.stored import RecordedObject, recorded_hashes
from witnessbox.retention.scrub_models import FindingKind, PassMode, ScrubFinding, ScrubPass
from witnessbox.storage.base import StoredObject


@dataclass(frozen=True)
class Problem:
    """One thing found wrong with one stored object."""

    kind: FindingKind
    key: str
    detail: str
    recorded: RecordedObject | None = None
    found_sha256: str | None = None
    found_size: int | None = None


def still_unrecorded(session: Session, problems: list[Problem]) -> list[Problem]:
    """Drop orphans whose record has appeared since the listing was read (an upload finishing)."""
    orphans = [p.found_sha256 for p in problems if p.kind == FindingKind.ORPHAN and p.found_sha256]
    recorded = recorded_hashes(session, orphans)
    return [p for p in problems if not (p.kind == FindingKind.ORPHAN and p.found_sha256 in recorded)]


def audit_subject(finding: ScrubFinding) -> Subject:
    """An item's finding is audited under the item; an unrecorded object's under the finding."""
    return Subject("item", finding.item_id) if finding.item_id else Subject("scrub_finding", finding.id)


def derivative_id_of(problem: Problem) -> str | None:
    return problem.recorded.derivative_id if problem.recorded else None


def new_finding(problem: Problem, now: datetime) -> ScrubFinding:
    recorded = problem.recorded
    return ScrubFinding(
        id=new_id(),
        kind=problem.kind,
        key=problem.key,
        item_id=recorded.item_id if recorded else None,
        item_name=recorded.filename[:255] if recorded else None,
        derivative_id=derivative_id_of(problem),
        what=recorded_as(recorded),
        expected_sha256=recorded.sha256 if recorded else None,
        expected_size=recorded.size if recorded else None,
        found_sha256=problem.found_sha256,
        found_size=problem.found_size,
        detail=problem.detail,
        found_at=now,
        last_seen_at=now,
    )


def recorded_as(recorded: RecordedObject | None) -> str:
    if recorded is None:
        return "unrecorded object"
    return recorded.derivative_kind or "original"


def finding_details(finding: ScrubFinding) -> dict[str, object]:
    return {
        "kind": str(finding.kind),
        "key": finding.key,
        "what": finding.what,
        "item": finding.item_id,
        "expected_sha256": finding.expected_sha256,
        "expected_size": finding.expected_size,
        "found_sha256": finding.found_sha256,
        "found_size": finding.found_size,
    }


def missing_detail(recorded: RecordedObject) -> str:
    return f"the store has no object for this {recorded_as(recorded)} ({recorded.size} bytes recorded)"


def mismatch_detail(recorded: RecordedObject, found_sha256: str, found_size: int) -> str:
    return (
        f"re-read {found_size} bytes hashing to {found_sha256}; "
        f"the record says {recorded.size} bytes hashing to {recorded.sha256}"
    )


def orphan_detail(stored: StoredObject) -> str:
    if stored.sha256 is None:
        return f"a file of {stored.size} bytes that is not at any content address and that no record names"
    return f"an object of {stored.size} bytes that no item or derivative records"


@dataclass(frozen=True)
class ScrubSummary:
    """The "Storage integrity" panel: open findings, the last whole pass, the one under way."""

    open_by_kind: dict[str, int]
    acknowledged: int
    last_complete: ScrubPass | None
    running: ScrubPass | None

    @property
    def open(self) -> int:
        """Findings nobody has answered."""
        return sum(self.open_by_kind.values())


def summarise(session: Session) -> ScrubSummary:
    """Open findings by kind, answered ones still standing, the last whole pass and the one under way."""
    open_rows = session.execute(
        select(ScrubFinding.kind, func.count())
        .where(ScrubFinding.acknowledged_at.is_(None), ScrubFinding.cleared_at.is_(None))
        .group_by(ScrubFinding.kind)
    )
    by_kind = {str(kind): 0 for kind in FindingKind} | {str(k): int(n) for k, n in open_rows}
    acknowledged = session.scalar(
        select(func.count())
        .select_from(ScrubFinding)
        .where(ScrubFinding.acknowledged_at.is_not(None), ScrubFinding.cleared_at.is_(None))
    )
    return ScrubSummary(by_kind, int(acknowledged or 0), _last_complete(session), _running(session))


def pass_totals(session: Session) -> tuple[int, int, int]:
    """Objects re-read, bytes re-read and whole passes, over every pass ever run."""
    objects, read, passes = session.execute(
        select(
            func.coalesce(func.sum(ScrubPass.objects_checked), 0),
            func.coalesce(func.sum(ScrubPass.bytes_read), 0),
            func.count().filter(ScrubPass.complete.is_(True)),
        )
    ).one()
    return int(objects), int(read), int(passes)


def _last_complete(session: Session) -> ScrubPass | None:
    query = (
        select(ScrubPass).where(ScrubPass.complete.is_(True)).order_by(ScrubPass.finished_at.desc()).limit(1)
    )
    return session.scalars(query).first()


def _running(session: Session) -> ScrubPass | None:
    """The background pass under way (a command's pass belongs to its terminal, which may be gone)."""
    query = (
        select(ScrubPass)
        .where(ScrubPass.finished_at.is_(None), ScrubPass.mode == PassMode.BACKGROUND)
        .order_by(ScrubPass.started_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()
