"""The composition root: reads Settings once and builds everything the entry points use."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from huey.api import Huey
from sqlalchemy.orm import Session

from witnessbox.accounts.passwords import PasswordPolicy
from witnessbox.accounts.service import UserService
from witnessbox.accounts.signin import SignInService
from witnessbox.accounts.sso import SsoConfig, SsoService, parse_role_map
from witnessbox.accounts.tokens import TokenService
from witnessbox.audit.anchoring import AuditAnchoring
from witnessbox.audit.anchors import AnchorDirectory
from witnessbox.audit.keyring import load_signer
from witnessbox.audit.sealer import AuditSealer
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.signing import DEFAULT_KEY_NAME, CheckpointSigner
from witnessbox.audit.tags import AuditTag
from witnessbox.audit.timestamps import TimeStampAuthority, load_certificates
from witnessbox.cases.service import CaseService
from witnessbox.cases.trawl import IncidentTrawl
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import Clock, SystemClock
from witnessbox.core.localtime import LocalTime, zone_named
from witnessbox.db.migrate import upgrade
from witnessbox.db.session import Database, make_engine
from witnessbox.devices.overview import DeviceOverview
from witnessbox.devices.service import DeviceService
from witnessbox.disclosure.holds import DisclosureHolds
from witnessbox.disclosure.mail import SmtpMailer
from witnessbox.disclosure.packages.jobs import register_package_jobs
from witnessbox.disclosure.packages.service import PackageService
from witnessbox.disclosure.portal import PortalRules
from witnessbox.disclosure.schedules.service import ScheduleService
from witnessbox.disclosure.service import ExternalShareService
from witnessbox.evidence.annotations import AnnotationService
from witnessbox.evidence.categorise import CategorisationService, CategoryRules
from witnessbox.evidence.counts import recordings_per_camera
from witnessbox.evidence.incidents import Rule
from witnessbox.evidence.live import LiveFeed
from witnessbox.evidence.proposals import IncidentFinder
from witnessbox.evidence.search import SearchService
from witnessbox.evidence.service import EvidenceService
from witnessbox.evidence.unattributed import UnattributedService
from witnessbox.ingest.jobs import register_ingest_jobs
from witnessbox.ingest.pipeline import Pipeline
from witnessbox.ingest.service import IngestService, UploadLimits
from witnessbox.ingest.staging import Staging
from witnessbox.jobs.huey_queue import HueyQueue, make_huey
from witnessbox.jobs.models import JobRecord, JobState
from witnessbox.jobs.runner import JobRunner, Lease
from witnessbox.redaction.jobs import register_redaction_jobs
from witnessbox.redaction.service import RedactionService
from witnessbox.reports.compliance import ComplianceService
from witnessbox.reports.system import SystemOverview
from witnessbox.retention.holds import HoldRules, HoldService
from witnessbox.retention.jobs import run_sweep
from witnessbox.retention.report import StorageReports
from witnessbox.retention.schedule import RetentionSchedule
from witnessbox.retention.scrub import ScrubRules, ScrubService
from witnessbox.retention.service import PathRules, RetentionService
from witnessbox.retention.subject_access import SubjectAccessService
from witnessbox.sharing.service import SharingService
from witnessbox.storage.base import BlobStore
from witnessbox.storage.factory import blob_store_from_url

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything built from one Settings: handed to the web app, the worker and the CLI."""

    settings: Settings
    clock: Clock
    db: Database
    audit: AuditLog
    anchoring: AuditAnchoring  # time-stamps and anchor copies of checkpoints; verify against them
    sealer: AuditSealer  # anchors the checkpoints signed every audit_seal_entries; beside the job workers
    users: UserService
    signin: SignInService
    tokens: TokenService
    devices: DeviceService
    evidence: EvidenceService
    ingest: IngestService
    sharing: SharingService
    cases: CaseService
    sso: SsoService | None  # single sign-on; None unless an identity provider is configured
    categorise: CategorisationService
    compliance: ComplianceService
    jobs: JobRunner
    huey: Huey
    search: SearchService
    annotations: AnnotationService
    unattributed: UnattributedService
    live: LiveFeed
    incidents: IncidentFinder
    fleet: DeviceOverview  # read-only views of cameras and docks for administrators
    system: SystemOverview  # the administrator's home page
    packages: PackageService  # disclosure packages: signed ZIPs built by a job under data/packages
    schedules: ScheduleService  # a case's disclosure schedules (MG6C, MG6D)
    trawl: IncidentTrawl  # other cameras at a case's incident
    external_shares: ExternalShareService  # sharing outside the force and the recipient portal
    scrub: ScrubService  # integrity scrub of stored evidence: re-reads, re-hashes, reconciles (0024)
    retention: RetentionService  # the deletion path: review queue, approvals, recycle window, purge
    retention_schedule: RetentionSchedule  # the schedule and every item's due date
    holds: HoldService  # manual legal holds; automatic holds are rules in retention/holds.py
    subject_access: SubjectAccessService  # subject access requests, whose items are held while open
    storage_report: StorageReports  # kept footage by category and class, and what falls due when
    redaction: RedactionService  # redaction plans, face detection and renders of redacted copies (0026)

    def close(self) -> None:
        """Release connections."""
        self.db.engine.dispose()


