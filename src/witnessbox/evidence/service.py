"""Use cases for evidence items: create, describe, find, open, and record how each was made."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.accounts.grants import is_granted, reason_given, record_reason
from witnessbox.accounts.policy import WRITE_PERMISSIONS, Access, ItemFacts, decide, redacted_only
from witnessbox.accounts.roles import Permission
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, Gone, NotFound, ReasonRequired
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.models import Derivative, DerivativeKind, Item, ItemState
from witnessbox.evidence.search.index import index_item
from witnessbox.evidence.visibility import visible_to
from witnessbox.storage import BlobStore

PAGE_SIZE = 50
REDACTED_ONLY = (
    "only redacted copies of recordings are available to you: play the redacted copy "
    "(/api/v1/items/{id}/redacted)"
)
READ_ONLY = (
    "you may watch this recording (it was shared with you, is in a case you work on, or you gave a "
    "reason) but not describe it or share it on: only its officer and their supervisor can"
)


@dataclass(frozen=True)
class ItemDraft:
    """Everything known about a recording when its upload completes."""

    sha256: str
    size: int
    filename: str
    camera_id: str | None
    camera_serial: str | None
    dock_id: str | None
    officer_id: str | None
    officer: str | None
    team_id: str | None
    recorded_start: datetime
    upload_started_at: datetime
    gps_track: list[Any] | None = None
    bookmarks: list[Any] | None = None
    camera_metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class DerivativeDraft:
    """A made file and exactly how it was made."""

    kind: DerivativeKind
    sha256: str
    size: int
    media_type: str
    operation: str
    parameters: dict[str, Any] = field(default_factory=dict)
    software_version: str = ""


@dataclass(frozen=True)
class BlobAccess:
    """What an entry point needs to send an original or derivative to a client."""

    sha256: str
    size: int
    media_type: str
    filename: str
    until: datetime | None = None  # when this access ends on its own (a share's end), for byte grants


@dataclass(frozen=True)
class Held:
    """The answer to a dock asking by hash: held, and verified (re-read and matched), nothing else."""

    sha256: str
    held: bool
    verified: bool


class EvidenceService:
    """Items from creation to viewing."""

    def __init__(self, db: Database, audit: AuditLog, blobs: BlobStore, clock: Clock) -> None:
        self.db = db
        self.audit = audit
        self.blobs = blobs
        self.clock = clock

    def create_item(self, session: Session, draft: ItemDraft, *, actor: Actor) -> Item:
        """Create an item for durable, hash-verified bytes, in the caller's transaction."""
        now = self.clock.now()
        item = Item(
            id=new_id(),
            state=ItemState.PROCESSING,
            uploaded_at=now,
            hash_algorithm="sha256",
            **draft.__dict__,
        )
        session.add(item)
        session.flush()
        index_item(session, item)
        self.audit.record(
            session,
            AuditTag.EVIDENCE_ITEM_CREATED,
            actor=actor,
            subject=Subject("item", item.id),
            details={
                "sha256": item.sha256,
                "size": item.size,
                "filename": item.filename,
                "camera": item.camera_serial,
                "officer": item.officer,
            },
        )
        return item

    def find_by_sha256(self, session: Session, sha256: str) -> Item | None:
        """The item holding these bytes, if any."""
        return session.scalars(select(Item).where(Item.sha256 == sha256)).first()

    def list_items(
        self,
        *,
        actor: Actor,
        sha256: str | None = None,
        state: ItemState | None = None,
        before: str | None = None,
        limit: int = PAGE_SIZE,
    ) -> list[Item]:
        """Items newest first, paged by id (keyset: fast however deep)."""
        query = (
            select(Item)
            .where(visible_to(actor, self.clock.now()))
            .order_by(Item.id.desc())
            .limit(min(max(limit, 1), 500))
        )
        if sha256:
            query = query.where(Item.sha256 == sha256.lower())
        if state:
            query = query.where(Item.state == state)
        if before:
            query = query.where(Item.id < before)
        with self.db.read() as session:
            return list(session.scalars(query))

    def confirm(self, sha256: str, *, actor: Actor) -> list[Item]:
        """A dock (or uploader) asks whether its bytes are safely held; the answer is audited.

        Knowing a recording's SHA-256 means holding its bytes, so a dock is answered
        for any item; people get only items the policy lets them see.
        """
        if actor.kind != ActorKind.DOCK or decide(actor, Permission.ITEM_CONFIRM) != Access.ALLOW:
            return self.list_items(actor=actor, sha256=sha256)
        with self.db.transaction() as uow:
            items = list(uow.session.scalars(select(Item).where(Item.sha256 == sha256.lower())))
            for item in items:
                self.audit.record(
                    uow.session,
                    AuditTag.EVIDENCE_ITEM_CONFIRMED,
                    actor=actor,
                    subject=Subject("item", item.id),
                    details={"sha256": item.sha256, "verified": item.verified_at is not None},
                )
        return items

    def held(self, sha256: str, *, actor: Actor) -> Held:
        """Whether the server holds these bytes and has re-read them: the dock's question, nothing more."""
        items = self.confirm(sha256, actor=actor)
        return Held(
            sha256=sha256.lower(),
            held=bool(items),
            verified=any(item.verified_at is not None for item in items),
        )

    def authorise(
        self, item_id: str, permission: Permission, *, actor: Actor, reason: str | None = None
    ) -> Item:
        """Ask the policy about one item; record a reason when one is given; raise when refused.

        Refusals are audited too. An item the actor may not see at all is reported as
        absent, so ids reveal nothing.
        """
        with self.db.read() as session:
            item = self._get(session, item_id)
            facts = self._facts(session, actor, item)
            access = decide(actor, permission, facts)
        # A reason is taken only from someone the policy would let in with one.
        if reason and access == Access.NEEDS_REASON:
            access = self._with_reason(item, permission, actor, reason)
        if access == Access.ALLOW:
            return item
        self._audit_refusal(item_id, permission, access, actor)
        if access == Access.NEEDS_REASON:
            raise ReasonRequired(
                "this recording is not yours, your team's or shared with you: say why you are opening it"
            )
        if permission in WRITE_PERMISSIONS and decide(actor, Permission.ITEM_VIEW, facts) == Access.ALLOW:
            raise Forbidden(READ_ONLY)
        raise NotFound(f"no item {item_id}")

    def may(self, actor: Actor, item: Item, permission: Permission) -> bool:
        """Whether the policy allows this on an item already opened (to offer a button); not audited."""
        if permission == Permission.ITEM_DOWNLOAD and redacted_only(actor):
            return False  # the original is never theirs to download (decision 0026)
        with self.db.read() as session:
            return decide(actor, permission, self._facts(session, actor, item)) == Access.ALLOW

    def _with_reason(self, item: Item, permission: Permission, actor: Actor, reason: str) -> Access:
        now = self.clock.now()
        with self.db.transaction() as uow:
            given = record_reason(uow.session, actor, item.id, reason, now)
            self.audit.record(
                uow.session,
                AuditTag.EVIDENCE_ITEM_REASON_GIVEN,
                actor=actor,
                subject=Subject("item", item.id),
                details={"reason": given.reason},
            )
            return decide(actor, permission, self._facts(uow.session, actor, item))

    def _facts(self, session: Session, actor: Actor, item: Item) -> ItemFacts:
        now = self.clock.now()
        return ItemFacts(
            officer_id=item.officer_id,
            team_id=item.team_id,
            restricted=item.restricted,
            granted=is_granted(session, actor, item.id, now),
            reason_given=reason_given(session, actor, item.id, now),
            quarantined=item.state == ItemState.QUARANTINED,
            redacted=item.derivative(DerivativeKind.REDACTED) is not None,
        )

    def _audit_refusal(self, item_id: str, permission: Permission, access: Access, actor: Actor) -> None:
        with self.db.transaction() as uow:
            self.audit.record(
                uow.session,
                AuditTag.ACCOUNT_ACCESS_DENIED,
                actor=actor,
                subject=Subject("item", item_id),
                details={"permission": str(permission), "access": str(access)},
            )

    def view_item(self, item_id: str, *, actor: Actor, reason: str | None = None) -> Item:
        """Open one item's record; audited as a view."""
        item = self.authorise(item_id, Permission.ITEM_VIEW, actor=actor, reason=reason)
        self._audit_access(item, AuditTag.EVIDENCE_ITEM_VIEWED, actor, {})
        return item

    def open_original(self, item_id: str, *, actor: Actor, first_request: bool) -> BlobAccess:
        """Authorise and audit a download of the original bytes."""
        item = self.authorise(item_id, Permission.ITEM_DOWNLOAD, actor=actor)
        self._refuse_unredacted(item, actor)
        if item.state == ItemState.PURGED:  # deleted under the retention schedule (retention/)
            raise Gone(f"this recording was deleted: {item.state_reason}")
        if first_request:
            self._audit_access(item, AuditTag.EVIDENCE_ITEM_DOWNLOADED, actor, {"sha256": item.sha256})
        return BlobAccess(item.sha256, item.size, "video/mp4", item.filename)

    def _audit_access(self, item: Item, tag: AuditTag, actor: Actor, details: dict[str, Any]) -> None:
        with self.db.transaction() as uow:
            subject = Subject("item", item.id)
            self.audit.record(uow.session, tag, actor=actor, subject=subject, details=details)

    def open_derivative(
        self, item_id: str, kind: DerivativeKind, *, actor: Actor, first_request: bool
    ) -> BlobAccess:
        """Authorise (and for the proxy and the redacted copy, audit a play of) one derivative.

        Someone who may see only redacted copies is given the redacted copy in place of the proxy,
        and refused the thumbnails (pictures of the original).
        """
        item = self.authorise(item_id, Permission.ITEM_PLAY, actor=actor)
        if redacted_only(actor) and kind == DerivativeKind.PROXY:
            kind = DerivativeKind.REDACTED
        if kind != DerivativeKind.REDACTED:
            self._refuse_unredacted(item, actor)
        made = item.derivative(kind)
        if made is None:
            raise NotFound(f"item {item_id} has no {kind} copy yet (state: {item.state})")
        if first_request and kind in (DerivativeKind.PROXY, DerivativeKind.REDACTED):
            details = {"copy": "redacted", "sha256": made.sha256} if kind == DerivativeKind.REDACTED else {}
            self._audit_access(item, AuditTag.EVIDENCE_ITEM_PLAYED, actor, details)
        return BlobAccess(made.sha256, made.size, made.media_type, f"{item.id}-{kind}")

    @staticmethod
    def sees_unredacted(actor: Actor) -> bool:
        """Whether the actor may see footage unredacted (originals, proxies, thumbnails); decision 0026."""
        return not redacted_only(actor)

    def _refuse_unredacted(self, item: Item, actor: Actor) -> None:
        """Refuse (audited) the original, or what shows it unredacted, to those who see redacted copies."""
        if redacted_only(actor):
            self._audit_refusal(item.id, Permission.ITEM_VIEW_UNREDACTED, Access.DENY, actor)
            raise Forbidden(REDACTED_ONLY.format(id=item.id))

    def add_derivative(self, item_id: str, draft: DerivativeDraft, *, actor: Actor) -> Derivative:
        """Record a derivative; a repeat of the same kind returns the one already recorded.

        Redacted copies are many (one per render of a plan): only a repeat of the same bytes is a repeat.
        """
        with self.db.transaction() as uow:
            item = self._get(uow.session, item_id)
            existing = item.derivative(draft.kind)
            if draft.kind == DerivativeKind.REDACTED:
                existing = next(
                    (d for d in item.derivatives if d.kind == draft.kind and d.sha256 == draft.sha256), None
                )
            if existing is not None:
                return existing
            made = Derivative(
                id=new_id(),
                item_id=item.id,
                source_sha256=item.sha256,
                hash_algorithm="sha256",
                created_at=self.clock.now(),
                **draft.__dict__,
            )
            uow.session.add(made)
            self.audit.record(
                uow.session,
                AuditTag.EVIDENCE_DERIVATIVE_CREATED,
                actor=actor,
                subject=Subject("item", item.id),
                details={
                    "kind": str(draft.kind),
                    "sha256": draft.sha256,
                    "operation": draft.operation,
                    "parameters": draft.parameters,
                    "software": draft.software_version,
                },
            )
        return made

    def mark_verified(self, item_id: str, *, actor: Actor) -> None:
        """The stored original was re-read and matched its hash."""
        with self.db.transaction() as uow:
            item = self._get(uow.session, item_id)
            if item.verified_at is None:
                item.verified_at = self.clock.now()
                self.audit.record(
                    uow.session,
                    AuditTag.EVIDENCE_ITEM_VERIFIED,
                    actor=actor,
                    subject=Subject("item", item.id),
                    details={"sha256": item.sha256},
                )

    def note_waiting(self, item_id: str, reason: str) -> None:
        """Say on a processing item why it is not ready yet (its store failed; the job waits and retries).

        Only the reason shown to its uploader and administrators changes, not the item's state: it
        stays processing, unlisted as playable, until its bytes are stored and re-read (decision 0031).
        """
        with self.db.transaction() as uow:
            item = self._get(uow.session, item_id)
            if item.state == ItemState.PROCESSING:
                item.state_reason = reason[:500]

    def record_media_facts(self, item_id: str, facts: dict[str, Any], *, actor: Actor) -> None:
        """Store what probing found."""
        with self.db.transaction() as uow:
            item = self._get(uow.session, item_id)
            item.media_facts = facts
            for name in ("container", "video_codec", "audio_codec", "width", "height", "fps", "duration_s"):
                setattr(item, name, facts.get(name))
            item.has_audio = facts.get("audio_codec") is not None
            duration = facts.get("duration_s")
            if isinstance(duration, int | float):
                item.recorded_end = item.recorded_start + timedelta(seconds=duration)
            self.audit.record(
                uow.session,
                AuditTag.EVIDENCE_ITEM_PROBED,
                actor=actor,
                subject=Subject("item", item.id),
                details=facts,
            )

    def set_state(self, item_id: str, state: ItemState, *, actor: Actor, reason: str | None = None) -> None:
        """Move an item to ready or quarantined (with the reason an administrator will read)."""
        tag = {
            ItemState.READY: AuditTag.EVIDENCE_ITEM_READY,
            ItemState.QUARANTINED: AuditTag.EVIDENCE_ITEM_QUARANTINED,
        }[state]
        with self.db.transaction() as uow:
            item = self._get(uow.session, item_id)
            if item.state == state and item.state_reason == reason:
                return
            item.state, item.state_reason = state, reason
            self.audit.record(
                uow.session,
                tag,
                actor=actor,
                subject=Subject("item", item.id),
                details={"reason": reason} if reason else {},
            )

    def restrict(self, session: Session, item_id: str, *, case_reference: str, actor: Actor) -> None:
        """Make an item professional-standards-only (it joined a complaint case), in this transaction."""
        item = self._get(session, item_id)
        if not item.restricted:
            item.restricted = True
            self.audit.record(
                session,
                AuditTag.EVIDENCE_ITEM_RESTRICTED,
                actor=actor,
                subject=Subject("item", item.id),
                details={"case": case_reference},
            )

    def get(self, item_id: str) -> Item:
        """Load an item for internal use (jobs); not audited, never for people."""
        with self.db.read() as session:
            return self._get(session, item_id)

    def _get(self, session: Session, item_id: str) -> Item:
        item = session.get(Item, item_id)
        if item is None:
            raise NotFound(f"no item {item_id}")
        return item
