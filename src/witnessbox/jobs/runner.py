"""Running jobs: the persisted JobRecord is the truth, the queue only carries job ids.

A job is enqueued inside the transaction that needs it and sent to the queue only
after that transaction commits. Running it is idempotent: a finished job ignores
repeats, a failed attempt is retried with a delay up to its limit. A running job
holds a lease that its worker renews (heartbeat); a job whose lease expired (its
worker was killed) is taken back, its scratch files removed and sent again; a
periodic sweep re-sends what is still left queued or running for long.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from witnessbox.core.clock import Clock
from witnessbox.core.errors import TemporaryFailure
from witnessbox.core.ids import new_id
from witnessbox.core.logs import job_context
from witnessbox.db.session import Database, UnitOfWork
from witnessbox.jobs.models import JobRecord, JobState

log = logging.getLogger(__name__)

Progress = Callable[[float], None]
Handler = Callable[[str, Progress], str]
Finished = Callable[[Session, JobRecord], None]
RETRY_DELAYS_S = (5, 30, 120, 600)
WAIT_LIMIT_S = 600.0  # the longest wait between tries of a job postponed for storage

class JobQueue(Protocol):
    """The transport: delivers a job id to some worker, now or after a delay."""

    def send(self, job_id: str, delay_s: float = 0) -> None: ...


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job: its handler and what to do when it finally fails."""

    handler: Handler
    max_attempts: int = 3
    on_give_up: Callable[[str, str], None] | None = None
    on_reclaim: Callable[[str], None] | None = None  # remove what a killed attempt left (scratch files)


@dataclass(frozen=True)
class Lease:
    """How often a worker renews the lease of a job it runs, and how long a silent lease lasts."""

    heartbeat_s: float = 15.0
    expires_after_s: float = 45.0


