"""Use cases of resumable upload: create, resume, append, finish, terminate, expire.

An upload becomes an item only when every byte is on disk, its whole-file SHA-256
equals the one the dock computed at the source, and the bytes have been moved
into the content-addressed store. Until then nothing is evidence.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import TeamMember
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM, Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    TooLarge,
)
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database, UnitOfWork
from witnessbox.devices.service import attribute, camera_by_serial, dock_serves
from witnessbox.evidence.models import Item
from witnessbox.evidence.service import EvidenceService, ItemDraft
from witnessbox.ingest.metadata import (
    Declaration,
    HandedIn,
    as_handed_in,
    bookmarks,
    gps_track,
    handed_in,
)
from witnessbox.ingest.models import Upload, UploadState
from witnessbox.ingest.staging import Appender, ChunkChecksum, Staging
from witnessbox.jobs.runner import JobRunner
from witnessbox.storage import BlobStore

PROCESS_ITEM = "ingest.process_item"


@dataclass(frozen=True)
class UploadLimits:
    """What an operator bounds: size, how long an interrupted upload may resume."""

    max_bytes: int
    expiry: timedelta


@dataclass(frozen=True)
class UploadStatus:
    """What HEAD and PATCH report back to the client."""

    id: str
    length: int
    offset: int
    expires_at: str
    item_id: str | None
    metadata: dict[str, str]


class IngestService:
    """Turns verified uploads into evidence items."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        staging: Staging,
        blobs: BlobStore,
        evidence: EvidenceService,
        jobs: JobRunner,
        limits: UploadLimits,
    ) -> None:
        self.db, self.audit, self.clock = db, audit, clock
        self.staging, self.blobs, self.evidence = staging, blobs, evidence
        self.jobs, self.limits = jobs, limits

    def create(self, declaration: Declaration, length: int, *, actor: Actor) -> UploadStatus:
        """Start an upload after checking the length, the camera and the declaration."""
        require(actor, Permission.UPLOAD_CREATE)
        if length < 1:
            raise InvalidInput("Upload-Length must be a positive number of bytes")
        if length > self.limits.max_bytes:
            raise TooLarge(f"Upload-Length {length} exceeds the maximum of {self.limits.max_bytes}")
        declaration = self._attributable(declaration, actor)
        source = handed_in(declaration.extra)
        with self.db.transaction() as uow:
            upload = self._new_upload(declaration, length, actor)
            uow.session.add(upload)
            uow.after_commit(lambda: self.staging.create(upload.id))
            self.audit.record(
                uow.session,
                AuditTag.INGEST_UPLOAD_CREATED,
                actor=actor,
                subject=Subject("upload", upload.id),
                details={
                    "sha256": declaration.sha256,
                    "length": length,
                    "camera": declaration.camera,
                    "filename": declaration.filename,
                    **({"source": source.source} if source else {}),
                },
            )
        return _status(upload)

    def _attributable(self, declaration: Declaration, actor: Actor) -> Declaration:
        """Only a dock registered for a camera makes a recording that camera's (and so its holder's).

        A person's upload is handed-in footage and theirs, whatever camera or officer its
        metadata names (decision 0013): without a declared source it is filed as "other".
        """
        if actor.kind == ActorKind.USER:
            return as_handed_in(declaration)
        if handed_in(declaration.extra) is not None:
            raise Forbidden("a dock uploads its cameras' recordings; a person uploads handed-in footage")
        self._check_camera(declaration, actor)
        return declaration

    def _check_camera(self, declaration: Declaration, actor: Actor) -> None:
        with self.db.read() as session:
            camera = camera_by_serial(session, declaration.camera)
            # The system itself (the operator's tools) is trusted to name a known camera.
            served = camera is not None and (
                actor.kind == ActorKind.SYSTEM or dock_serves(session, actor.id, camera.id)
            )
        if camera is None:
            self._refuse_creation(declaration, actor, "unknown camera")
            raise InvalidInput(f"unknown camera {declaration.camera!r}: register it first")
        if not served:
            self._refuse_creation(declaration, actor, "dock not registered for the camera")
            raise Forbidden(
                f"this dock is not registered for camera {declaration.camera!r}: an administrator "
                "registers it (witnessbox docks cameras); the recording is kept on the camera"
            )

    def _new_upload(self, declaration: Declaration, length: int, actor: Actor) -> Upload:
        now = self.clock.now()
        return Upload(
            id=new_id(),
            dock_id=actor.id if actor.kind is ActorKind.DOCK else None,
            uploader=actor.name,
            uploader_id=actor.id,
            length=length,
            offset=0,
            declared_sha256=declaration.sha256,
            camera_serial=declaration.camera,
            filename=declaration.filename,
            recording_started_at=declaration.started_at,
            upload_metadata={**declaration.as_dict(), "camera_metadata": declaration.camera_metadata},
            state=UploadState.RECEIVING,
            created_at=now,
            expires_at=now + self.limits.expiry,
        )

    def _refuse_creation(self, declaration: Declaration, actor: Actor, reason: str) -> None:
        with self.db.transaction() as uow:
            self.audit.record(
                uow.session,
                AuditTag.INGEST_UPLOAD_REFUSED,
                actor=actor,
                details={"reason": reason, "camera": declaration.camera, "sha256": declaration.sha256},
            )

    def status(self, upload_id: str, *, actor: Actor) -> UploadStatus:
        """The upload's current offset; finishes an upload a crash left complete but unfinished."""
        upload = self._load_active(upload_id, actor)
        if upload.offset == upload.length and upload.state == UploadState.RECEIVING:
            upload = self._finish(upload_id, actor)
        return _status(upload)

    async def append(
        self,
        upload_id: str,
        offset: int,
        body: AsyncIterator[bytes],
        *,
        actor: Actor,
        checksum: ChunkChecksum | None = None,
    ) -> UploadStatus:
        """Append a PATCH body at `offset`; on the last byte, verify and create the item."""
        upload = await asyncio.to_thread(self._load_active, upload_id, actor)
        if upload.state != UploadState.RECEIVING:
            raise Conflict(f"upload is {upload.state}; nothing more can be appended")
        if offset != upload.offset:
            raise Conflict(f"Upload-Offset {offset} does not match the server's {upload.offset}")
        appender = Appender(self.staging, upload_id, offset, upload.length - offset)

        async def record_offset(new_offset: int) -> None:
            await asyncio.to_thread(self._record_offset, upload_id, new_offset)

        await appender.append(body, checksum, record_offset)
        upload.offset = offset + appender.received
        if upload.offset == upload.length:
            upload = await asyncio.to_thread(self._finish, upload_id, actor)
        return _status(upload)

    def _record_offset(self, upload_id: str, offset: int) -> None:
        with self.db.transaction() as uow:
            upload = uow.session.get(Upload, upload_id, with_for_update=True)
            assert upload is not None
            upload.offset = offset

    def _finish(self, upload_id: str, actor: Actor) -> Upload:
        """Check the whole-file hash, store the original, create (or find) the item."""
        with self.db.read() as session:
            upload = session.get(Upload, upload_id)
            assert upload is not None
        if not self.blobs.exists(upload.declared_sha256):
            actual = self.staging.running_hash(upload_id, upload.length).digest.hexdigest()
            if actual != upload.declared_sha256:
                self._refuse(
                    upload_id,
                    actor,
                    f"SHA-256 of the bytes received ({actual}) "
                    f"differs from the one declared ({upload.declared_sha256})",
                )
            self.blobs.adopt(self.staging.path(upload_id), upload.declared_sha256)
        self.staging.discard(upload_id)
        return self._create_item(upload_id, actor)

    def _refuse(self, upload_id: str, actor: Actor, reason: str) -> None:
        with self.db.transaction() as uow:
            upload = uow.session.get(Upload, upload_id, with_for_update=True)
            assert upload is not None
            upload.state, upload.refusal_reason = UploadState.REFUSED, reason
            upload.finished_at = self.clock.now()
            self.audit.record(
                uow.session,
                AuditTag.INGEST_UPLOAD_REFUSED,
                actor=actor,
                subject=Subject("upload", upload_id),
                details={"reason": reason},
            )
        self.staging.discard(upload_id)
        raise IntegrityFailure(f"refused: {reason}; nothing was stored, keep the recording")

    def _create_item(self, upload_id: str, actor: Actor) -> Upload:
        with self.db.transaction() as uow:
            upload = uow.session.get(Upload, upload_id, with_for_update=True)
            assert upload is not None
            if upload.state == UploadState.COMPLETE:
                return upload
            item = self.evidence.find_by_sha256(uow.session, upload.declared_sha256)
            if item is None:
                item = self._new_item(uow, upload, actor)
            else:
                self.audit.record(
                    uow.session,
                    AuditTag.INGEST_UPLOAD_DUPLICATE,
                    actor=actor,
                    subject=Subject("item", item.id),
                    details={"upload": upload.id, "sha256": item.sha256},
                )
            upload.state, upload.item_id = UploadState.COMPLETE, item.id
            upload.finished_at = self.clock.now()
        return upload

    def _new_item(self, uow: UnitOfWork, upload: Upload, actor: Actor) -> Item:
        source = handed_in(upload.upload_metadata)
        draft = self._handed_in(uow, upload, source) if source else self._docked(uow, upload)
        item = self.evidence.create_item(uow.session, draft, actor=actor)
        self.jobs.enqueue(uow, PROCESS_ITEM, item.id)
        return item

    def _handed_in(self, uow: UnitOfWork, upload: Upload, source: HandedIn) -> ItemDraft:
        """Footage handed in is the uploader's: listed with their recordings, seen by their supervisor."""
        team = uow.session.scalars(
            select(TeamMember.team_id)
            .where(TeamMember.user_id == upload.uploader_id)
            .order_by(TeamMember.supervises, TeamMember.team_id)
            .limit(1)
        ).first()
        return ItemDraft(
            sha256=upload.declared_sha256,
            size=upload.length,
            filename=upload.filename,
            camera_id=None,
            camera_serial=source.label,
            dock_id=None,
            officer_id=upload.uploader_id,
            officer=upload.uploader,
            team_id=team,
            recorded_start=upload.recording_started_at,
            upload_started_at=upload.created_at,
            camera_metadata=source.as_metadata(upload.uploader),
        )

    def _docked(self, uow: UnitOfWork, upload: Upload) -> ItemDraft:
        """A camera's recording is the officer's who held the camera when it started."""
        camera = camera_by_serial(uow.session, upload.camera_serial or "")
        officer = None
        # No holder at the recording's start (or no dock registered for it): the unattributed queue.
        if camera is not None and dock_serves(uow.session, upload.dock_id or "", camera.id):
            officer = attribute(uow.session, camera.id, upload.recording_started_at)
        camera_metadata = upload.upload_metadata.get("camera_metadata")
        draft = ItemDraft(
            sha256=upload.declared_sha256,
            size=upload.length,
            filename=upload.filename,
            camera_id=camera.id if camera else None,
            camera_serial=upload.camera_serial,
            dock_id=upload.dock_id,
            officer_id=officer.user_id if officer else None,
            officer=officer.display_name if officer else None,
            team_id=officer.team_id if officer else None,
            recorded_start=upload.recording_started_at,
            upload_started_at=upload.created_at,
            gps_track=gps_track(camera_metadata),
            bookmarks=bookmarks(camera_metadata),
            camera_metadata=camera_metadata,
        )
        if camera is not None:
            camera.last_docked_at = self.clock.now()
        return draft

    def terminate(self, upload_id: str, *, actor: Actor) -> None:
        """Abandon an upload (tus termination): its bytes are deleted, it can't be resumed."""
        with self.db.transaction() as uow:
            upload = self._owned(uow.session, upload_id, actor)
            if upload.state != UploadState.RECEIVING:
                raise Conflict(f"upload is {upload.state} and cannot be terminated")
            upload.state, upload.finished_at = UploadState.TERMINATED, self.clock.now()
            self.audit.record(
                uow.session,
                AuditTag.INGEST_UPLOAD_TERMINATED,
                actor=actor,
                subject=Subject("upload", upload_id),
                details={"offset": upload.offset},
            )
        self.staging.discard(upload_id)

    def expire(self) -> int:
        """Delete the bytes of uploads that were not finished in time (periodic)."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            stale = list(
                uow.session.scalars(
                    select(Upload)
                    .where(Upload.state == UploadState.RECEIVING, Upload.expires_at < now)
                    .with_for_update()
                )
            )
            for upload in stale:
                upload.state, upload.finished_at = UploadState.EXPIRED, now
                self.audit.record(
                    uow.session,
                    AuditTag.INGEST_UPLOAD_EXPIRED,
                    actor=SYSTEM,
                    subject=Subject("upload", upload.id),
                    details={"offset": upload.offset, "length": upload.length},
                )
        for upload in stale:
            self.staging.discard(upload.id)
        return len(stale)

    def _load_active(self, upload_id: str, actor: Actor) -> Upload:
        with self.db.read() as session:
            upload = self._owned(session, upload_id, actor)
        if upload.state in (UploadState.TERMINATED, UploadState.EXPIRED):
            raise Gone(f"upload {upload_id} was {upload.state}")
        if upload.state == UploadState.REFUSED:
            raise Gone(f"upload {upload_id} was refused: {upload.refusal_reason}")
        if upload.state == UploadState.RECEIVING and upload.expires_at < self.clock.now():
            raise Gone(f"upload {upload_id} expired at {upload.expires_at.isoformat()}")
        return upload

    def _owned(self, session: Session, upload_id: str, actor: Actor) -> Upload:
        upload = session.get(Upload, upload_id)
        # Only whoever started an upload may see or continue it; to anyone else it does not exist.
        if upload is None or (upload.uploader_id != actor.id and actor.kind != ActorKind.SYSTEM):
            raise NotFound(f"no upload {upload_id}")
        return upload


def _status(upload: Upload) -> UploadStatus:
    metadata = {k: v for k, v in upload.upload_metadata.items() if isinstance(v, str)}
    return UploadStatus(
        id=upload.id,
        length=upload.length,
        offset=upload.offset,
        expires_at=upload.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        item_id=upload.item_id,
        metadata=metadata,
    )