def build(
    settings: Settings, *, clock: Clock | None = None, migrate: bool = True, signing: bool = True
) -> Container:
    """Wire the system for these settings (migrating the database to the latest schema first).

    `signing=False` builds it to prove the audit trail only (`audit verify`, `audit proof`): the
    checkpoint key is neither needed nor adopted, so an examiner can verify a copy without it.
    """
    clock = clock or SystemClock()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(make_engine(settings.resolved_database_url()))
    if migrate:
        upgrade(db.engine)
        db.refresh_statistics()
    audit = _audit(settings, db, clock, data_dir) if signing else _proving_audit(db, clock, data_dir)
    blobs = blob_store_from_url(settings.resolved_storage_url())
    evidence = EvidenceService(db, audit, blobs, clock)
    cases = CaseService(db, audit, clock, evidence)
    lease = Lease(heartbeat_s=settings.job_heartbeat_s, expires_after_s=settings.job_lease_s)
    jobs = JobRunner(db, clock, on_finished=lambda s, job: _audit_job(audit, s, job), lease=lease)
    limits = UploadLimits(settings.max_upload_bytes, timedelta(hours=settings.upload_expiry_hours))
    ingest = IngestService(db, audit, clock, Staging(data_dir / "uploads"), blobs, evidence, jobs, limits)
    register_ingest_jobs(jobs, Pipeline(evidence, blobs, data_dir / "scratch"))
    anchoring = _anchoring(settings, db, audit)
    packages = PackageService(
        db, audit, clock, evidence, cases, blobs, jobs, data_dir / "packages", anchor=anchoring.anchor_pending
    )
    register_package_jobs(jobs, packages)
    redaction = RedactionService(db, audit, clock, evidence, blobs, jobs, data_dir / "scratch" / "redaction")
    register_redaction_jobs(jobs, redaction)
    huey = make_huey(settings.resolved_queue_url(), name=settings.queue_name)
    queue = HueyQueue(huey, jobs)
    _schedule_housekeeping(queue, settings, db, jobs, ingest, anchoring)
    scrub = _scrub(settings, db, audit, clock, blobs, queue)
    passwords = PasswordPolicy()
    users = UserService(db, audit, clock, passwords)
    retention = _retention(settings, db, audit, clock, blobs, users, evidence)
    queue.every(settings.retention_sweep_minutes, "witnessbox.retention_sweep", lambda: run_sweep(retention))
    tokens = TokenService(db, audit, clock)
    fleet = DeviceOverview(db, clock, recordings_per_camera)
    system = SystemOverview(
        db,
        clock,
        fleet,
        data_dir=data_dir,
        stuck_after=timedelta(minutes=settings.stuck_job_minutes),
        checkpoint_every=timedelta(seconds=settings.audit_seal_seconds),
        time_stamps_expected=settings.audit_tsa_url is not None,
    )
    return Container(
        settings=settings,
        fleet=fleet,
        system=system,
        packages=packages,
        clock=clock,
        db=db,
        audit=audit,
        anchoring=anchoring,
        sealer=AuditSealer(anchoring, entries=settings.audit_seal_entries),
        users=users,
        signin=SignInService(db, audit, clock, passwords),
        tokens=tokens,
        devices=DeviceService(db, audit, clock, tokens),
        evidence=evidence,
        ingest=ingest,
        sharing=SharingService(db, audit, clock, evidence, users),
        cases=cases,
        search=SearchService(db, clock, case_scope=cases.item_ids_query, audit=audit),
        annotations=AnnotationService(db, audit, clock, evidence),
        unattributed=UnattributedService(db, audit, clock),
        live=LiveFeed(db, clock),
        incidents=IncidentFinder(
            db, clock, evidence, Rule(settings.incident_distance_m, settings.incident_time_window_s)
        ),
        compliance=ComplianceService(db, audit, clock, users),
        categorise=CategorisationService(db, audit, clock, evidence, _category_rules(settings)),
        jobs=jobs,
        huey=huey,
        sso=_sso(settings, db, audit, clock),
        schedules=ScheduleService(db, audit, clock, cases, LocalTime(zone_named(settings.time_zone)).format),
        trawl=IncidentTrawl(
            db, audit, clock, cases, Rule(settings.incident_distance_m, settings.incident_time_window_s)
        ),
        external_shares=_external_shares(settings, db, audit, clock, evidence, cases),
        scrub=scrub,
        retention=retention,
        retention_schedule=retention.schedule,
        holds=HoldService(db, audit, clock, retention.holds),
        subject_access=SubjectAccessService(db, audit, clock),
        storage_report=StorageReports(db, clock, retention.holds),
        redaction=redaction,
    )


