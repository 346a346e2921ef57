"""The system administrator's home page: is the system well? Jobs, storage, the audit trail's last
signed checkpoint, and devices gone silent.

Administrators see no footage (shared/DOMAIN.md), so their start page is this instead of the
library. Read-only: a handful of aggregate queries and single rows.
"""

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.models import AuditCheckpoint, AuditEvent, AuditTimeStamp
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock, as_utc
from witnessbox.db.session import Database
from witnessbox.devices.overview import DeviceOverview, SilentDevice
from witnessbox.evidence.models import Derivative, Item
from witnessbox.jobs.models import JobRecord, JobState

FAILED_SHOWN = 10  # the latest failures listed by name; the count covers them all


@dataclass(frozen=True)
class JobHealth:
    """Jobs by state, those stuck past the sweep's limit, and the latest failures."""

    by_state: dict[str, int]
    stuck: int
    failed: list[JobRecord]


@dataclass(frozen=True)
class StorageHealth:
    """What the evidence takes up, and what is left where the data directory lives."""

    originals_bytes: int
    derivatives_bytes: int
    disk_free_bytes: int | None  # None when the disk cannot be asked (object storage elsewhere)
    disk_total_bytes: int | None


@dataclass(frozen=True)
class AuditHealth:
    """The audit trail's last signed checkpoint, and how far the trail has gone since."""

    checkpoint_seq: int | None
    signed_at: datetime | None
    age: timedelta | None
    entries: int
    overdue: bool  # entries wait unsealed and the checkpoint is older than twice the seal interval
    awaiting_time_stamp: int = 0  # checkpoints the time-stamping authority has not yet stamped


@dataclass(frozen=True)
class Measures:
    """The figures /metrics reads from the database at each scrape (every instance tells the same truth)."""

    jobs_by_state: dict[str, int]
    oldest_queued_age_s: float  # 0 when nothing waits
    storage: StorageHealth
    audit_entries: int
    last_checkpoint_at: datetime | None


@dataclass(frozen=True)
class SystemState:
    """Everything the administrator's home page shows."""

    jobs: JobHealth
    storage: StorageHealth
    audit: AuditHealth
    silent: list[SilentDevice]
    silent_days: int


class SystemOverview:
    """Builds the administrator's picture of the system."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        devices: DeviceOverview,
        *,
        data_dir: Path,
        stuck_after: timedelta,
        checkpoint_every: timedelta,
        time_stamps_expected: bool = False,
    ) -> None:
        self.db, self.clock, self.devices, self.data_dir = db, clock, devices, data_dir
        self.stuck_after, self.checkpoint_every = stuck_after, checkpoint_every
        self.time_stamps_expected = time_stamps_expected

    def state(self, *, actor: Actor, silent_days: int = 7) -> SystemState:
        """The system's state now; devices silent for `silent_days` (new ones are not silent)."""
        require(actor, Permission.JOB_VIEW)
        silent = self.devices.silent(actor=actor, days=silent_days)
        now = self.clock.now()
        with self.db.read() as session:
            return SystemState(
                jobs=self._jobs(session, now),
                storage=self._storage(session),
                audit=self._audit(session, now),
                silent=silent,
                silent_days=silent_days,
            )

    def measures(self) -> Measures:
        """The figures for the metrics scrape: a few aggregate reads, no actor (operators' endpoint)."""
        now = self.clock.now()
        with self.db.read() as session:
            counted = session.execute(select(JobRecord.state, func.count()).group_by(JobRecord.state))
            by_state = {str(state): int(n) for state, n in counted}
            oldest = session.scalar(
                select(func.min(JobRecord.created_at)).where(JobRecord.state == JobState.QUEUED)
            )
            mark = session.scalar(select(func.max(AuditCheckpoint.signed_at)))
            entries = int(session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)
            return Measures(
                jobs_by_state={str(state): int(by_state.get(state, 0)) for state in JobState},
                oldest_queued_age_s=max(0.0, (now - as_utc(oldest)).total_seconds()) if oldest else 0.0,
                storage=self._storage(session),
                audit_entries=entries,
                last_checkpoint_at=as_utc(mark) if mark else None,
            )

    def _jobs(self, session: Session, now: datetime) -> JobHealth:
        by_state = {
            str(state): int(n)
            for state, n in session.execute(select(JobRecord.state, func.count()).group_by(JobRecord.state))
        }
        stuck = session.scalar(
            select(func.count())
            .select_from(JobRecord)
            .where(
                or_(JobRecord.state == JobState.QUEUED, JobRecord.state == JobState.RUNNING),
                JobRecord.updated_at < now - self.stuck_after,
            )
        )
        failed = session.scalars(
            select(JobRecord)
            .where(JobRecord.state == JobState.FAILED)
            .order_by(JobRecord.updated_at.desc())
            .limit(FAILED_SHOWN)
        )
        return JobHealth({state: by_state.get(state, 0) for state in JobState}, int(stuck or 0), list(failed))

    def _storage(self, session: Session) -> StorageHealth:
        originals = session.scalar(select(func.coalesce(func.sum(Item.size), 0)))
        derivatives = session.scalar(select(func.coalesce(func.sum(Derivative.size), 0)))
        try:
            disk = shutil.disk_usage(self.data_dir)
        except OSError:
            return StorageHealth(int(originals or 0), int(derivatives or 0), None, None)
        return StorageHealth(int(originals or 0), int(derivatives or 0), disk.free, disk.total)

    def _audit(self, session: Session, now: datetime) -> AuditHealth:
        mark = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)).first()
        entries = int(session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)
        if mark is None:
            return AuditHealth(None, None, None, entries, overdue=False)  # the first one is on its way
        age = now - mark.signed_at
        unsealed = entries > mark.seq + 1  # beyond the checkpoint's own "signed" entry
        overdue = unsealed and age > 2 * self.checkpoint_every
        awaiting = self._awaiting_time_stamp(session) if self.time_stamps_expected else 0
        return AuditHealth(
            mark.seq, mark.signed_at, age, entries, overdue=overdue, awaiting_time_stamp=awaiting
        )

    def _awaiting_time_stamp(self, session: Session) -> int:
        stamped = select(AuditTimeStamp.checkpoint_id)
        waiting = select(func.count()).select_from(AuditCheckpoint).where(AuditCheckpoint.id.not_in(stamped))
        return int(session.scalar(waiting) or 0)
