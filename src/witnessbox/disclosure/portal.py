"""The recipient portal: a link and an access code (throttled) open a session, and every request
after that re-reads the share: once it is revoked or expired, nothing more is served, not even the
next range request of a playing video.
"""

import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from witnessbox.accounts.policy import Access, ItemFacts, decide
from witnessbox.accounts.roles import Permission
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, Gone, NotFound, TooManyAttempts, WitnessboxError
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.disclosure.models import ExternalShare, ExternalShareItem, Recipient, RecipientSession
from witnessbox.evidence.models import DerivativeKind, Item, ItemState
from witnessbox.evidence.service import BlobAccess, EvidenceService

SHARE = "external_share"


class PortalSignInNeeded(WitnessboxError):
    """No live portal session: open the link you were sent and enter the access code."""

    status = 401


@dataclass(frozen=True)
class PortalRules:
    """How the portal throttles codes and how long a sign-in lasts (settings)."""

    code_attempts: int = 5
    lock: timedelta = timedelta(minutes=15)
    address_attempts: int = 20  # wrong codes from one address, over all shares, within `lock`
    session: timedelta = timedelta(hours=8)
    investigators_may_disclose: bool = False


@dataclass(frozen=True)
class PortalItem:
    """What the portal shows of one shared item."""

    id: str
    title: str
    recorded_start: datetime
    duration_s: float | None
    playable: bool
    has_thumbnails: bool


@dataclass(frozen=True)
class Portal:
    """A signed-in recipient's view of their share."""

    share_id: str
    recipient: str
    organisation: str
    sharer: str
    expires_at: datetime
    may_download: bool
    items: list[PortalItem] = field(default_factory=list)


def digest(secret: str) -> str:
    """Link and session tokens carry 256 random bits, so a plain SHA-256 is a safe at-rest form."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normal_code(code: str) -> str:
    """What a recipient typed, without spaces or dashes, in capitals."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


