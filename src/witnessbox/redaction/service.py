"""Use cases for redaction: read and save versioned plans, find faces, follow a region, preview, render.

Every use case asks the policy first (editing redactions, and playing the item), and every change
is audited in its own transaction. Finding faces and rendering are jobs (redaction/jobs.py); the
detection saves its tracks as a new plan version, the render stores a "redacted" derivative that
records the plan, the face model's hash and every software version (decision 0026).
"""

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from witnessbox import __version__
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM, Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, NotFound, io_failure
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import DerivativeKind, Item, ItemState
from witnessbox.evidence.service import DerivativeDraft, EvidenceService
from witnessbox.jobs.models import JobRecord
from witnessbox.jobs.runner import JobRunner, Progress
from witnessbox.media.errors import MediaError
from witnessbox.media.redact import PADDING, preview_frame, render, versions
from witnessbox.redaction.models import DetectionRun, PlanVersion, Render, RunState
from witnessbox.redaction.plans import InvalidPlan, checked, empty_plan, with_detected
from witnessbox.redaction.schemas import DetectionOut, MediaOut, RedactionOut, RenderOut
from witnessbox.storage import BlobStore
from witnessbox.storage.base import readable_path, store_file

if TYPE_CHECKING:  # the face modules load onnxruntime and OpenCV: imported where faces are worked on
    from witnessbox.media import facetracks

DETECT_FACES = "redaction.detect_faces"
RENDER_REDACTED = "redaction.render"
RENDERS_SHOWN = 20
Run = TypeVar("Run", DetectionRun, Render)


