"""Signing in with a password, throttled; server-side sessions with idle and absolute time-outs."""

import hashlib
import hmac
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from witnessbox.accounts import totp
from witnessbox.accounts.models import SignInAttempt, User, WebSession
from witnessbox.accounts.passwords import PasswordPolicy
from witnessbox.accounts.service import actor_for
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)
from witnessbox.core.ids import new_id, new_token
from witnessbox.db.session import Database

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
LAST_SEEN_EVERY = timedelta(minutes=1)
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

    def _record_attempt(
        self, username: str, request: Actor, ok: bool, failed: AuditTag = AuditTag.ACCOUNT_SIGNIN_FAILED
    ) -> None:
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
                self.audit.record(uow.session, failed, actor=request, details={"username": username})

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
        """The live session and its user; slides the idle time-out forward.

        Read-only on almost every request (a player sends many Range requests): the
        last-seen time is written at most once a minute, which is all the idle
        time-out needs.
        """
        now = self.clock.now()
        with self.db.read() as session:
            row = session.scalars(select(WebSession).where(WebSession.token_hash == _digest(token))).first()
            if row is None or row.revoked_at or row.expires_at < now or row.last_seen_at + SESSION_IDLE < now:
                raise NotAuthenticated("session has ended; sign in again")
            if row.second_factor_pending and not allow_pending:
                raise NotAuthenticated("finish signing in with your authenticator code")
            user = session.get(User, row.user_id)
            if user is None or not user.active:
                raise NotAuthenticated("account disabled")
        if now - row.last_seen_at > LAST_SEEN_EVERY:
            with self.db.transaction() as uow:
                seen = update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now)
                uow.session.execute(seen)
        return row, user

    def session_and_csrf(self, token: str) -> tuple[Actor, str]:
        """The actor behind a live session cookie, and the CSRF token its forms carry (one lookup)."""
        row, user = self.session(token)
        return replace(actor_for(user), session_id=row.id), row.csrf_token

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

    def check_second_factor(self, token: str, code: str, *, request: Actor) -> None:
        """Finish a pending sign-in with an authenticator code; throttled and audited like passwords."""
        row, user = self.session(token, allow_pending=True)
        if not row.second_factor_pending:
            return
        self._throttle(row.username, request.source_address)
        ok = self._use_code(user, code)
        self._record_attempt(row.username, request, ok, failed=AuditTag.ACCOUNT_TOTP_FAILED)
        if not ok:
            raise NotAuthenticated("that code is wrong or was already used; wait for the next one")
        self.complete_second_factor(token, request=request)

    def enable_second_factor(self, secret: str, code: str, *, actor: Actor) -> None:
        """Turn on authenticator codes once the person proves their app holds `secret`."""
        if not totp.looks_like_secret(secret):
            raise InvalidInput("the enrolment has expired; start again")
        step = totp.matching_step(secret, code, self.clock.now())
        if step is None:
            raise InvalidInput("that code does not match; check the phone's clock and try the next code")
        with self.db.transaction() as uow:
            user = self._own_user(uow.session, actor)
            if user.totp_secret:
                raise Conflict("authenticator codes are already on; turn them off first")
            user.totp_secret, user.totp_last_step = secret, step
            self.audit.record(
                uow.session, AuditTag.ACCOUNT_TOTP_ENABLED, actor=actor, subject=Subject("user", user.id)
            )

    def disable_second_factor(self, code: str, *, actor: Actor) -> None:
        """Turn authenticator codes off; a current code proves the person still holds the app."""
        with self.db.read() as session:
            user = self._own_user(session, actor)
        if not user.totp_secret:
            raise Conflict("authenticator codes are not on")
        self._throttle(user.collar_number, actor.source_address)
        ok = self._use_code(user, code)
        self._record_attempt(user.collar_number, actor, ok, failed=AuditTag.ACCOUNT_TOTP_FAILED)
        if not ok:
            raise InvalidInput("that code is wrong or was already used; wait for the next one")
        with self.db.transaction() as uow:
            user = self._own_user(uow.session, actor)
            user.totp_secret = user.totp_last_step = None
            self.audit.record(
                uow.session, AuditTag.ACCOUNT_TOTP_DISABLED, actor=actor, subject=Subject("user", user.id)
            )

    def _use_code(self, user: User, code: str) -> bool:
        """Check a code and claim its time-step, atomically, so a code (or an older one) works once."""
        if not user.totp_secret:
            return False
        step = totp.matching_step(user.totp_secret, code, self.clock.now(), after=user.totp_last_step)
        if step is None:
            return False
        with self.db.transaction() as uow:
            claimed = uow.session.execute(
                update(User)
                .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step)
            )
            return cast("CursorResult[Any]", claimed).rowcount == 1

    def _own_user(self, session: Session, actor: Actor) -> User:
        user = session.get(User, actor.id)
        if user is None:
            raise NotFound("no such user")
        return user
