"""The integrity scrub: re-read stored evidence, re-hash it, and reconcile the records with the store.

A pass has two phases. *Records*: every original (and derivative) the records list is re-read at
a limited rate and re-hashed; an object that is gone, unreadable or hashes differently becomes a
finding naming its item. *Store*: the store's listing is walked for objects no record accounts for
(files put there by hand), which are listed, never deleted. Nothing is ever rewritten: a finding
stays open until an administrator acknowledges it with a reason, or a later pass finds the object
whole again (restored from a copy). See docs/decisions/0024-integrity-scrub.md.

The periodic job runs a bounded slice of the background pass each tick, resuming from the cursor
its pass row keeps; `witnessbox storage scrub` runs a whole pass of its own in one go.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby, islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.accounts.policy import meaningful_reason
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, NotFound, TemporaryFailure
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.stored import RecordedObject, recorded_after, recorded_hashes
from witnessbox.retention.scrub_findings import (
    Problem,
    ScrubSummary,
    audit_subject,
    derivative_id_of,
    finding_details,
    mismatch_detail,
    missing_detail,
    new_finding,
    orphan_detail,
    pass_totals,
    still_unrecorded,
    summarise,
)
from witnessbox.retention.scrub_models import FindingKind, PassMode, Phase, ScrubFinding, ScrubPass
from witnessbox.storage.base import BlobNotFound, BlobStore, StorageError
from witnessbox.storage.throttle import Throttle, rehash_throttled

RECORDS_BATCH = 64  # recorded objects fetched at a time; progress is saved after each
SAVE_EVERY_S = 2.0  # ...or sooner, once re-reading has taken this long (big originals)
LISTING_BATCH = 500  # store keys reconciled at a time
FINDINGS_SHOWN = 500
Progress = Callable[[int, int], None]  # (bytes re-read so far, bytes the records list)


@dataclass(frozen=True)
class ScrubRules:
    """How hard and how often the background scrub works (Settings.scrub_*)."""

    rate_mbps: float  # re-read rate; 0 for no limit
    interval: timedelta  # from the start of one background pass to the start of the next
    slice_seconds: float  # the longest one periodic tick keeps a worker
    derivatives: bool = True  # proxies and thumbnails too, not only originals


class ScrubService:
    """Runs scrub passes and keeps their findings."""

    def __init__(
        self, db: Database, audit: AuditLog, clock: Clock, blobs: BlobStore, rules: ScrubRules
    ) -> None:
        self.db, self.audit, self.clock, self.blobs, self.rules = db, audit, clock, blobs, rules

    # --- running ---------------------------------------------------------------------------------

    def run_slice(self) -> ScrubPass | None:
        """One periodic tick: continue (or start, when due) the background pass for a bounded time."""
        pass_id = self._background_pass()
        if pass_id is None:
            return None
        deadline = time.monotonic() + self.rules.slice_seconds
        return self._advance(
            pass_id, Throttle.megabytes(self.rules.rate_mbps), lambda _checked: time.monotonic() >= deadline
        )

    def run_pass(
        self, *, rate_mbps: float | None = None, limit: int | None = None, progress: Progress | None = None
    ) -> ScrubPass:
        """A whole pass now (the command): its own cursor, so the background pass is left where it is.

        `limit` stops after re-reading that many objects (the pass is then recorded as incomplete).
        """
        pass_id = self._start_pass(PassMode.COMMAND)
        rate = self.rules.rate_mbps if rate_mbps is None else rate_mbps
        total = self._recorded_bytes() if progress else 0

        def stop(checked: int) -> bool:
            return limit is not None and checked >= limit

        def counted(row: ScrubPass) -> None:
            if progress:
                progress(row.bytes_read, total)

        return self._advance(pass_id, Throttle.megabytes(rate), stop, counted)

    def _background_pass(self) -> str | None:
        """The unfinished background pass, or a new one when the last started `interval` ago."""
        with self.db.read() as session:
            latest = session.scalars(
                select(ScrubPass)
                .where(ScrubPass.mode == PassMode.BACKGROUND)
                .order_by(ScrubPass.started_at.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.finished_at is None:
                return latest.id
            if latest is not None and self.clock.now() - latest.started_at < self.rules.interval:
                return None
        return self._start_pass(PassMode.BACKGROUND)

    def _start_pass(self, mode: PassMode) -> str:
        with self.db.transaction() as uow:
            row = ScrubPass(
                id=new_id(), mode=mode, phase=Phase.RECORDS, cursor="", started_at=self.clock.now()
            )
            uow.session.add(row)
        return row.id

    def _advance(
        self,
        pass_id: str,
        throttle: Throttle,
        stop: Callable[[int], bool],
        counted: Callable[[ScrubPass], None] | None = None,
    ) -> ScrubPass:
        """Walk the pass on from its cursor, a batch at least, until it is done or `stop` says so
        (asked with the objects re-read so far in this run); progress is saved after each batch."""
        checked = 0
        while True:
            row = self._row(pass_id)
            if row.phase == Phase.RECORDS:
                more, n = self._records_batch(pass_id, row.cursor, throttle, stop, done=checked)
                checked += n
            else:
                more = self._listing_batch(pass_id, row.cursor)
            if counted is not None:
                counted(self._row(pass_id))
            if not more:
                return self._finish(pass_id, complete=True)
            if stop(checked):
                break
        if row.mode == PassMode.COMMAND:
            return self._finish(pass_id, complete=False)
        return self._row(pass_id)

    def _row(self, pass_id: str) -> ScrubPass:
        with self.db.read() as session:
            row = session.get(ScrubPass, pass_id)
            assert row is not None
            return row

    # --- phase one: re-read what the records list -----------------------------------------------

    def _records_batch(
        self, pass_id: str, cursor: str, throttle: Throttle, stop: Callable[[int], bool], *, done: int
    ) -> tuple[bool, int]:
        """Re-read the next recorded objects, asking `stop` after each (with `done` + those re-read);
        (more to do, objects re-read)."""
        with self.db.read() as session:
            batch = recorded_after(session, cursor, RECORDS_BATCH, derivatives=self.rules.derivatives)
        if not batch:
            self._save(pass_id, Phase.STORE, "", [], set())  # the records are done: list the store next
            return True, 0
        problems: list[Problem] = []
        whole: set[str] = set()
        read_before, started = throttle.spent, time.monotonic()
        last, checked = cursor, 0
        for sha256, group in groupby(batch, key=lambda o: o.sha256):
            records = list(group)
            found = self._check(records, throttle)
            problems += found
            if not found:
                whole.add(sha256)
            last, checked = sha256, checked + len(records)
            if stop(done + checked) or time.monotonic() - started >= SAVE_EVERY_S:
                break
        tally = Tally(checked, 0, throttle.spent - read_before, time.monotonic() - started)
        self._save(pass_id, Phase.RECORDS, last, problems, whole, tally)
        return True, checked

    def _check(self, records: list[RecordedObject], throttle: Throttle) -> list[Problem]:
        """Re-hash one stored object and compare it with every record of it."""
        sha256 = records[0].sha256
        try:
            got = rehash_throttled(self.blobs, sha256, throttle)
        except BlobNotFound:
            return [Problem(FindingKind.MISSING, sha256, missing_detail(r), r) for r in records]
        except (StorageError, TemporaryFailure, OSError) as error:  # TemporaryFailure: the seam's EIO, 5xx
            detail = f"the store could not give the bytes back: {error}"
            return [Problem(FindingKind.UNREADABLE, sha256, detail, r) for r in records]
        return [
            Problem(
                FindingKind.MISMATCH,
                sha256,
                mismatch_detail(r, got.sha256, got.size),
                r,
                got.sha256,
                got.size,
            )
            for r in records
            if got.sha256 != sha256 or got.size != r.size
        ]

    # --- phase two: list the store for what no record accounts for ------------------------------

    def _listing_batch(self, pass_id: str, cursor: str) -> bool:
        """Reconcile the next stored keys with the records; False when the listing is exhausted."""
        objects = list(islice(self.blobs.listing(cursor), LISTING_BATCH))
        if not objects:
            return False
        with self.db.read() as session:
            known = recorded_hashes(session, [o.sha256 for o in objects if o.sha256])
        unknown = [o for o in objects if o.sha256 not in known]
        recorded = {o.key for o in objects if o.sha256 in known}
        problems = [
            Problem(FindingKind.ORPHAN, o.key, orphan_detail(o), found_sha256=o.sha256, found_size=o.size)
            for o in unknown
        ]
        self._save(pass_id, Phase.STORE, objects[-1].key, problems, recorded, Tally(0, len(objects), 0, 0.0))
        return True

    # --- saving: findings, clearances and the cursor in one transaction -------------------------

    def _save(
        self,
        pass_id: str,
        phase: Phase,
        cursor: str,
        problems: list[Problem],
        whole: set[str],
        tally: "Tally | None" = None,
    ) -> None:
        now = self.clock.now()
        with self.db.transaction() as uow:
            session = uow.session
            problems = still_unrecorded(session, problems)  # an ingest may have committed its row since
            row = session.get(ScrubPass, pass_id, with_for_update=True)
            assert row is not None
            row.phase, row.cursor = phase, cursor
            if tally is not None:
                row.objects_checked += tally.checked
                row.objects_listed += tally.listed
                row.bytes_read += tally.bytes_read
                row.read_seconds += tally.seconds
            row.problems += len(problems)
            for problem in problems:
                self._report(session, problem, now)
            self._clear(session, whole, phase, now)

    def _report(self, session: Session, problem: Problem, now: datetime) -> None:
        """Record a problem, or note that a known one is still there (no second entry, no second audit)."""
        known = session.scalars(
            select(ScrubFinding).where(
                ScrubFinding.key == problem.key,
                ScrubFinding.kind == problem.kind,
                ScrubFinding.cleared_at.is_(None),
            )
        ).all()
        for finding in known:
            if finding.found_sha256 == problem.found_sha256 and finding.derivative_id == derivative_id_of(
                problem
            ):
                finding.last_seen_at = now
                return
        finding = new_finding(problem, now)
        session.add(finding)
        self.audit.record(
            session,
            AuditTag.RETENTION_SCRUB_FOUND,
            actor=SYSTEM,
            subject=audit_subject(finding),
            details=finding_details(finding),
        )

    def _clear(self, session: Session, keys: set[str], phase: Phase, now: datetime) -> None:
        """Close the uncleared findings of objects now found whole (records) or recorded (store)."""
        if not keys:
            return
        kinds = (
            [FindingKind.ORPHAN]
            if phase == Phase.STORE
            else [FindingKind.MISSING, FindingKind.MISMATCH, FindingKind.UNREADABLE]
        )
        cleared = session.scalars(
            select(ScrubFinding).where(
                ScrubFinding.key.in_(keys), ScrubFinding.kind.in_(kinds), ScrubFinding.cleared_at.is_(None)
            )
        ).all()
        for finding in cleared:
            finding.cleared_at = now
            self.audit.record(
                session,
                AuditTag.RETENTION_SCRUB_CLEARED,
                actor=SYSTEM,
                subject=Subject("scrub_finding", finding.id),
                details={"kind": str(finding.kind), "key": finding.key, "item": finding.item_id},
            )

    def _finish(self, pass_id: str, *, complete: bool) -> ScrubPass:
        with self.db.transaction() as uow:
            row = uow.session.get(ScrubPass, pass_id, with_for_update=True)
            assert row is not None
            row.finished_at = self.clock.now()
            row.complete = complete
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_SCRUB_COMPLETED,
                actor=SYSTEM,
                subject=Subject("scrub_pass", row.id),
                details={
                    "mode": str(row.mode),
                    "complete": complete,
                    "objects_checked": row.objects_checked,
                    "objects_listed": row.objects_listed,
                    "bytes_read": row.bytes_read,
                    "problems": row.problems,
                },
            )
        return self._row(pass_id)

    def _recorded_bytes(self) -> int:
        with self.db.read() as session:
            total = 0
            cursor = ""
            while batch := recorded_after(session, cursor, 10_000, derivatives=self.rules.derivatives):
                total += sum(o.size for o in batch)
                cursor = batch[-1].sha256
            return total

    # --- reading and answering findings ---------------------------------------------------------

    def summary(self, *, actor: Actor) -> ScrubSummary:
        """What the administrator's "Storage integrity" panel shows."""
        require(actor, Permission.JOB_VIEW)
        return self.measures()

    def measures(self) -> ScrubSummary:
        """The same figures for the metrics endpoint (counts only, no names)."""
        with self.db.read() as session:
            return summarise(session)

    def totals(self) -> tuple[int, int, int]:
        """Objects re-read, bytes re-read and whole passes, over every pass ever run (metrics counters)."""
        with self.db.read() as session:
            return pass_totals(session)

    def findings(self, *, actor: Actor, closed: bool = False) -> list[ScrubFinding]:
        """The findings, newest first: open ones, or (closed=True) every one."""
        require(actor, Permission.JOB_VIEW)
        query = (
            select(ScrubFinding).order_by(ScrubFinding.found_at.desc(), ScrubFinding.id).limit(FINDINGS_SHOWN)
        )
        if not closed:
            query = query.where(ScrubFinding.acknowledged_at.is_(None), ScrubFinding.cleared_at.is_(None))
        with self.db.read() as session:
            return list(session.scalars(query))

    def acknowledge(self, finding_id: str, *, reason: str, actor: Actor) -> ScrubFinding:
        """An administrator's answer to a finding (what was done about it); the bytes stay as found."""
        require(actor, Permission.SCRUB_ACKNOWLEDGE)
        reason = meaningful_reason(reason)
        with self.db.transaction() as uow:
            finding = uow.session.get(ScrubFinding, finding_id, with_for_update=True)
            if finding is None:
                raise NotFound("no such finding")
            if finding.acknowledged_at is not None:
                raise Conflict(f"already acknowledged by {finding.acknowledged_by_name}")
            finding.acknowledged_at, finding.acknowledged_reason = self.clock.now(), reason
            finding.acknowledged_by, finding.acknowledged_by_name = actor.id, actor.name
            self.audit.record(
                uow.session,
                AuditTag.RETENTION_SCRUB_ACKNOWLEDGED,
                actor=actor,
                subject=Subject("scrub_finding", finding.id),
                details={
                    "kind": str(finding.kind),
                    "key": finding.key,
                    "item": finding.item_id,
                    "reason": reason,
                },
            )
        return finding


@dataclass(frozen=True)
class Tally:
    """What one batch added to its pass's counters."""

    checked: int
    listed: int
    bytes_read: int
    seconds: float