class RecipientPortal:
    """Everything a recipient does: sign in, see the share, view, play, download, sign out."""

    def __init__(
        self, db: Database, audit: AuditLog, clock: Clock, evidence: EvidenceService, rules: PortalRules
    ) -> None:
        self.db, self.audit, self.clock, self.evidence, self.rules = db, audit, clock, evidence, rules
        self._codes = PasswordHasher()

    def invitation(self, link: str) -> tuple[str, str]:
        """Whom a link is for (name, organisation), for the sign-in page; refused once the share ended."""
        with self.db.read() as session:
            share = by_link(session, link)
            if ended := share.ended(self.clock.now()):
                raise Gone(ended)
            recipient = recipient_of(session, share)
            return recipient.name, recipient.organisation

    def sign_in(self, link: str, code: str, *, request: Actor) -> str:
        """Check the access code (throttled); a portal session token when it is right."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            share = by_link(uow.session, link, lock=True)
            if ended := share.ended(now):
                raise Gone(ended)
            actor = _actor(recipient_of(uow.session, share), share, request)
            refusal = self._attempt(uow.session, share, code, actor, now)
            token = None if refusal else self._start_session(uow.session, share, actor, now)
        if refusal is not None:
            raise refusal
        assert token is not None
        return token

    def _attempt(
        self, session: Session, share: ExternalShare, code: str, actor: Actor, now: datetime
    ) -> WitnessboxError | None:
        """Count a try; the refusal to raise after the audit entries are committed, or None."""
        subject = Subject(SHARE, share.id)
        if self._address_is_guessing(session, actor, now):
            self.audit.record(session, AuditTag.DISCLOSURE_PORTAL_SIGNIN_FAILED, actor=actor,
                              subject=subject, details={"address_locked": True})
            wait = int(self.rules.lock.total_seconds())
            return TooManyAttempts("too many wrong codes from your address: try again later", wait)
        if share.locked_until is not None and share.locked_until > now:
            wait = int((share.locked_until - now).total_seconds()) + 1
            self.audit.record(session, AuditTag.DISCLOSURE_PORTAL_SIGNIN_FAILED, actor=actor,
                              subject=subject, details={"locked": True})
            return TooManyAttempts(f"too many wrong codes: try again in {wait // 60 + 1} minutes", wait)
        if self._right(share, code):
            share.failed_attempts, share.locked_until = 0, None
            return None
        share.failed_attempts += 1
        self.audit.record(session, AuditTag.DISCLOSURE_PORTAL_SIGNIN_FAILED, actor=actor,
                          subject=subject, details={"attempt": share.failed_attempts})
        if share.failed_attempts < self.rules.code_attempts:
            return Forbidden("that access code is not right: check it and try again")
        share.failed_attempts, share.locked_until = 0, now + self.rules.lock
        self.audit.record(session, AuditTag.DISCLOSURE_PORTAL_LOCKED, actor=actor, subject=subject,
                          details={"until": share.locked_until.isoformat()})
        wait = int(self.rules.lock.total_seconds())
        return TooManyAttempts(f"too many wrong codes: try again in {wait // 60} minutes", wait)

    def _address_is_guessing(self, session: Session, actor: Actor, now: datetime) -> bool:
        """Whether this address tried many wrong codes lately, whatever the links: read from the audit
        trail, so every app server sees the same count."""
        if actor.source_address is None:
            return False
        failures = select(func.count()).select_from(AuditEvent).where(
            AuditEvent.tag == AuditTag.DISCLOSURE_PORTAL_SIGNIN_FAILED,
            AuditEvent.at > now - self.rules.lock,
            AuditEvent.source_address == actor.source_address,
        )
        return (session.scalar(failures) or 0) >= self.rules.address_attempts

    def _right(self, share: ExternalShare, code: str) -> bool:
        try:
            return self._codes.verify(share.code_hash, normal_code(code))
        except (VerificationError, InvalidHashError):
            return False

    def _start_session(self, session: Session, share: ExternalShare, actor: Actor, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        session.add(RecipientSession(
            id=new_id(), share_id=share.id, token_hash=digest(token), created_at=now,
            expires_at=min(now + self.rules.session, share.expires_at), source_address=actor.source_address,
        ))
        self.audit.record(
            session, AuditTag.DISCLOSURE_PORTAL_SIGNED_IN, actor=actor, subject=Subject(SHARE, share.id)
        )
        return token

    def recipient(self, token: str | None, *, request: Actor) -> Actor:
        """The recipient behind a portal cookie, re-checked on every request: live session, live share."""
        if not token:
            raise PortalSignInNeeded("open the link you were sent and enter your access code")
        now = self.clock.now()
        with self.db.read() as session:
            found = session.scalars(
                select(RecipientSession).where(RecipientSession.token_hash == digest(token))
            ).first()
            if found is None:
                raise PortalSignInNeeded("you are signed out: open the link you were sent again")
            share = session.get(ExternalShare, found.share_id)
            assert share is not None
            if ended := share.ended(now):
                raise Gone(ended)  # the share's end is the news, whatever became of the session
            if found.ended_at is not None:
                raise PortalSignInNeeded("you are signed out: open the link you were sent again")
            if found.expires_at <= now:
                raise PortalSignInNeeded("your sign-in has run out: open the link you were sent again")
            return _actor(recipient_of(session, share), share, request, session_id=found.id)

    def sign_out(self, actor: Actor) -> None:
        """End the recipient's portal session."""
        with self.db.transaction() as uow:
            found = uow.session.get(RecipientSession, actor.session_id)
            if found is not None and found.ended_at is None:
                found.ended_at = self.clock.now()
                self.audit.record(uow.session, AuditTag.DISCLOSURE_PORTAL_SIGNED_OUT, actor=actor,
                                  subject=Subject(SHARE, found.share_id))

    def shared_with(self, actor: Actor) -> Portal:
        """The share's items as the recipient sees them; audited as the portal being opened."""
        with self.db.transaction() as uow:
            share = self._share_of(uow.session, actor)
            self.audit.record(uow.session, AuditTag.DISCLOSURE_PORTAL_OPENED, actor=actor,
                              subject=Subject(SHARE, share.id))
            items = [self.evidence.get(i) for i in share_item_ids(uow.session, share.id)]
            shown = [_portal_item(i) for i in items if self._decide(actor, share, i, Permission.ITEM_VIEW)]
            recipient = recipient_of(uow.session, share)
            return Portal(share.id, recipient.name, recipient.organisation, share.created_by_name,
                          share.expires_at, share.allow_original_download,
                          sorted(shown, key=lambda i: (i.recorded_start, i.id)))

    def open_item(self, actor: Actor, item_id: str) -> PortalItem:
        """One shared item's page; audited as a view."""
        item = self._authorise(actor, item_id, Permission.ITEM_VIEW)
        self._audit_item(actor, item, AuditTag.EVIDENCE_ITEM_VIEWED)
        return _portal_item(item)

    def open_proxy(self, actor: Actor, item_id: str, *, first_request: bool) -> BlobAccess:
        """The browser copy; the first range request of a play is audited as a play."""
        item = self._authorise(actor, item_id, Permission.ITEM_PLAY)
        if first_request:
            self._audit_item(actor, item, AuditTag.EVIDENCE_ITEM_PLAYED)
        return replace(_derivative(item, DerivativeKind.PROXY), until=self._ends(actor))

    def open_thumbnails(self, actor: Actor, item_id: str) -> BlobAccess:
        """The thumbnail strip (part of viewing the item; not audited on its own)."""
        item = self._authorise(actor, item_id, Permission.ITEM_PLAY)
        return _derivative(item, DerivativeKind.THUMBNAIL_STRIP)

    def open_original(self, actor: Actor, item_id: str, *, first_request: bool) -> BlobAccess:
        """The original bytes, only when the share allows downloads; audited as a download."""
        item = self._authorise(actor, item_id, Permission.ITEM_DOWNLOAD)
        if first_request:
            self._audit_item(actor, item, AuditTag.EVIDENCE_ITEM_DOWNLOADED, {"sha256": item.sha256})
        return BlobAccess(item.sha256, item.size, "video/mp4", item.filename, until=self._ends(actor))

    def _ends(self, actor: Actor) -> datetime:
        """When the recipient's access ends by itself: the share's end or the sign-in's, the sooner."""
        with self.db.read() as session:
            share = self._share_of(session, actor)
            found = session.get(RecipientSession, actor.session_id)
            return min(share.expires_at, found.expires_at) if found else share.expires_at

    def _authorise(self, actor: Actor, item_id: str, permission: Permission) -> Item:
        with self.db.read() as session:
            share = self._share_of(session, actor)
        try:
            item = self.evidence.get(item_id)
        except NotFound:
            item = None
        if item is None or not self._decide(actor, share, item, permission):
            raise NotFound(f"no item {item_id} in this share")
        return item

    def _decide(self, actor: Actor, share: ExternalShare, item: Item, permission: Permission) -> bool:
        with self.db.read() as session:
            granted = item.id in share_item_ids(session, share.id)
        facts = ItemFacts(
            officer_id=item.officer_id,
            team_id=item.team_id,
            restricted=item.restricted and not share.restricted_allowed,
            granted=granted,
            quarantined=item.state == ItemState.QUARANTINED,
        )
        return decide(actor, permission, facts) == Access.ALLOW

    def _share_of(self, session: Session, actor: Actor) -> ExternalShare:
        """The actor's share, live (the session was checked moments ago; this closes the gap)."""
        found = session.get(RecipientSession, actor.session_id) if actor.session_id else None
        share = session.get(ExternalShare, found.share_id) if found else None
        if actor.kind != ActorKind.RECIPIENT or share is None or found is None:
            raise PortalSignInNeeded("open the link you were sent and enter your access code")
        if ended := share.ended(self.clock.now()):
            raise Gone(ended)
        return share

    def _audit_item(
        self, actor: Actor, item: Item, tag: AuditTag, extra: dict[str, Any] | None = None
    ) -> None:
        with self.db.transaction() as uow:
            share = self._share_of(uow.session, actor)
            self.audit.record(uow.session, tag, actor=actor, subject=Subject("item", item.id),
                              details={"external_share": share.id, **(extra or {})})

    def status(self, actor: Actor) -> dict[str, Any]:
        """Whether the share is still live (the portal page asks every few seconds)."""
        with self.db.read() as session:
            share = self._share_of(session, actor)
            return {"live": True, "expires_at": share.expires_at.isoformat()}


