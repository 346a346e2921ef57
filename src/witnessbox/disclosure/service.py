"""External shares: a sharer gives a named outside recipient a link and an access code, sent by
e-mail in two messages or shown once; withdraws it; reads who opened what in its access report.
The recipient's side is `portal.RecipientPortal`, reached as `ExternalShareService.portal`.
"""

import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.policy import may_share_outside
from witnessbox.accounts.roles import Permission, Role
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.cases.service import CaseService
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TemporaryFailure
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.disclosure.mail import Mailer, share_letters
from witnessbox.disclosure.models import ExternalShare, ExternalShareItem, Recipient
from witnessbox.disclosure.portal import (
    SHARE,
    PortalRules,
    RecipientPortal,
    digest,
    normal_code,
    recipient_of,
    share_item_ids,
)
from witnessbox.disclosure.schemas import AccessEntry, ExternalShareCreated, ExternalShareIn, ExternalShareOut
from witnessbox.evidence.models import Item
from witnessbox.evidence.service import EvidenceService

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 10  # 50 bits: guessed only through the throttled sign-in, which needs the link too
LONGEST_SHARE = timedelta(days=366)
# What the access report lists besides the share's own entries: the recipient's item accesses.
ITEM_TAGS = (AuditTag.EVIDENCE_ITEM_VIEWED, AuditTag.EVIDENCE_ITEM_PLAYED, AuditTag.EVIDENCE_ITEM_DOWNLOADED)


def new_code() -> str:
    """An access code like `K7QF2-MX9TR`: easy to read out over the telephone."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


class ExternalShareService:
    """Sharing outside the force; `portal` serves the recipients."""

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
        self.portal = RecipientPortal(db, audit, clock, evidence, rules)

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
            item_ids = share_item_ids(session, share.id)
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


def _out(session: Session, share: ExternalShare, now: datetime) -> ExternalShareOut:
    recipient = recipient_of(session, share)
    return ExternalShareOut(
        id=share.id,
        recipient_name=recipient.name,
        organisation=recipient.organisation,
        kind=recipient.kind,
        email=recipient.email,
        case_id=share.case_id,
        item_ids=share_item_ids(session, share.id),
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
