"""The supervisor's compliance view: footage left uncategorised, cameras not docked, reminders.

Uncategorised footage is a compliance problem supervisors chase (shared/DOMAIN.md):
this lists, per supervised team, the items still uncategorised after N days and
the team's cameras that have not docked for N days, and sends an officer a
one-click reminder.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import Team, TeamMember, User
from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import UserService
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Forbidden, InvalidInput, NotFound
from witnessbox.db.session import Database
from witnessbox.devices.models import Camera, CameraAssignment
from witnessbox.devices.overview import silent_camera
from witnessbox.evidence.models import Item


@dataclass(frozen=True)
class OfficerBacklog:
    """One officer's uncategorised items older than the threshold."""

    user_id: str
    name: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class SilentCamera:
    """A camera issued to a team member that has not docked for the threshold."""

    serial: str
    officer: str
    last_docked_at: datetime | None


@dataclass(frozen=True)
class TeamCompliance:
    """The compliance picture of one team."""

    team_id: str
    team: str
    backlog: list[OfficerBacklog]
    silent_cameras: list[SilentCamera]


class ComplianceService:
    """Builds the view for supervisors and sends reminders."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, users: UserService) -> None:
        self.db, self.audit, self.clock, self.users = db, audit, clock, users

    def view(self, *, actor: Actor, days: int = 3) -> list[TeamCompliance]:
        """For each team the actor supervises: backlog per officer and silent cameras."""
        cutoff = self._cutoff(actor, days)
        with self.db.read() as session:
            teams = list(
                session.scalars(select(Team).where(Team.id.in_(sorted(actor.supervises))).order_by(Team.name))
            )
            return [
                TeamCompliance(
                    team.id,
                    team.name,
                    self._backlog(session, team.id, cutoff),
                    self._silent(session, team.id, cutoff),
                )
                for team in teams
            ]

    def remind(self, user_id: str, *, actor: Actor, days: int = 3) -> int:
        """Tell one officer of the actor's teams how many recordings they have left uncategorised."""
        cutoff = self._cutoff(actor, days)
        with self.db.transaction() as uow:
            officer = uow.session.get(User, user_id)
            member = uow.session.scalars(
                select(TeamMember.id).where(
                    TeamMember.user_id == user_id, TeamMember.team_id.in_(sorted(actor.supervises))
                )
            ).first()
            if officer is None or member is None:
                raise NotFound("not an officer of a team you supervise")
            count = (
                uow.session.scalar(
                    select(func.count())
                    .select_from(Item)
                    .where(
                        Item.officer_id == user_id,
                        Item.evidential.is_(None),
                        Item.restricted.is_(False),
                        Item.recorded_start < cutoff,
                    )
                )
                or 0
            )
            if count:
                self.users.notify(
                    uow.session,
                    user_id,
                    f"{actor.name} asks you to categorise {count} recording(s) older than {days} days",
                    "/?uncategorised=1",
                )
                self.audit.record(
                    uow.session,
                    AuditTag.REPORTS_REMINDER_SENT,
                    actor=actor,
                    subject=Subject("user", user_id),
                    details={"uncategorised": count, "days": days},
                )
        return count

    def _cutoff(self, actor: Actor, days: int) -> datetime:
        if not actor.has_role(Role.SUPERVISOR) or not actor.supervises:
            raise Forbidden("the compliance view is for supervisors of a team")
        if not 0 <= days <= 365:
            raise InvalidInput("days must be between 0 and 365")
        return self.clock.now() - timedelta(days=days)

    @staticmethod
    def _backlog(session: Session, team_id: str, cutoff: datetime) -> list[OfficerBacklog]:
        rows = session.execute(
            select(
                User.id,
                User.rank,
                User.collar_number,
                User.name,
                func.count(Item.id),
                func.min(Item.recorded_start),
            )
            .join(Item, Item.officer_id == User.id)
            .where(
                Item.team_id == team_id,
                Item.evidential.is_(None),
                Item.restricted.is_(False),
                Item.recorded_start < cutoff,
            )
            .group_by(User.id, User.rank, User.collar_number, User.name)
            .order_by(func.count(Item.id).desc())
        )
        return [
            OfficerBacklog(uid, " ".join(p for p in (rank, collar, name) if p), count, oldest)
            for uid, rank, collar, name, count, oldest in rows
        ]

    @staticmethod
    def _silent(session: Session, team_id: str, cutoff: datetime) -> list[SilentCamera]:
        rows = session.execute(
            select(Camera.serial, User.collar_number, User.name, Camera.last_docked_at)
            .join(CameraAssignment, CameraAssignment.camera_id == Camera.id)
            .join(User, User.id == CameraAssignment.user_id)
            .join(TeamMember, TeamMember.user_id == User.id)
            .where(
                TeamMember.team_id == team_id,
                CameraAssignment.ends_at.is_(None),
                silent_camera(cutoff),  # a camera registered since the cutoff is not silent
            )
            .order_by(Camera.serial)
        )
        return [SilentCamera(serial, f"{collar} {name}", docked) for serial, collar, name, docked in rows]