def _scrub(
    settings: Settings, db: Database, audit: AuditLog, clock: Clock, blobs: BlobStore, queue: HueyQueue
) -> ScrubService:
    """The integrity scrub, and its periodic slice unless the force turned it off (every 0 minutes)."""
    rules = ScrubRules(
        rate_mbps=settings.scrub_rate_mbps,
        interval=timedelta(hours=settings.scrub_interval_hours),
        slice_seconds=settings.scrub_slice_seconds,
        derivatives=settings.scrub_derivatives,
    )
    scrub = ScrubService(db, audit, clock, blobs, rules)
    if settings.scrub_every_minutes:
        queue.every(settings.scrub_every_minutes, "witnessbox.scrub", scrub.run_slice)
    return scrub


def _retention(settings: Settings, db: Database, audit: AuditLog, clock: Clock, blobs: BlobStore,
               users: UserService, evidence: EvidenceService) -> RetentionService:
    """The schedule and the deletion path with the force's periods (decision 0023)."""
    path = PathRules(
        warning=timedelta(days=settings.retention_warning_days),
        recycle=timedelta(days=settings.retention_recycle_days),
        keep=timedelta(days=settings.retention_keep_days),
    )
    holds = HoldRules(sources=(DisclosureHolds(timedelta(days=settings.retention_package_hold_days)),))
    schedule = RetentionSchedule(db, audit, clock)
    return RetentionService(db, audit, clock, blobs, users, evidence, schedule, path, holds)


def _external_shares(
    settings: Settings,
    db: Database,
    audit: AuditLog,
    clock: Clock,
    evidence: EvidenceService,
    cases: CaseService,
) -> ExternalShareService:
    """Sharing outside the force: e-mail when SMTP is configured, the portal's throttle and lifetimes."""
    mailer = None
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        mailer = SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                            settings.smtp_username, password, settings.smtp_starttls)
    rules = PortalRules(
        code_attempts=settings.portal_code_attempts,
        lock=timedelta(minutes=settings.portal_lock_minutes),
        address_attempts=settings.portal_address_attempts,
        session=timedelta(hours=settings.portal_session_hours),
        investigators_may_disclose=settings.investigators_may_disclose,
    )
    return ExternalShareService(db, audit, clock, evidence, cases, mailer, rules)


def _category_rules(settings: Settings) -> CategoryRules:
    """The force's offence categories and reference formats."""
    return CategoryRules.from_patterns(
        settings.offence_categories, settings.incident_number_pattern, settings.crime_reference_pattern
    )


