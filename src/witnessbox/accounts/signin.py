"""Signing in with a password, throttled; server-side sessions with idle and absolute time-outs."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import SignInAttempt, User, WebSession
from witnessbox.accounts.passwords import PasswordPolicy
from witnessbox.accounts.service import actor_for
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, NotAuthenticated, NotFound, TooManyAttempts
from witnessbox.core.ids import new_id, new_token
from witnessbox.db.session import Database

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SignInService:
    """Password checks and browser sessions."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, passwords: PasswordPolicy) -> None:
        self.db, self.audit, self.clock, self.passwords = db, audit, clock, passwords

    def check_password(self, username: str, password: str, *, request: Actor) -> User:
        """The user for a right collar number (or email) and password; throttled and audited."""
        username = username.strip()[:128]
        self._throttle(username, request.source_address)
        with self.db.read() as session:
            user = session.scalars(
                select(User).where(or_(User.collar_number == username, User.email == username.lower()))
            ).first()
        ok = self.passwords.verify(user.password_hash if user else None, password)
        ok = ok and user is not None and user.active
        self._record_attempt(username, request, ok)
        if not ok or user is None:
            raise NotAuthenticated("wrong username or password")
        return user

    def _throttle(self, username: str, address: str | None) -> None:
        since = self.clock.now() - THROTTLE_WINDOW
        failed = (
            select(func.count())
            .select_from(SignInAttempt)
            .where(SignInAttempt.at > since, SignInAttempt.succeeded.is_(False))
        )
        with self.db.read() as session:
            by_account = session.scalar(failed.where(SignInAttempt.username == username)) or 0
            by_address = session.scalar(failed.where(SignInAttempt.source_address == address)) or 0
        if by_account >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS:
            wait = int(THROTTLE_WINDOW.total_seconds())
            raise TooManyAttempts(f"too many failed sign-ins; try again in {wait // 60} minutes", wait)

    def _record_attempt(self, username: str, request: Actor, ok: bool) -> None:
        with self.db.transaction() as uow:
            uow.session.add(
                SignInAttempt(
                    id=new_id(),
                    at=self.clock.now(),
                    username=username,
                    source_address=request.source_address,
                    succeeded=ok,
                )
            )
            if not ok:
                self.audit.record(
                    uow.session, AuditTag.ACCOUNT_SIGNIN_FAILED, actor=request, details={"username": username}
                )

    def start_session(
        self,
        user: User,
        *,
        request: Actor,
        user_agent: str | None = None,
        second_factor_pending: bool = False,
    ) -> str:
        """Open a session; return the cookie token (only its hash is stored)."""
        token, now = new_token("wbx_session"), self.clock.now()
        with self.db.transaction() as uow:
            row = WebSession(
                id=new_id(),
                token_hash=_digest(token),
                user_id=user.id,
                username=user.collar_number,
                csrf_token=secrets.token_urlsafe(32),
                source_address=request.source_address,
                user_agent=(user_agent or "")[:255],
                second_factor_pending=second_factor_pending,
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_ABSOLUTE,
            )
            uow.session.add(row)
            if not second_factor_pending:
                self._audit_started(uow.session, row, user, request)
        return token

    def _audit_started(self, session: Session, row: WebSession, user: User, request: Actor) -> None:
        actor = actor_for(user).with_request(request.request_id, request.source_address)
        self.audit.record(
            session,
            AuditTag.ACCOUNT_SESSION_STARTED,
            actor=actor,
            subject=Subject("session", row.id),
        )

    def session(self, token: str, *, allow_pending: bool = False) -> tuple[WebSession, User]:
        """The live session and its user; slides the idle time-out forward."""
        now = self.clock.now()
        with self.db.transaction() as uow:
            row = uow.session.scalars(
                select(WebSession).where(WebSession.token_hash == _digest(token))
            ).first()
            if row is None or row.revoked_at or row.expires_at < now or row.last_seen_at + SESSION_IDLE < now:
                raise NotAuthenticated("session has ended; sign in again")
            if row.second_factor_pending and not allow_pending:
                raise NotAuthenticated("finish signing in with your authenticator code")
            user = uow.session.get(User, row.user_id)
            if user is None or not user.active:
                raise NotAuthenticated("account disabled")
            row.last_seen_at = now
        return row, user

    def session_actor(self, token: str) -> Actor:
        """The actor behind a live, fully signed-in session cookie."""
        row, user = self.session(token)
        actor = actor_for(user)
        return Actor(
            kind=actor.kind,
            id=actor.id,
            name=actor.name,
            roles=actor.roles,
            teams=actor.teams,
            supervises=actor.supervises,
            session_id=row.id,
        )

    def check_csrf(self, token: str, given: str | None) -> None:
        """Refuse a state-changing form that lacks this session's CSRF token."""
        row, _user = self.session(token, allow_pending=True)
        if not given or not hmac.compare_digest(row.csrf_token, given):
            raise Forbidden("the form has expired or did not come from this site; reload and try again")

    def csrf_token(self, token: str) -> str:
        """The CSRF token to put in this session's forms."""
        return self.session(token, allow_pending=True)[0].csrf_token

    def complete_second_factor(self, token: str, *, request: Actor) -> None:
        """Mark a session fully signed in once its second factor checked out."""
        with self.db.transaction() as uow:
            row = uow.session.scalars(select(WebSession).where(WebSession.token_hash == _digest(token))).one()
            row.second_factor_pending = False
            user = uow.session.get(User, row.user_id)
            assert user is not None
            self._audit_started(uow.session, row, user, request)

    def end_session(self, token: str, *, actor: Actor) -> None:
        """Sign out: the session can never be used again."""
        with self.db.transaction() as uow:
            row = uow.session.scalars(
                select(WebSession).where(WebSession.token_hash == _digest(token))
            ).first()
            if row is not None and row.revoked_at is None:
                row.revoked_at = self.clock.now()
                self.audit.record(
                    uow.session,
                    AuditTag.ACCOUNT_SESSION_ENDED,
                    actor=actor,
                    subject=Subject("session", row.id),
                )

    def list_sessions(self, *, actor: Actor, user_id: str | None = None) -> list[WebSession]:
        """Live sessions of the actor (or, for administrators, of any user)."""
        target = user_id or actor.id
        if target != actor.id and not actor.is_admin:
            raise Forbidden("you may only list your own sessions")
        now = self.clock.now()
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(WebSession)
                    .where(
                        WebSession.user_id == target,
                        WebSession.revoked_at.is_(None),
                        WebSession.expires_at > now,
                        WebSession.last_seen_at > now - SESSION_IDLE,
                    )
                    .order_by(WebSession.created_at.desc())
                )
            )

    def revoke_session(self, session_id: str, *, actor: Actor) -> None:
        """End a session remotely (its owner, or an administrator)."""
        with self.db.transaction() as uow:
            row = uow.session.get(WebSession, session_id)
            if row is None or (row.user_id != actor.id and not actor.is_admin):
                raise NotFound(f"no session {session_id}")
            row.revoked_at = row.revoked_at or self.clock.now()
            self.audit.record(
                uow.session, AuditTag.ACCOUNT_SESSION_REVOKED, actor=actor, subject=Subject("session", row.id)
            )