class JobRunner:
    """Creates, runs, retries and recovers jobs."""

    def __init__(
        self, db: Database, clock: Clock, on_finished: Finished | None = None, lease: Lease | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.kinds: dict[str, JobKind] = {}
        self.queue: JobQueue | None = None
        self.on_finished = on_finished
        self.lease = lease or Lease()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._running: set[str] = set()
        self._running_lock = threading.Lock()

    def register(self, kind: str, job: JobKind) -> None:
        """Make a kind of job runnable."""
        self.kinds[kind] = job

    def enqueue(self, uow: UnitOfWork, kind: str, subject_id: str | None) -> JobRecord:
        """Create a job row in this transaction; send it to the queue after commit."""
        now = self.clock.now()
        job = JobRecord(
            id=new_id(),
            kind=kind,
            subject_id=subject_id,
            state=JobState.QUEUED,
            attempts=0,
            max_attempts=self.kinds[kind].max_attempts,
            progress=0.0,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(job)
        uow.after_commit(lambda: self._send(job.id))
        return job

    def _send(self, job_id: str, delay_s: float = 0) -> None:
        if self.queue is None:
            raise RuntimeError("no job queue attached")
        self.queue.send(job_id, delay_s)

    def run(self, job_id: str) -> JobState | None:
        """Run one job to an outcome; never raises for the handler's failures (its log lines carry its id)."""
        with job_context(job_id):
            return self._run(job_id)

    def _run(self, job_id: str) -> JobState | None:
        started = self._start(job_id)
        if started is None:
            return None
        with self._running_lock:
            self._running.add(job_id)
        try:
            return self._attempt(job_id, *started)
        finally:
            with self._running_lock:
                self._running.discard(job_id)

    def _attempt(self, job_id: str, kind: str, subject_id: str | None, attempt: int) -> JobState:
        try:
            log.info("job %s (%s) attempt %s started", job_id, kind, attempt)
            outcome = self.kinds[kind].handler(subject_id or "", self._progress_writer(job_id))
        except TemporaryFailure as error:
            log.warning("job %s (%s) must wait: %s", job_id, kind, error.reason)
            return self._postpone(job_id, error)
        except Exception as error:
            log.exception("job %s (%s) attempt %s failed", job_id, kind, attempt)
            return self._fail(job_id, f"{type(error).__name__}: {error}")
        log.info("job %s (%s) succeeded: %s", job_id, kind, outcome)
        return self._finish(job_id, JobState.SUCCEEDED, outcome=outcome)

    def _start(self, job_id: str) -> tuple[str, str | None, int] | None:
        with self.db.transaction() as uow:
            job = uow.session.get(JobRecord, job_id, with_for_update=True)
            # Only a queued job starts: a second delivery of its id (the stuck sweep re-sends a job
            # still waiting behind a backlog) finds it running elsewhere, or done, and leaves it.
            if job is None or job.state != JobState.QUEUED:
                if job is not None and job.state == JobState.RUNNING:
                    log.info("job %s is already running on %s; this delivery is dropped", job_id, job.worker)
                return None
            job.state, job.attempts = JobState.RUNNING, job.attempts + 1
            job.started_at = job.updated_at = job.heartbeat_at = self.clock.now()
            job.worker = self.worker
            return job.kind, job.subject_id, job.attempts

    def _progress_writer(self, job_id: str) -> Progress:
        def write(fraction: float) -> None:
            with self.db.transaction() as uow:
                uow.session.execute(
                    update(JobRecord)
                    .where(JobRecord.id == job_id)
                    .values(progress=max(0.0, min(1.0, fraction)), updated_at=self.clock.now())
                )

        return write

    def _postpone(self, job_id: str, error: TemporaryFailure) -> JobState:
        """Run again later without using up an attempt: waiting for disk space is not the job failing.

        The wait backs off: half as long as the job has existed, at least what the error asks and at
        most WAIT_LIMIT_S, so a store that is down for hours is not asked every few seconds.
        """
        with self.db.transaction() as uow:
            job = uow.session.get(JobRecord, job_id, with_for_update=True)
            assert job is not None
            now = self.clock.now()
            job.state, job.error, job.updated_at = JobState.QUEUED, error.reason, now
            job.attempts = max(0, job.attempts - 1)
            waited = (now - job.created_at).total_seconds()
            delay = max(float(error.retry_after_s), min(waited / 2, WAIT_LIMIT_S))
            uow.after_commit(lambda: self._send(job_id, delay))
        return JobState.QUEUED

    def _fail(self, job_id: str, error: str) -> JobState:
        with self.db.transaction() as uow:
            job = uow.session.get(JobRecord, job_id, with_for_update=True)
            assert job is not None
            if job.attempts < job.max_attempts:
                job.state, job.error, job.updated_at = JobState.QUEUED, error, self.clock.now()
                delay = RETRY_DELAYS_S[min(job.attempts - 1, len(RETRY_DELAYS_S) - 1)]
                uow.after_commit(lambda: self._send(job_id, delay))
                return JobState.QUEUED
        give_up = self.kinds[job.kind].on_give_up
        if give_up is not None:
            give_up(job.subject_id or "", error)
        return self._finish(job_id, JobState.FAILED, error=error)

    def _finish(
        self, job_id: str, state: JobState, *, outcome: str | None = None, error: str | None = None
    ) -> JobState:
        with self.db.transaction() as uow:
            job = uow.session.get(JobRecord, job_id, with_for_update=True)
            assert job is not None
            job.state, job.outcome, job.progress = state, outcome, 1.0
            job.error = error if state == JobState.FAILED else job.error
            job.finished_at = job.updated_at = self.clock.now()
            if self.on_finished is not None:
                self.on_finished(uow.session, job)
        return state

    def requeue_stuck(self, older_than: timedelta) -> list[str]:
        """Re-send jobs left queued or running longer than `older_than` (a worker died)."""
        cutoff = self.clock.now() - older_than
        with self.db.transaction() as uow:
            stuck = list(
                uow.session.scalars(
                    select(JobRecord)
                    .where(
                        or_(JobRecord.state == JobState.QUEUED, JobRecord.state == JobState.RUNNING),
                        JobRecord.updated_at < cutoff,
                    )
                    .with_for_update()
                )
            )
            for job in stuck:
                job.state, job.updated_at = JobState.QUEUED, self.clock.now()
                uow.after_commit(partial(self._send, job.id))
        return [job.id for job in stuck]

    def heartbeat(self) -> None:
        """Renew the lease of every job this process is running (and keep the stuck-job sweep off them)."""
        with self._running_lock:
            running = list(self._running)
        if not running:
            return
        now = self.clock.now()
        with self.db.transaction() as uow:
            uow.session.execute(
                update(JobRecord)
                .where(
                    JobRecord.id.in_(running),
                    JobRecord.worker == self.worker,
                    JobRecord.state == JobState.RUNNING,
                )
                .values(heartbeat_at=now, updated_at=now)
            )

    def reclaim_expired(self) -> list[str]:
        """Take back running jobs whose worker stopped renewing the lease: clean up, then run them again.

        The killed attempt counts as one; a job that kills its worker on every attempt gives up.
        """
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.lease.expires_after_s)
        silent = or_(
            JobRecord.heartbeat_at < cutoff,
            and_(JobRecord.heartbeat_at.is_(None), JobRecord.updated_at < cutoff),
        )
        with self.db.transaction() as uow:
            expired = list(
                uow.session.scalars(
                    select(JobRecord)
                    .where(JobRecord.state == JobState.RUNNING, silent)
                    .with_for_update(skip_locked=True)
                )
            )
            for job in expired:
                reason = f"worker {job.worker} stopped answering during attempt {job.attempts}"
                log.warning("job %s (%s): %s; taking it back", job.id, job.kind, reason)
                job.state, job.worker, job.error, job.updated_at = JobState.QUEUED, None, reason, now
                retry = job.attempts < job.max_attempts
                take_back = partial(self._take_back, job.id, job.kind, job.subject_id or "", reason, retry)
                uow.after_commit(take_back)
        return [job.id for job in expired]

    def _take_back(self, job_id: str, kind: str, subject_id: str, reason: str, retry: bool) -> None:
        # Clean up before sending: the next attempt must not find (or lose) the old one's files.
        job_kind = self.kinds.get(kind)
        if job_kind is not None and job_kind.on_reclaim is not None:
            job_kind.on_reclaim(subject_id)
        if retry:
            self._send(job_id)
            return
        if job_kind is not None and job_kind.on_give_up is not None:
            job_kind.on_give_up(subject_id, reason)
        self._finish(job_id, JobState.FAILED, error=reason)