def plan_sha256(plan: dict[str, Any]) -> str:
    """SHA-256 of the plan's canonical JSON (sorted keys, no spaces): names a plan in the audit trail."""
    return hashlib.sha256(json.dumps(plan, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RedactionService:
    """Redaction plans, face detection and renders of one item at a time."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        evidence: EvidenceService,
        blobs: BlobStore,
        jobs: JobRunner,
        scratch_root: Path,
    ) -> None:
        self.db, self.audit, self.clock = db, audit, clock
        self.evidence, self.blobs, self.jobs = evidence, blobs, jobs
        self.scratch_root = scratch_root

    # --- reading and saving plans ------------------------------------------------------------------

    def authorise(self, item_id: str, *, actor: Actor) -> Item:
        """The item, if the actor may edit redactions and play it (NotFound/403 otherwise, audited)."""
        require(actor, Permission.REDACTION_EDIT)
        return self.evidence.authorise(item_id, Permission.ITEM_PLAY, actor=actor)

    def overview(self, item_id: str, *, actor: Actor) -> RedactionOut:
        """The latest plan and its version, the latest detection, the renders and the picture's size."""
        item = self.authorise(item_id, actor=actor)
        with self.db.read() as session:
            latest = _latest(session, item_id)
            detection = session.scalars(
                select(DetectionRun)
                .where(DetectionRun.item_id == item_id)
                .order_by(DetectionRun.created_at.desc(), DetectionRun.id.desc())
                .limit(1)
            ).first()
            renders = session.scalars(
                select(Render)
                .where(Render.item_id == item_id)
                .order_by(Render.created_at.desc(), Render.id.desc())
                .limit(RENDERS_SHOWN)
            ).all()
            return RedactionOut(
                item_id=item_id,
                plan=latest.plan if latest else None,
                version=latest.version if latest else 0,
                detection=_detection_out(session, detection) if detection else None,
                renders=[_render_out(session, made) for made in renders],
                media=MediaOut(
                    width=item.width, height=item.height, fps=item.fps, duration_s=item.duration_s
                ),
            )

    def save_plan(
        self, item_id: str, base_version: int, plan: object, *, actor: Actor, note: str | None = None
    ) -> int:
        """Save a new version over `base_version` (Conflict if someone saved since); the new version."""
        item = self.authorise(item_id, actor=actor)
        kept = checked(plan, duration_s=item.duration_s)
        try:
            with self.db.transaction() as uow:
                uow.session.get(Item, item_id, with_for_update=True)  # one save at a time per item
                latest = _latest(uow.session, item_id)
                current = latest.version if latest else 0
                if base_version != current:
                    raise Conflict(
                        f"the plan was saved again since version {base_version} (it is now version "
                        f"{current}): reload it, then make your changes again"
                    )
                carried = latest.detection_id if latest and _has_auto(kept) else None
                saved = self._add_version(uow.session, item_id, kept, actor, note, carried)
                return saved.version
        except IntegrityError as race:
            raise Conflict("someone else saved this plan at the same moment: reload it") from race

    def _add_version(
        self,
        session: Session,
        item_id: str,
        plan: dict[str, Any],
        actor: Actor,
        note: str | None,
        detection_id: str | None,
    ) -> PlanVersion:
        latest = _latest(session, item_id)
        saved = PlanVersion(
            id=new_id(),
            item_id=item_id,
            version=(latest.version if latest else 0) + 1,
            plan=plan,
            author_id=None if actor.id == SYSTEM.id else actor.id,
            author=actor.name,
            note=(note or "").strip() or None,
            detection_id=detection_id,
            created_at=self.clock.now(),
        )
        session.add(saved)
        session.flush()
        regions = plan["regions"]
        self.audit.record(
            session,
            AuditTag.REDACTION_PLAN_SAVED,
            actor=actor,
            subject=Subject("item", item_id),
            details={
                "version": saved.version,
                "plan_sha256": plan_sha256(plan),
                "effect": plan["effect"],
                "regions": len(regions),
                "enabled": sum(1 for region in regions if region["enabled"]),
                "audio_ranges": len(plan["audio"]),
                "note": saved.note,
                "detection": detection_id,
            },
        )
        return saved

    def plan_of(self, item_id: str, version: int, *, actor: Actor) -> dict[str, Any]:
        """One saved version of the plan (version 0: the empty plan)."""
        self.authorise(item_id, actor=actor)
        with self.db.read() as session:
            return self._plan(session, item_id, version).plan if version else empty_plan()

    @staticmethod
    def _plan(session: Session, item_id: str, version: int) -> PlanVersion:
        found = session.scalars(
            select(PlanVersion).where(PlanVersion.item_id == item_id, PlanVersion.version == version)
        ).first()
        if found is None:
            raise NotFound(f"item {item_id} has no redaction plan version {version}")
        return found

    # --- looking at frames -------------------------------------------------------------------------

    def preview(self, item_id: str, t: float, version: int | None, *, actor: Actor) -> bytes:
        """The frame at `t` seconds with a plan version's effect applied (default: the latest), as JPEG."""
        item = self.authorise(item_id, actor=actor)
        with self.db.read() as session:
            if version is None:
                latest = _latest(session, item_id)
                version = latest.version if latest else 0
            plan = self._plan(session, item_id, version).plan if version else empty_plan()
        with self._workspace(f"preview-{item_id}") as scratch:
            try:
                image = preview_frame(self._original(item, scratch), t, plan)
            except MediaError as bad:
                raise InvalidPlan(bad.reason) from bad
        with self.db.transaction() as uow:
            self.audit.record(
                uow.session,
                AuditTag.REDACTION_PREVIEW_SHOWN,
                actor=actor,
                subject=Subject("item", item_id),
                details={"t": t, "version": version},
            )
        return image

    def follow(
        self, item_id: str, t: float, box: list[float], *, actor: Actor
    ) -> tuple["facetracks.Keyframe", ...]:
        """Follow a box drawn at `t` forward and back through the recording (cut at the frame's edge).

        Nothing is found (no keyframes) where the recording has no frames near `t`.
        """
        item = self.authorise(item_id, actor=actor)
        x, y, w, h = (min(max(float(v), 0.0), 1.0) for v in box)
        w, h = min(w, 1.0 - x), min(h, 1.0 - y)
        if w <= 0 or h <= 0 or x >= 1 or y >= 1:
            raise InvalidPlan(f"the box {box} has no area inside the frame")
        if item.duration_s is not None and t > item.duration_s + 1.0:
            return ()
        from witnessbox.media import facetracks  # noqa: PLC0415 - see TYPE_CHECKING above

        with self._workspace(f"follow-{item_id}") as scratch:
            try:
                return facetracks.follow_region(self._original(item, scratch), t, (x, y, w, h))
            except MediaError:
                return ()  # no frames near t

    # --- finding faces (a job) ---------------------------------------------------------------------

    def start_detection(self, item_id: str, *, actor: Actor) -> str:
        """Queue face detection on the item's original; the job's id (an unfinished one is reused)."""
        item = self.authorise(item_id, actor=actor)
        _ready_video(item)
        with self.db.transaction() as uow:
            uow.session.get(Item, item_id, with_for_update=True)
            running = uow.session.scalars(
                select(DetectionRun).where(
                    DetectionRun.item_id == item_id,
                    DetectionRun.state.in_([RunState.QUEUED, RunState.RUNNING]),
                )
            ).first()
            if running is not None and running.job_id:
                return running.job_id
            run = DetectionRun(
                id=new_id(),
                item_id=item_id,
                state=RunState.QUEUED,
                requested_by=actor.id,
                requested_by_name=actor.name,
                created_at=self.clock.now(),
            )
            uow.session.add(run)
            run.job_id = self.jobs.enqueue(uow, DETECT_FACES, run.id).id
            self.audit.record(
                uow.session,
                AuditTag.REDACTION_DETECTION_STARTED,
                actor=actor,
                subject=Subject("item", item_id),
                details={"detection": run.id},
            )
            return run.job_id

    def detect(self, run_id: str, progress: Progress) -> str:
        """The job: find and track faces, then save them as a new plan version."""
        run = self._begin(DetectionRun, run_id)
        if run is None:
            return "already done"
        item = self.evidence.get(run.item_id)
        from witnessbox.media import facetracks  # noqa: PLC0415 - see TYPE_CHECKING above

        with self._workspace(run_id) as scratch:
            try:
                found = facetracks.detect_tracks(self._original(item, scratch), progress=progress)
            except MediaError as bad:
                self.give_up_detection(run_id, bad.reason)
                return f"failed: {bad.reason}"
        regions = [_auto_region(track, n) for n, track in enumerate(found.tracks, start=1)]
        result = {
            "tracks": len(found.tracks),
            "frames": found.frames,
            "fps": found.fps,
            "width": found.width,
            "height": found.height,
            "parameters": found.parameters,
            "versions": found.versions,
        }
        with self.db.transaction() as uow:
            uow.session.get(Item, item.id, with_for_update=True)
            latest = _latest(uow.session, item.id)
            merged = checked(with_detected(latest.plan if latest else empty_plan(), regions), duration_s=None)
            who = _requester(run)
            note = f"faces found (detection {run_id})"
            saved = self._add_version(uow.session, item.id, merged, who, note, run_id)
            done = uow.session.get(DetectionRun, run_id, with_for_update=True)
            assert done is not None
            done.state, done.finished_at, done.error = RunState.DONE, self.clock.now(), None
            done.model_sha256, done.result, done.plan_version = found.model_sha256, result, saved.version
            self.audit.record(
                uow.session,
                AuditTag.REDACTION_DETECTION_COMPLETED,
                actor=SYSTEM,
                subject=Subject("item", item.id),
                details={"detection": run_id, "tracks": len(regions), "version": saved.version,
                         "model_sha256": found.model_sha256},
            )
        return f"{len(regions)} face tracks saved as plan version {saved.version}"

    def give_up_detection(self, run_id: str, error: str) -> None:
        """Detection failed for good: say why on the run, and audit it."""
        self._failed(DetectionRun, run_id, error, AuditTag.REDACTION_DETECTION_FAILED)

    # --- rendering (a job) -------------------------------------------------------------------------

    def start_render(self, item_id: str, version: int, *, actor: Actor) -> str:
        """Queue the render of a saved plan version; the render's id."""
        item = self.authorise(item_id, actor=actor)
        _ready_video(item)
        with self.db.transaction() as uow:
            plan = self._plan(uow.session, item_id, version)
            made = Render(
                id=new_id(),
                item_id=item_id,
                plan_version=plan.version,
                state=RunState.QUEUED,
                requested_by=actor.id,
                requested_by_name=actor.name,
                created_at=self.clock.now(),
            )
            uow.session.add(made)
            made.job_id = self.jobs.enqueue(uow, RENDER_REDACTED, made.id).id
            self.audit.record(
                uow.session,
                AuditTag.REDACTION_RENDER_STARTED,
                actor=actor,
                subject=Subject("item", item_id),
                details={"render": made.id, "version": plan.version, "plan_sha256": plan_sha256(plan.plan)},
            )
            return made.id

    def render(self, render_id: str, progress: Progress) -> str:
        """The job: render the plan version, store the copy, record it as a "redacted" derivative."""
        job = self._begin(Render, render_id)
        if job is None:
            return "already rendered"
        item = self.evidence.get(job.item_id)
        with self.db.read() as session:
            plan = self._plan(session, item.id, job.plan_version)
            detection = session.get(DetectionRun, plan.detection_id) if plan.detection_id else None
            recipe: dict[str, Any] = {
                "plan": plan.plan,
                "plan_version": plan.version,
                "plan_sha256": plan_sha256(plan.plan),
                "model_sha256": detection.model_sha256 if detection else None,  # None: no detection used
            }
            if detection is not None:
                found = detection.result or {}
                recipe["detection"] = {"run": detection.id, "versions": found.get("versions", {})}
        with self._workspace(render_id) as scratch:
            out = scratch / "redacted.mp4"
            try:
                made = render(self._original(item, scratch), out, plan.plan, progress=progress)
                stored = store_file(self.blobs, out)
            except MediaError as bad:
                self.give_up_render(render_id, bad.reason)
                return f"failed: {bad.reason}"
            except OSError as error:
                raise io_failure(error, "rendering the redacted copy") from error
        software = versions()
        made_by = f"witnessbox {__version__}; PyAV {software['pyav']}; FFmpeg {software['ffmpeg']}"
        derivative = self.evidence.add_derivative(
            item.id,
            DerivativeDraft(
                kind=DerivativeKind.REDACTED,
                sha256=stored.sha256,
                size=stored.size,
                media_type="video/mp4",
                operation="redact",
                parameters={**recipe, "padding": PADDING, **made.parameters},
                software_version=made_by,
            ),
            actor=SYSTEM,
        )
        with self.db.transaction() as uow:
            done = uow.session.get(Render, render_id, with_for_update=True)
            assert done is not None
            done.state, done.finished_at, done.error = RunState.DONE, self.clock.now(), None
            done.derivative_id, done.sha256 = derivative.id, derivative.sha256
            self.audit.record(
                uow.session,
                AuditTag.REDACTION_RENDER_COMPLETED,
                actor=SYSTEM,
                subject=Subject("item", item.id),
                details={"render": render_id, "version": plan.version, "sha256": derivative.sha256,
                         "size": derivative.size, "source_sha256": item.sha256,
                         "covered_frames": made.covered_frames, "frames": made.frames},
            )
        return f"plan version {plan.version} rendered: sha256 {derivative.sha256}"

    def give_up_render(self, render_id: str, error: str) -> None:
        """The render failed for good: say why on the render, and audit it."""
        self._failed(Render, render_id, error, AuditTag.REDACTION_RENDER_FAILED)

    # --- shared by the jobs ------------------------------------------------------------------------

    def _begin(self, table: type[Run], row_id: str) -> Run | None:
        with self.db.transaction() as uow:
            row = uow.session.get(table, row_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no {table.__tablename__} row {row_id}")
            if row.state == RunState.DONE:
                return None
            row.state, row.error = RunState.RUNNING, None
            uow.session.flush()
            uow.session.expunge(row)
            return row

    def _failed(self, table: type[Run], row_id: str, error: str, tag: AuditTag) -> None:
        with self.db.transaction() as uow:
            row = uow.session.get(table, row_id, with_for_update=True)
            if row is None or row.state == RunState.DONE:
                return
            row.state, row.error, row.finished_at = RunState.FAILED, error, self.clock.now()
            self.audit.record(
                uow.session,
                tag,
                actor=SYSTEM,
                subject=Subject("item", row.item_id),
                details={table.__tablename__.removeprefix("redaction_").rstrip("s"): row_id, "error": error},
            )

    def discard_scratch(self, row_id: str) -> None:
        """Remove the work files a killed attempt left behind."""
        for leftover in self.scratch_root.glob(f"{row_id}-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    @contextmanager
    def _workspace(self, name: str) -> Iterator[Path]:
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.scratch_root))
        try:
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _original(self, item: Item, scratch: Path) -> Path:
        """A readable path to the original (a copy in scratch when the store is not on this disk)."""
        return readable_path(self.blobs, item.sha256, scratch / "original.mp4")


def _latest(session: Session, item_id: str) -> PlanVersion | None:
    newest = select(func.max(PlanVersion.version)).where(PlanVersion.item_id == item_id).scalar_subquery()
    return session.scalars(
        select(PlanVersion).where(PlanVersion.item_id == item_id, PlanVersion.version == newest)
    ).first()


def _has_auto(plan: dict[str, Any]) -> bool:
    return any(region["source"] == "auto" for region in plan["regions"])


def _ready_video(item: Item) -> None:
    if item.state != ItemState.READY:
        raise Conflict(f"the recording is {item.state}: it can be redacted once it is ready")
    if not item.width or not item.height:
        raise Conflict("the recording has no pictures to redact")


def _requester(run: DetectionRun) -> Actor:
    """Who asked for a detection: the plan version it saves is theirs."""
    if run.requested_by is None:
        return SYSTEM
    return Actor(kind=ActorKind.USER, id=run.requested_by, name=run.requested_by_name)


def _auto_region(track: "facetracks.Track", number: int) -> dict[str, Any]:
    keyframes = []
    for key in track.keyframes:
        frame: dict[str, Any] = {"t": round(float(key.t), 6), "box": _clip(key.box)}
        if key.score is not None:
            frame["score"] = round(float(key.score), 4)
        keyframes.append(frame)
    label = f"Face {number}"
    return {"id": track.id, "source": "auto", "enabled": True, "label": label, "keyframes": keyframes}


def _clip(box: tuple[float, float, float, float]) -> list[float]:
    """A detected box kept inside the frame (a face at the edge may reach past it)."""
    x, y, w, h = (float(v) for v in box)
    x0, y0 = min(max(x, 0.0), 0.999), min(max(y, 0.0), 0.999)
    x1, y1 = min(max(x + w, x0 + 0.001), 1.0), min(max(y + h, y0 + 0.001), 1.0)
    return [round(x0, 6), round(y0, 6), round(x1 - x0, 6), round(y1 - y0, 6)]


def _progress(session: Session, job_id: str | None, state: RunState) -> float:
    if state == RunState.DONE:
        return 1.0
    job = session.get(JobRecord, job_id) if job_id else None
    return job.progress if job else 0.0


def _detection_out(session: Session, run: DetectionRun) -> DetectionOut:
    job = session.get(JobRecord, run.job_id) if run.job_id else None
    return DetectionOut(
        state=str(run.state),
        progress=_progress(session, run.job_id, run.state),
        error=run.error or (job.error if job and run.state != RunState.DONE else None),
        model_sha256=run.model_sha256,
    )


def _render_out(session: Session, made: Render) -> RenderOut:
    job = session.get(JobRecord, made.job_id) if made.job_id else None
    return RenderOut(
        id=made.id,
        state=str(made.state),
        progress=_progress(session, made.job_id, made.state),
        plan_version=made.plan_version,
        sha256=made.sha256,
        error=made.error or (job.error if job and made.state != RunState.DONE else None),
        created_at=made.created_at,
    )
