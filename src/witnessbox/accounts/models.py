"""Tables for people, teams, credentials and sessions."""

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from witnessbox.db.base import Base


class User(Base):
    """A person in the force who may sign in."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    collar_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    rank: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    roles: Mapped[list[Any]] = mapped_column(default=list)
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last authenticator time-step accepted, so one code cannot be used twice.
    totp_last_step: Mapped[int | None]
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    memberships: Mapped[list["TeamMember"]] = relationship(back_populates="user", lazy="selectin")

    @property
    def display_name(self) -> str:
        """How the force writes a person: rank, collar number, name."""
        return " ".join(part for part in (self.rank, self.collar_number, self.name) if part)


class Team(Base):
    """A team or station that officers belong to and supervisors supervise."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    station: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]


class TeamMember(Base):
    """A person's place in a team; `supervises` marks its supervisors."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    supervises: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(back_populates="memberships")
    team: Mapped[Team] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer credential for a script or a dock: hashed at rest, scoped, expiring."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "user" or "dock"
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    dock_id: Mapped[str | None] = mapped_column(ForeignKey("docks.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class WebSession(Base):
    """A server-side browser session; the cookie holds only a random token whose hash is here."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str] = mapped_column(String(128))
    csrf_token: Mapped[str] = mapped_column(String(64), default="")
    source_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    second_factor_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SignInAttempt(Base):
    """A sign-in try, kept to throttle guessing per account and per address."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(128), index=True)
    source_address: Mapped[str | None] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class Grant(Base):
    """Access to one item given to a person or a team, by a share or a case; the policy reads these."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(26), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # "share" or "case"
    source_id: Mapped[str] = mapped_column(String(26), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AccessReason(Base):
    """Why someone opened an item that is not theirs, their team's or shared with them."""

    __tablename__ = "access_reasons"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(26), index=True)
    reason: Mapped[str] = mapped_column(Text)
    given_at: Mapped[datetime]


class Notification(Base):
    """A message for one person, shown in the UI until read."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