def _sso(settings: Settings, db: Database, audit: AuditLog, clock: Clock) -> SsoService | None:
    """Sign-in through the identity provider when one is configured; a half-configured one is refused."""
    if not settings.oidc_issuer:
        return None
    if not settings.oidc_client_id or settings.oidc_client_secret is None:
        raise ValueError(
            "WITNESSBOX_OIDC_ISSUER is set: "
            "set WITNESSBOX_OIDC_CLIENT_ID and WITNESSBOX_OIDC_CLIENT_SECRET too"
        )
    config = SsoConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        display_name=settings.oidc_display_name,
        scopes=settings.oidc_scopes,
        groups_claim=settings.oidc_groups_claim,
        collar_claim=settings.oidc_collar_claim,
        role_map=parse_role_map(settings.oidc_role_map),
        create_users=settings.oidc_create_users,
    )
    return SsoService(db, audit, clock, config)


def _audit(settings: Settings, db: Database, clock: Clock, data_dir: Path) -> AuditLog:
    """The audit trail with the configured checkpoint key, adopted (a new key takes over, audited)."""
    signer = load_signer(settings.audit_signing_key, data_dir=data_dir)
    audit = AuditLog(db, clock, signer, seal_entries=settings.audit_seal_entries)
    keys = data_dir / "keys"  # where the key lived before it could live apart: its checkpoints stay valid
    legacy = CheckpointSigner.from_directory(keys) if (keys / DEFAULT_KEY_NAME).exists() else None
    audit.adopt_signer(actor=SYSTEM, legacy=legacy, takes_over=settings.audit_signing_key is not None)
    return audit


def _proving_audit(db: Database, clock: Clock, data_dir: Path) -> AuditLog:
    """The audit trail for proving only: the recorded keys do the verifying; a throwaway key stands in
    for the signer (the data directory's own, if there is one, for trails from before keys had periods)."""
    keys = data_dir / "keys"
    if (keys / DEFAULT_KEY_NAME).exists():
        return AuditLog(db, clock, CheckpointSigner.from_directory(keys))
    return AuditLog(db, clock, CheckpointSigner(Ed25519PrivateKey.generate()))


def _anchoring(settings: Settings, db: Database, audit: AuditLog) -> AuditAnchoring:
    """Where checkpoints are anchored: the force's time-stamping authority and the anchor directory."""
    certificate = settings.audit_tsa_certificate
    return AuditAnchoring(
        db,
        audit,
        authority=TimeStampAuthority(settings.audit_tsa_url) if settings.audit_tsa_url else None,
        authority_roots=load_certificates(certificate) if certificate else [],
        directory=AnchorDirectory(settings.audit_anchor_dir) if settings.audit_anchor_dir else None,
    )


def _audit_job(audit: AuditLog, session: Session, job: JobRecord) -> None:
    tag = AuditTag.JOB_RUN_SUCCEEDED if job.state == JobState.SUCCEEDED else AuditTag.JOB_RUN_FAILED
    audit.record(
        session,
        tag,
        actor=SYSTEM,
        subject=Subject("job", job.id),
        details={
            "kind": job.kind,
            "subject": job.subject_id,
            "attempts": job.attempts,
            "outcome": job.outcome,
            "error": job.error,
        },
    )


def _schedule_housekeeping(
    queue: HueyQueue,
    settings: Settings,
    db: Database,
    jobs: JobRunner,
    ingest: IngestService,
    anchoring: AuditAnchoring,
) -> None:
    stuck_after = timedelta(minutes=settings.stuck_job_minutes)
    queue.every(5, "witnessbox.requeue_stuck", lambda: jobs.requeue_stuck(stuck_after))
    queue.every(15, "witnessbox.expire_uploads", ingest.expire)
    queue.every(60, "witnessbox.refresh_statistics", db.refresh_statistics)
    queue.every(
        settings.audit_seal_seconds // 60,
        "witnessbox.audit_seal",
        lambda: anchoring.seal_and_anchor(actor=SYSTEM),
    )
