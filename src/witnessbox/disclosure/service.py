"""External shares: a sharer gives a named outside recipient a link and an access code; the
recipient signs in to the portal and sees, plays and (if allowed) downloads only what was shared.

Every portal request comes through `recipient`, which re-reads the share: once it is revoked or
expired, nothing more is served, not even the next range request of a playing video.
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.policy import Access, ItemFacts, decide, may_share_outside
from witnessbox.accounts.roles import Permission, Role
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.service import CaseService
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    TemporaryFailure,
    TooManyAttempts,
    WitnessboxError,
)
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.disclosure.mail import Mailer, share_letters
from witnessbox.disclosure.models import ExternalShare, ExternalShareItem, Recipient, RecipientSession
from witnessbox.disclosure.schemas import AccessEntry, ExternalShareCreated, ExternalShareIn, ExternalShareOut
from witnessbox.evidence.models import DerivativeKind, Item, ItemState
from witnessbox.evidence.service import BlobAccess, EvidenceService

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 10  # 50 bits: guessed only through the throttled sign-in, which needs the link too
LONGEST_SHARE = timedelta(days=366)
SHARE = "external_share"
# What the access report lists besides the share's own entries: the recipient's item accesses.
ITEM_TAGS = (AuditTag.EVIDENCE_ITEM_VIEWED, AuditTag.EVIDENCE_ITEM_PLAYED, AuditTag.EVIDENCE_ITEM_DOWNLOADED)


class PortalSignInNeeded(WitnessboxError):
    """No live portal session: open the link you were sent and enter the access code."""

    status = 401


@dataclass(frozen=True)
class PortalRules:
    """How the portal throttles codes and how long a sign-in lasts (settings)."""

    code_attempts: int = 5
    lock: timedelta = timedelta(minutes=15)
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


def new_code() -> str:
    """An access code like `K7QF2-MX9TR`: easy to read out over the telephone."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normal_code(code: str) -> str:
    """What a recipient typed, without spaces or dashes, in capitals."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


class ExternalShareService:
    """Sharing outside the force, and the recipient portal's every request."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        evidence: EvidenceService,
        cases: CaseService,
        mailer: Mailer | None,
        rules: PortalRules,
    ) -> None:
        self.db, self.audit, self.clock, self.evidence, self.cases = db, audit, clock, evidence, cases
        self.mailer, self.rules = mailer, rules
        self._codes = PasswordHasher()

    # --- the sharer's side -------------------------------------------------------------------------------

    def may_share(self, actor: Actor) -> bool:
        """Whether the actor may share outside the force (to offer the button)."""
        return may_share_outside(actor, investigators_may=self.rules.investigators_may_disclose)

    def create(
        self, request: ExternalShareIn, *, actor: Actor, portal_url: str
    ) -> ExternalShareCreated:
        """Share the chosen items with one recipient: validate, authorise each item, record, then send."""
        now = self.clock.now()
        self._check(request, actor, now)
        item_ids = self._authorised_items(request, actor)
        items = [self.evidence.get(item_id) for item_id in item_ids]
        link, code = secrets.token_urlsafe(32), new_code()
        delivery = "email" if self.mailer and request.email else "shown"
        with self.db.transaction() as uow:
            share = self._record(uow.session, request, actor, now, items, link, code, delivery)
            out = _out(uow.session, share, now)
        mail_error = None
        if delivery == "email":
            mail_error = self._send(request, actor, portal_url + link, code, share)
        shown = delivery == "shown" or mail_error is not None
        return ExternalShareCreated(
            **out.model_dump(),
            link=portal_url + link if shown else None,
            code=code if shown else None,
            mail_error=mail_error,
        )

    def _check(self, request: ExternalShareIn, actor: Actor, now: datetime) -> None:
        if not self.may_share(actor):  # first: someone who may not share learns nothing from the checks
            raise Forbidden("only disclosure officers (and professional standards) share outside the force")
        if (request.case_id is None) == (request.item_ids is None):
            raise InvalidInput("share either a case (case_id) or some items (item_ids), not both")
        if request.item_ids is not None and not request.item_ids:
            raise InvalidInput("choose at least one item to share")
        if not request.recipient_name.strip() or not request.organisation.strip():
            raise InvalidInput("name the recipient and their organisation")
        if request.email is not None and "@" not in request.email.strip(" @"):
            raise InvalidInput("the e-mail address does not look like one")
        if request.expires_at <= now:
            raise Conflict("the expiry must be in the future")
        if request.expires_at > now + LONGEST_SHARE:
            raise Conflict("a share lasts at most a year: share again when it ends")

    def _authorised_items(self, request: ExternalShareIn, actor: Actor) -> list[str]:
        """The items to share: each one the sharer may open (all or nothing); a case's as they are now."""
        if request.case_id is not None:
            ids = [item.id for item in self.cases.items(request.case_id, actor=actor)]
            if not ids:
                raise Conflict("the case has no items you may see: nothing to share")
        else:
            ids = list(dict.fromkeys(request.item_ids or []))
        for item_id in ids:
            self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor, reason=request.reason)
        return ids

    def _record(
        self,
        session: Session,
        request: ExternalShareIn,
        actor: Actor,
        now: datetime,
        items: list[Item],
        link: str,
        code: str,
        delivery: str,
    ) -> ExternalShare:
        recipient = Recipient(
            id=new_id(),
            name=request.recipient_name.strip(),
            organisation=request.organisation.strip(),
            kind=request.kind,
            email=request.email.strip() if request.email else None,
            created_at=now,
        )
        share = ExternalShare(
            id=new_id(),
            recipient_id=recipient.id,
            created_by=actor.id,
            created_by_name=actor.name,
            case_id=request.case_id,
            note=request.note.strip(),
            allow_original_download=request.allow_original_download,
            restricted_allowed=actor.has_role(Role.PROFESSIONAL_STANDARDS),
            created_at=now,
            expires_at=request.expires_at,
            link_token_hash=digest(link),
            code_hash=self._codes.hash(normal_code(code)),
            failed_attempts=0,
            delivery=delivery,
        )
        session.add(recipient)
        session.flush()  # no ORM relationship orders the inserts: the recipient row first
        session.add(share)
        session.flush()
        session.add_all(ExternalShareItem(id=new_id(), share_id=share.id, item_id=i.id) for i in items)
        self.audit.record(
            session,
            AuditTag.DISCLOSURE_SHARE_CREATED,
            actor=actor,
            subject=Subject(SHARE, share.id),
            details={
                "recipient": recipient.name,
                "organisation": recipient.organisation,
                "kind": str(recipient.kind),
                "case": request.case_id,
                "items": [i.id for i in items],
                "allow_original_download": share.allow_original_download,
                "expires_at": share.expires_at.isoformat(),
                "delivery": delivery,
            },
        )
        return share

    def _send(
        self, request: ExternalShareIn, actor: Actor, link: str, code: str, share: ExternalShare
    ) -> str | None:
        """E-mail the link and the code (after commit); the failure's reason when the server refused."""
        assert self.mailer is not None and request.email is not None
        letters = share_letters(
            request.email.strip(),
            recipient=request.recipient_name.strip(),
            sharer=actor.name,
            link=link,
            code=code,
            expires=share.expires_at.strftime("%d %B %Y %H:%M UTC"),
        )
        try:
            self.mailer.send(letters)
        except TemporaryFailure as failure:
            return failure.reason
        with self.db.transaction() as uow:
            self.audit.record(
                uow.session,
                AuditTag.DISCLOSURE_SHARE_SENT,
                actor=actor,
                subject=Subject(SHARE, share.id),
                details={"to": request.email.strip(), "messages": len(letters)},
            )
        return None

    def revoke(self, share_id: str, *, actor: Actor) -> ExternalShareOut:
        """Withdraw a share at once: the recipient's next request is refused, whatever it is for."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            share = self._managed(uow.session, share_id, actor)
            if share.revoked_at is None:
                share.revoked_at = now  # every portal request reads this: the next one is refused
                self.audit.record(
                    uow.session,
                    AuditTag.DISCLOSURE_SHARE_REVOKED,
                    actor=actor,
                    subject=Subject(SHARE, share.id),
                )
            return _out(uow.session, share, now)

    def get(self, share_id: str, *, actor: Actor) -> ExternalShareOut:
        """One share, for its sharer (or professional standards, or an administrator)."""
        with self.db.read() as session:
            return _out(session, self._managed(session, share_id, actor), self.clock.now())

    def shares_by(self, actor: Actor) -> list[ExternalShareOut]:
        """The shares the actor made, newest first (professional standards: every share)."""
        if not self.may_share(actor) and not actor.has_role(Role.PROFESSIONAL_STANDARDS):
            raise Forbidden("only disclosure officers (and professional standards) share outside the force")
        query = select(ExternalShare).order_by(ExternalShare.created_at.desc(), ExternalShare.id.desc())
        if not actor.has_role(Role.PROFESSIONAL_STANDARDS):
            query = query.where(ExternalShare.created_by == actor.id)
        with self.db.read() as session:
            now = self.clock.now()
            return [_out(session, share, now) for share in session.scalars(query.limit(500))]

    def access_report(self, share_id: str, *, actor: Actor) -> list[AccessEntry]:
        """Who opened what, when and from where: read from the audit trail, oldest first."""
        with self.db.read() as session:
            share = self._managed(session, share_id, actor)
            item_ids = _item_ids(session, share.id)
            own = and_(AuditEvent.subject_type == SHARE, AuditEvent.subject_id == share.id)
            accesses = and_(
                AuditEvent.subject_type == "item",
                AuditEvent.subject_id.in_(item_ids),
                AuditEvent.actor_kind == str(ActorKind.RECIPIENT),
                AuditEvent.actor_id == share.recipient_id,
                AuditEvent.tag.in_([str(tag) for tag in ITEM_TAGS]),
            )
            events = session.scalars(select(AuditEvent).where(or_(own, accesses)).order_by(AuditEvent.seq))
            return [_entry(event) for event in events]

    def _managed(self, session: Session, share_id: str, actor: Actor) -> ExternalShare:
        share = session.get(ExternalShare, share_id)
        overseer = actor.has_role(Role.PROFESSIONAL_STANDARDS) or actor.is_admin
        if share is None or actor.kind != ActorKind.USER or not (share.created_by == actor.id or overseer):
            raise NotFound(f"no external share {share_id}")
        return share

    # --- the recipient's side ----------------------------------------------------------------------------

    def invitation(self, link: str) -> tuple[str, str]:
        """Whom a link is for (name, organisation), for the sign-in page; refused once the share ended."""
        with self.db.read() as session:
            share = _by_link(session, link)
            if ended := share.ended(self.clock.now()):
                raise Gone(ended)
            recipient = _recipient(session, share)
            return recipient.name, recipient.organisation

    def sign_in(self, link: str, code: str, *, request: Actor) -> str:
        """Check the access code (throttled); a portal session token when it is right."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            share = _by_link(uow.session, link, lock=True)
            if ended := share.ended(now):
                raise Gone(ended)
            actor = _actor(_recipient(uow.session, share), share, request)
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
            return _actor(_recipient(session, share), share, request, session_id=found.id)

    def sign_out(self, actor: Actor) -> None:
        """End the recipient's portal session."""
        with self.db.transaction() as uow:
            found = uow.session.get(RecipientSession, actor.session_id)
            if found is not None and found.ended_at is None:
                found.ended_at = self.clock.now()
                self.audit.record(uow.session, AuditTag.DISCLOSURE_PORTAL_SIGNED_OUT, actor=actor,
                                  subject=Subject(SHARE, found.share_id))

    def portal(self, actor: Actor) -> Portal:
        """The share's items as the recipient sees them; audited as the portal being opened."""
        with self.db.transaction() as uow:
            share = self._share_of(uow.session, actor)
            self.audit.record(uow.session, AuditTag.DISCLOSURE_PORTAL_OPENED, actor=actor,
                              subject=Subject(SHARE, share.id))
            items = [self.evidence.get(i) for i in _item_ids(uow.session, share.id)]
            shown = [_portal_item(i) for i in items if self._decide(actor, share, i, Permission.ITEM_VIEW)]
            recipient = _recipient(uow.session, share)
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
        return _derivative(item, DerivativeKind.PROXY)

    def open_thumbnails(self, actor: Actor, item_id: str) -> BlobAccess:
        """The thumbnail strip (part of viewing the item; not audited on its own)."""
        item = self._authorise(actor, item_id, Permission.ITEM_PLAY)
        return _derivative(item, DerivativeKind.THUMBNAIL_STRIP)

    def open_original(self, actor: Actor, item_id: str, *, first_request: bool) -> BlobAccess:
        """The original bytes, only when the share allows downloads; audited as a download."""
        item = self._authorise(actor, item_id, Permission.ITEM_DOWNLOAD)
        if first_request:
            self._audit_item(actor, item, AuditTag.EVIDENCE_ITEM_DOWNLOADED, {"sha256": item.sha256})
        return BlobAccess(item.sha256, item.size, "video/mp4", item.filename)

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
            granted = item.id in _item_ids(session, share.id)
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


