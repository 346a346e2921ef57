"""Sharing an item with a colleague or a team, perhaps until a date; the recipient is told."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.accounts.grants import add_grant, revoke_grants
from witnessbox.accounts.models import Team, TeamMember, User
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import UserService
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database
from witnessbox.evidence.service import EvidenceService
from witnessbox.sharing.models import Share

SOURCE = "share"


class SharingService:
    """Internal shares: grants plus a notification, all audited."""

    def __init__(
        self, db: Database, audit: AuditLog, clock: Clock, evidence: EvidenceService, users: UserService
    ) -> None:
        self.db, self.audit, self.clock, self.evidence, self.users = db, audit, clock, evidence, users

    def share(
        self,
        item_id: str,
        *,
        actor: Actor,
        collar_number: str | None = None,
        team: str | None = None,
        expires_at: datetime | None = None,
        note: str = "",
    ) -> Share:
        """Share an item the actor may see with one person or one team."""
        if (collar_number is None) == (team is None):
            raise InvalidInput("share with exactly one person (collar number) or one team")
        if expires_at is not None and expires_at <= self.clock.now():
            raise Conflict("the expiry must be in the future")
        item = self.evidence.authorise(item_id, Permission.ITEM_SHARE, actor=actor)
        with self.db.transaction() as uow:
            user, found_team = self._recipient(uow.session, collar_number, team)
            share = Share(
                id=new_id(),
                item_id=item.id,
                shared_by=actor.id,
                user_id=user.id if user else None,
                team_id=found_team.id if found_team else None,
                note=note.strip()[:1000],
                created_at=self.clock.now(),
                expires_at=expires_at,
            )
            uow.session.add(share)
            add_grant(
                uow.session,
                item.id,
                source=SOURCE,
                source_id=share.id,
                now=self.clock.now(),
                user_id=share.user_id,
                team_id=share.team_id,
                expires_at=expires_at,
            )
            for recipient in self._people(uow.session, user, found_team):
                self.users.notify(
                    uow.session,
                    recipient,
                    f"{actor.name} shared {item.filename} with you",
                    f"/items/{item.id}",
                )
            self.audit.record(
                uow.session,
                AuditTag.SHARING_ITEM_SHARED,
                actor=actor,
                subject=Subject("item", item.id),
                details={
                    "share": share.id,
                    "to_user": user.display_name if user else None,
                    "to_team": found_team.name if found_team else None,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
        return share

    def revoke(self, share_id: str, *, actor: Actor) -> None:
        """Withdraw a share (the person who made it, or an administrator)."""
        with self.db.transaction() as uow:
            share = uow.session.get(Share, share_id)
            if share is None or (share.shared_by != actor.id and not actor.is_admin):
                raise NotFound(f"no share {share_id}")
            share.revoked_at = self.clock.now()
            revoke_grants(uow.session, source=SOURCE, source_id=share.id, now=self.clock.now())
            self.audit.record(
                uow.session,
                AuditTag.SHARING_SHARE_REVOKED,
                actor=actor,
                subject=Subject("item", share.item_id),
                details={"share": share.id},
            )

    def shares_of(self, item_id: str, *, actor: Actor) -> list[Share]:
        """The live shares of an item the actor may see."""
        self.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=actor)
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(Share)
                    .where(Share.item_id == item_id, Share.revoked_at.is_(None))
                    .order_by(Share.created_at)
                )
            )

    def _recipient(
        self, session: Session, collar_number: str | None, team: str | None
    ) -> tuple[User | None, Team | None]:
        if collar_number is not None:
            user = session.scalars(select(User).where(User.collar_number == collar_number.strip())).first()
            if user is None or not user.active:
                raise NotFound(f"no active user with collar number {collar_number!r}")
            return user, None
        found = session.scalars(select(Team).where(Team.name == (team or "").strip())).first()
        if found is None:
            raise NotFound(f"no team called {team!r}")
        return None, found

    def _people(self, session: Session, user: User | None, team: Team | None) -> list[str]:
        if user is not None:
            return [user.id]
        assert team is not None
        return list(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
