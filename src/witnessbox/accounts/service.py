"""Use cases for people and teams: create, change roles, place in teams, look up as an Actor."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from witnessbox.accounts.models import Notification, Team, TeamMember, User, WebSession
from witnessbox.accounts.passwords import PasswordPolicy
from witnessbox.accounts.policy import Access, decide
from witnessbox.accounts.roles import Permission, Role
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import SYSTEM, Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database, flush_unique


@dataclass(frozen=True)
class NewUser:
    """What it takes to add a person."""

    collar_number: str
    name: str
    roles: frozenset[Role]
    rank: str = ""
    email: str | None = None
    password: str | None = None
    teams: tuple[str, ...] = ()
    supervises: tuple[str, ...] = ()


def actor_for(user: User) -> Actor:
    """The Actor a signed-in user acts as: roles and team memberships snapshotted now."""
    return Actor(
        kind=ActorKind.USER,
        id=user.id,
        name=user.display_name,
        roles=frozenset(user.roles),
        teams=frozenset(m.team_id for m in user.memberships),
        supervises=frozenset(m.team_id for m in user.memberships if m.supervises),
    )


def require(actor: Actor, permission: Permission) -> None:
    """Raise Forbidden unless the policy allows a non-item permission."""
    if decide(actor, permission) != Access.ALLOW:
        raise Forbidden(f"you may not {permission}")


class UserService:
    """People, teams and notifications."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, passwords: PasswordPolicy) -> None:
        self.db, self.audit, self.clock, self.passwords = db, audit, clock, passwords

    def create_user(self, new: NewUser, *, actor: Actor) -> User:
        """Add a person, with roles and teams; the password must meet the policy."""
        require(actor, Permission.USER_MANAGE)
        collar = _clean(new.collar_number, "collar number", 32)
        with self.db.transaction() as uow:
            user = User(
                id=new_id(),
                collar_number=collar,
                name=_clean(new.name, "name", 128, spaces=True),
                rank=new.rank.strip(),
                email=(new.email or "").strip().lower() or None,
                roles=sorted(new.roles),
                active=True,
                created_at=self.clock.now(),
            )
            if new.password is not None:
                user.password_hash = self.passwords.hash(new.password, user=user)
                user.password_changed_at = self.clock.now()
            uow.session.add(user)
            flush_unique(uow.session, f"a user with collar number {collar} or that email already exists")
            self._place(uow.session, user, new.teams, new.supervises)
            self.audit.record(
                uow.session,
                AuditTag.ACCOUNT_USER_CREATED,
                actor=actor,
                subject=Subject("user", user.id),
                details={
                    "collar_number": collar,
                    "name": user.name,
                    "roles": user.roles,
                    "teams": list(new.teams),
                    "supervises": list(new.supervises),
                },
            )
        return self.get(user.id)

    def _place(self, session: Session, user: User, teams: Iterable[str], supervises: Iterable[str]) -> None:
        supervised = {self._team(session, name).id for name in supervises}
        member_of = {self._team(session, name).id for name in teams} | supervised
        for team_id in sorted(member_of):
            session.add(
                TeamMember(id=new_id(), team_id=team_id, user_id=user.id, supervises=team_id in supervised)
            )

    def set_roles(self, user_id: str, roles: frozenset[Role], *, actor: Actor) -> User:
        """Change a person's roles; audited with before and after."""
        require(actor, Permission.USER_MANAGE)
        with self.db.transaction() as uow:
            user = self._user(uow.session, user_id)
            before, user.roles = list(user.roles), sorted(roles)
            self.audit.record(
                uow.session,
                AuditTag.ACCOUNT_USER_ROLES_CHANGED,
                actor=actor,
                subject=Subject("user", user.id),
                details={"before": before, "after": user.roles},
            )
        return self.get(user_id)

    def set_active(self, user_id: str, active: bool, *, actor: Actor) -> None:
        """Disable (or re-enable) a person; disabling ends their sessions at their next request."""
        require(actor, Permission.USER_MANAGE)
        with self.db.transaction() as uow:
            user = self._user(uow.session, user_id)
            user.active = active
            tag = AuditTag.ACCOUNT_USER_ENABLED if active else AuditTag.ACCOUNT_USER_DISABLED
            self.audit.record(uow.session, tag, actor=actor, subject=Subject("user", user.id))

    def set_password(self, user_id: str, password: str, *, actor: Actor) -> None:
        """Set a password (an administrator, or the person themself)."""
        if actor.id != user_id:
            require(actor, Permission.USER_MANAGE)
        with self.db.transaction() as uow:
            user = self._user(uow.session, user_id)
            user.password_hash = self.passwords.hash(password, user=user)
            user.password_changed_at = self.clock.now()
            # A new password ends every other session of that person (a leaked one stops working).
            uow.session.execute(
                update(WebSession)
                .where(
                    WebSession.user_id == user.id,
                    WebSession.revoked_at.is_(None),
                    WebSession.id != (actor.session_id or ""),
                )
                .values(revoked_at=self.clock.now())
            )
            self.audit.record(
                uow.session, AuditTag.ACCOUNT_PASSWORD_CHANGED, actor=actor, subject=Subject("user", user.id)
            )

    def create_team(self, name: str, *, actor: Actor, station: str = "") -> Team:
        """Add a team or station."""
        require(actor, Permission.USER_MANAGE)
        with self.db.transaction() as uow:
            team = Team(
                id=new_id(),
                name=_clean(name, "team name", 128, spaces=True),
                station=station.strip(),
                created_at=self.clock.now(),
            )
            uow.session.add(team)
            flush_unique(uow.session, f"team {name} already exists")
            self.audit.record(
                uow.session,
                AuditTag.ACCOUNT_TEAM_CREATED,
                actor=actor,
                subject=Subject("team", team.id),
                details={"name": team.name},
            )
        return team

    def add_to_team(self, user_id: str, team: str, *, actor: Actor, supervises: bool = False) -> None:
        """Put a person in a team (as a supervisor of it when `supervises`)."""
        require(actor, Permission.USER_MANAGE)
        with self.db.transaction() as uow:
            user, found = self._user(uow.session, user_id), self._team(uow.session, team)
            member = uow.session.scalars(
                select(TeamMember).where(TeamMember.user_id == user.id, TeamMember.team_id == found.id)
            ).first()
            if member is None:
                uow.session.add(
                    TeamMember(id=new_id(), team_id=found.id, user_id=user.id, supervises=supervises)
                )
            else:
                member.supervises = supervises
            self.audit.record(
                uow.session,
                AuditTag.ACCOUNT_TEAM_MEMBER_SET,
                actor=actor,
                subject=Subject("user", user.id),
                details={"team": found.name, "supervises": supervises},
            )

    def ensure_administrator(self, username: str, password: str) -> User | None:
        """On first start, create the break-glass administrator; later starts change nothing."""
        with self.db.read() as session:
            if session.scalars(select(User.id).where(User.collar_number == username)).first():
                return None
        try:
            return self.create_user(
                NewUser(
                    collar_number=username,
                    name="System administrator",
                    roles=frozenset({Role.SYSTEM_ADMINISTRATOR}),
                    password=password,
                ),
                actor=SYSTEM,
            )
        except Conflict:
            return None  # another server starting at the same moment created them

    def get(self, user_id: str) -> User:
        """A user by id."""
        with self.db.read() as session:
            return self._user(session, user_id)

    def get_managed(self, user_id: str, *, actor: Actor) -> User:
        """A user's full record, for the administrators who manage people."""
        require(actor, Permission.USER_MANAGE)
        return self.get(user_id)

    def by_collar_number(self, collar_number: str) -> User | None:
        """A user by collar number."""
        with self.db.read() as session:
            return session.scalars(select(User).where(User.collar_number == collar_number)).first()

    def list_users(self, *, actor: Actor) -> list[User]:
        """Everyone, by collar number (administrators)."""
        require(actor, Permission.USER_MANAGE)
        with self.db.read() as session:
            return list(session.scalars(select(User).order_by(User.collar_number)))

    def list_teams(self) -> list[Team]:
        """All teams, by name (names are not secret: shares pick from them)."""
        with self.db.read() as session:
            return list(session.scalars(select(Team).order_by(Team.name)))

    def notify(self, session: Session, user_id: str, text: str, link: str | None = None) -> None:
        """Leave a message for a person, in the caller's transaction."""
        session.add(
            Notification(id=new_id(), user_id=user_id, text=text, link=link, created_at=self.clock.now())
        )

    def notifications(self, *, actor: Actor, unread_only: bool = True) -> list[Notification]:
        """The actor's messages, newest first."""
        query = select(Notification).where(Notification.user_id == actor.id)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        with self.db.read() as session:
            return list(session.scalars(query.order_by(Notification.created_at.desc()).limit(50)))

    def mark_read(self, *, actor: Actor) -> None:
        """Mark all the actor's messages read."""
        with self.db.transaction() as uow:
            for note in uow.session.scalars(
                select(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
            ):
                note.read_at = self.clock.now()

    def _user(self, session: Session, user_id: str) -> User:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user

    def _team(self, session: Session, name: str) -> Team:
        team = session.scalars(select(Team).where(Team.name == name)).first()
        if team is None:
            raise InvalidInput(f"no team called {name!r}; create it first")
        return team


def _clean(value: str, what: str, limit: int, *, spaces: bool = False) -> str:
    value = value.strip()
    if not value or len(value) > limit or (not spaces and any(ch.isspace() for ch in value)):
        raise InvalidInput(f"{what} must be 1-{limit} characters" + ("" if spaces else " without spaces"))
    return value


def home_team(session: Session, user_id: str) -> str | None:
    """The team a person's recordings are filed under: the first they are a member of (not supervise)."""
    return session.scalars(
        select(TeamMember.team_id)
        .where(TeamMember.user_id == user_id)
        .order_by(TeamMember.supervises, TeamMember.team_id)
        .limit(1)
    ).first()