def by_link(session: Session, link: str, *, lock: bool = False) -> ExternalShare:
    """The share a link opens (its row locked for a sign-in); NotFound for a link that opens nothing."""
    query = select(ExternalShare).where(ExternalShare.link_token_hash == digest(link))
    share = session.scalars(query.with_for_update() if lock else query).first()
    if share is None:
        raise NotFound("this link is not valid: check it was copied whole, or ask the sender")
    return share


def recipient_of(session: Session, share: ExternalShare) -> Recipient:
    """The share's recipient."""
    recipient = session.get(Recipient, share.recipient_id)
    assert recipient is not None
    return recipient


def _actor(
    recipient: Recipient, share: ExternalShare, request: Actor, session_id: str | None = None
) -> Actor:
    """The recipient as an actor: their name snapshot, this request's address, the share's scopes."""
    scopes = {Permission.ITEM_VIEW, Permission.ITEM_PLAY}
    if share.allow_original_download:
        scopes.add(Permission.ITEM_DOWNLOAD)
    return Actor(
        kind=ActorKind.RECIPIENT,
        id=recipient.id,
        name=f"{recipient.name}, {recipient.organisation}",
        scopes=frozenset(str(scope) for scope in scopes),
        session_id=session_id,
    ).with_request(request.request_id, request.source_address)


def share_item_ids(session: Session, share_id: str) -> list[str]:
    """The ids of the items a share holds."""
    query = select(ExternalShareItem.item_id).where(ExternalShareItem.share_id == share_id)
    return list(session.scalars(query))


def _portal_item(item: Item) -> PortalItem:
    return PortalItem(
        id=item.id,
        title=item.title or item.filename,
        recorded_start=item.recorded_start,
        duration_s=item.duration_s,
        playable=item.derivative(DerivativeKind.PROXY) is not None,
        has_thumbnails=item.derivative(DerivativeKind.THUMBNAIL_STRIP) is not None,
    )


def _derivative(item: Item, kind: DerivativeKind) -> BlobAccess:
    made = item.derivative(kind)
    if made is None:
        raise NotFound(f"this recording has no {kind} yet")
    return BlobAccess(made.sha256, made.size, made.media_type, f"{item.id}-{kind}")
