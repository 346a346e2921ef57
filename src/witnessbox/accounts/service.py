"""Signing in: the configured administrator, server-side sessions, and bearer credentials.

This is the first, deliberately small account model: one administrator from
configuration, plus docks. Every route asks `authenticate` through one
dependency, so richer accounts and the access policy slot in here.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import select

from witnessbox.accounts.models import WebSession
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import NotAuthenticated
from witnessbox.core.ids import new_id, new_token
from witnessbox.db.session import Database

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
_hasher = PasswordHasher()


@dataclass(frozen=True)
class AdminAccount:
    """The configured administrator: a name and an argon2 hash of the password."""

    username: str
    password_hash: str

    @classmethod
    def from_password(cls, username: str, password: str) -> "AdminAccount":
        """Hash the configured password once at start-up."""
        return cls(username=username, password_hash=_hasher.hash(password))

    def actor(self) -> Actor:
        """The administrator as an acting party."""
        return Actor(kind=ActorKind.USER, id=f"admin:{self.username}", name=self.username,
                     is_admin=True)


class AccountService:
    """Checks credentials and keeps browser sessions."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, admin: AdminAccount) -> None:
        self.db, self.audit, self.clock, self.admin = db, audit, clock, admin

    def check_password(self, username: str, password: str, *, request: Actor) -> Actor:
        """The actor for a correct username and password; NotAuthenticated (audited) otherwise."""
        if hmac.compare_digest(username, self.admin.username) and _matches(self.admin, password):
            return self.admin.actor().with_request(request.request_id, request.source_address)
        with self.db.transaction() as uow:
            self.audit.record(uow.session, AuditTag.ACCOUNT_SIGNIN_FAILED, actor=request,
                              details={"username": username[:128]})
        raise NotAuthenticated("wrong username or password")

    def start_session(self, actor: Actor) -> str:
        """Open a server-side session; return the cookie token (only its hash is stored)."""
        token, now = new_token("wbx_session"), self.clock.now()
        with self.db.transaction() as uow:
            row = WebSession(id=new_id(), token_hash=_digest(token), username=actor.name,
                             created_at=now, last_seen_at=now, expires_at=now + SESSION_ABSOLUTE)
            uow.session.add(row)
            self.audit.record(uow.session, AuditTag.ACCOUNT_SESSION_STARTED, actor=actor,
                              subject=Subject("session", row.id))
        return token

    def session_actor(self, token: str) -> Actor:
        """The actor behind a live session cookie; it slides the idle time-out forward."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            row = uow.session.scalars(
                select(WebSession).where(WebSession.token_hash == _digest(token))).first()
            if row is None or row.revoked_at or row.expires_at < now \
                    or row.last_seen_at + SESSION_IDLE < now:
                raise NotAuthenticated("session has ended; sign in again")
            row.last_seen_at = now
        return self.admin.actor()

    def end_session(self, token: str, *, actor: Actor) -> None:
        """Sign out: the session can never be used again."""
        with self.db.transaction() as uow:
            row = uow.session.scalars(
                select(WebSession).where(WebSession.token_hash == _digest(token))).first()
            if row is not None and row.revoked_at is None:
                row.revoked_at = self.clock.now()
                self.audit.record(uow.session, AuditTag.ACCOUNT_SESSION_ENDED, actor=actor,
                                  subject=Subject("session", row.id))


def _matches(admin: AdminAccount, password: str) -> bool:
    try:
        return _hasher.verify(admin.password_hash, password)
    except VerificationError:
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
