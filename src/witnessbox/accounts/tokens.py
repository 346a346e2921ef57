"""API tokens for scripts and docks: random, shown once, SHA-256 at rest, scoped, expiring."""

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from witnessbox.accounts.models import ApiToken, User
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import actor_for
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, Forbidden, NotAuthenticated
from witnessbox.core.ids import new_id, new_token
from witnessbox.db.session import Database, UnitOfWork

USER_TOKEN_PREFIX = "wbx_api"  # noqa: S105 - a label, not a secret
DOCK_TOKEN_PREFIX = "wbx_dock"  # noqa: S105 - a label, not a secret
LAST_USED_EVERY = timedelta(minutes=1)


def token_digest(token: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe at-rest form."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    """Issues, checks and revokes bearer tokens."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self.db, self.audit, self.clock = db, audit, clock

    def issue_user_token(
        self,
        name: str,
        *,
        actor: Actor,
        scopes: frozenset[Permission] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiToken, str]:
        """A token for the actor's own scripts, no wider than the actor; returns it and its secret."""
        if actor.kind != ActorKind.USER:
            raise Forbidden("only people hold API tokens")
        if expires_at is not None and expires_at <= self.clock.now():
            raise Conflict("expiry must be in the future")
        secret = new_token(USER_TOKEN_PREFIX)
        with self.db.transaction() as uow:
            token = self._add(
                uow,
                "user",
                name,
                secret,
                user_id=actor.id,
                scopes=sorted(scopes) if scopes is not None else None,
                expires_at=expires_at,
            )
            self.audit.record(
                uow.session,
                AuditTag.ACCOUNT_TOKEN_ISSUED,
                actor=actor,
                subject=Subject("token", token.id),
                details={
                    "name": name,
                    "scopes": token.scopes,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
        return token, secret

    def issue_dock_token(self, uow: UnitOfWork, dock_id: str, dock_name: str) -> str:
        """A dock's credential, inside the transaction that registers the dock."""
        secret = new_token(DOCK_TOKEN_PREFIX)
        scopes = sorted(str(p) for p in (Permission.UPLOAD_CREATE, Permission.ITEM_CONFIRM))
        self._add(uow, "dock", f"dock {dock_name}", secret, dock_id=dock_id, scopes=scopes)
        return secret

    def _add(
        self,
        uow: UnitOfWork,
        kind: str,
        name: str,
        secret: str,
        *,
        user_id: str | None = None,
        dock_id: str | None = None,
        scopes: list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> ApiToken:
        token = ApiToken(
            id=new_id(),
            kind=kind,
            user_id=user_id,
            dock_id=dock_id,
            name=name.strip()[:128],
            token_hash=token_digest(secret),
            scopes=scopes if scopes is not None else ["*"],
            created_at=self.clock.now(),
            expires_at=expires_at,
        )
        uow.session.add(token)
        return token

    def authenticate(self, secret: str) -> Actor:
        """The actor a live token stands for; NotAuthenticated for unknown, revoked or expired ones."""
        now = self.clock.now()
        with self.db.read() as session:
            token = session.scalars(
                select(ApiToken).where(ApiToken.token_hash == token_digest(secret))
            ).first()
            if token is None or token.revoked_at is not None:
                raise NotAuthenticated("unknown or revoked token")
            if token.expires_at is not None and token.expires_at <= now:
                raise NotAuthenticated("token has expired")
            actor = self._actor(session, token)
        # Reads stay reads: "last used" is kept to the minute, not written on every request.
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
            with self.db.transaction() as uow:
                uow.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        return actor

    def _actor(self, session: Session, token: ApiToken) -> Actor:
        scopes = None if token.scopes == ["*"] else frozenset(token.scopes)
        if token.kind == "dock":
            return Actor(kind=ActorKind.DOCK, id=token.dock_id or "", name=token.name, scopes=scopes)
        user = session.get(User, token.user_id)
        if user is None or not user.active:
            raise NotAuthenticated("the token's owner is disabled")
        return replace(actor_for(user), scopes=scopes)

    def revoke(self, token_id: str, *, actor: Actor) -> None:
        """Revoke a token (its owner, or an administrator)."""
        with self.db.transaction() as uow:
            token = uow.session.get(ApiToken, token_id)
            if token is None or (token.user_id != actor.id and not actor.is_admin):
                raise Forbidden("not your token")
            token.revoked_at = self.clock.now()
            self.audit.record(
                uow.session, AuditTag.ACCOUNT_TOKEN_REVOKED, actor=actor, subject=Subject("token", token.id)
            )

    def revoke_dock(self, uow: UnitOfWork, dock_id: str) -> None:
        """Revoke every credential of a dock, in the caller's transaction."""
        for token in uow.session.scalars(select(ApiToken).where(ApiToken.dock_id == dock_id)):
            token.revoked_at = token.revoked_at or self.clock.now()

    def list_tokens(self, *, actor: Actor) -> list[ApiToken]:
        """The actor's own tokens."""
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.created_at.desc())
                )
            )