def _by_link(session: Session, link: str, *, lock: bool = False) -> ExternalShare:
    query = select(ExternalShare).where(ExternalShare.link_token_hash == digest(link))
    share = session.scalars(query.with_for_update() if lock else query).first()
    if share is None:
        raise NotFound("this link is not valid: check it was copied whole, or ask the sender")
    return share


def _recipient(session: Session, share: ExternalShare) -> Recipient:
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


def _item_ids(session: Session, share_id: str) -> list[str]:
    query = select(ExternalShareItem.item_id).where(ExternalShareItem.share_id == share_id)
    return list(session.scalars(query))


def _out(session: Session, share: ExternalShare, now: datetime) -> ExternalShareOut:
    recipient = _recipient(session, share)
    return ExternalShareOut(
        id=share.id,
        recipient_name=recipient.name,
        organisation=recipient.organisation,
        kind=recipient.kind,
        email=recipient.email,
        case_id=share.case_id,
        item_ids=_item_ids(session, share.id),
        allow_original_download=share.allow_original_download,
        created_by_name=share.created_by_name,
        created_at=share.created_at,
        expires_at=share.expires_at,
        revoked_at=share.revoked_at,
        delivery=share.delivery,
        live=share.ended(now) is None,
    )


def _entry(event: AuditEvent) -> AccessEntry:
    return AccessEntry(
        at=event.at,
        action=event.tag,
        actor=event.actor_name,
        actor_kind=event.actor_kind,
        source_address=event.source_address,
        item_id=event.subject_id if event.subject_type == "item" else None,
        details=event.details,
    )


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
