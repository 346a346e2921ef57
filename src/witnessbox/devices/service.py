"""The camera and dock fleet: registering, issuing cameras to officers, and attributing uploads."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import TeamMember, User
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.accounts.tokens import TokenService
from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, InvalidInput, NotFound
from witnessbox.core.ids import new_id
from witnessbox.db.session import Database, flush_unique
from witnessbox.devices.models import Camera, CameraAssignment, Dock

SHIFT = timedelta(hours=12)  # a pool sign-out lasts at most a long shift


@dataclass(frozen=True)
class Attribution:
    """Who had a camera when a recording started."""

    user_id: str
    display_name: str
    team_id: str | None


class DeviceService:
    """Use cases for the camera and dock fleet."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, tokens: TokenService) -> None:
        self.db, self.audit, self.clock, self.tokens = db, audit, clock, tokens

    def register_camera(
        self,
        serial: str,
        *,
        actor: Actor,
        model: str = "",
        officer: str | None = None,
        pool: str | None = None,
    ) -> Camera:
        """Add a camera; `officer` (a collar number) issues it personally from now on."""
        require(actor, Permission.DEVICE_MANAGE)
        serial = _clean(serial, "camera serial")
        with self.db.transaction() as uow:
            camera = Camera(
                id=new_id(), serial=serial, model=model.strip(), pool=pool, registered_at=self.clock.now()
            )
            uow.session.add(camera)
            flush_unique(uow.session, f"camera {serial} is already registered")
            self.audit.record(
                uow.session,
                AuditTag.DEVICE_CAMERA_REGISTERED,
                actor=actor,
                subject=Subject("camera", camera.id),
                details={"serial": serial, "model": camera.model, "pool": pool},
            )
        if officer:
            self.assign(serial, officer, actor=actor, kind="personal")
        return camera

    def assign(
        self,
        serial: str,
        collar_number: str,
        *,
        actor: Actor,
        kind: str = "personal",
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> CameraAssignment:
        """Put a camera in an officer's hands from `starts_at`, ending any open assignment of it."""
        require(actor, Permission.DEVICE_MANAGE)
        return self._assign(
            serial,
            collar_number,
            actor=actor,
            kind=kind,
            starts_at=starts_at or self.clock.now(),
            ends_at=ends_at,
        )

    def sign_out(self, serial: str, *, actor: Actor) -> CameraAssignment:
        """An officer takes a pool camera for a shift (taps their card at the pool dock)."""
        require(actor, Permission.CAMERA_SIGN_OUT)
        with self.db.read() as session:
            user = session.get(User, actor.id)
        if user is None:
            raise NotFound("only officers with an account can sign out a camera")
        now = self.clock.now()
        return self._assign(
            serial, user.collar_number, actor=actor, kind="pool", starts_at=now, ends_at=now + SHIFT
        )

    def _assign(
        self,
        serial: str,
        collar_number: str,
        *,
        actor: Actor,
        kind: str,
        starts_at: datetime,
        ends_at: datetime | None,
    ) -> CameraAssignment:
        if kind not in ("personal", "pool"):
            raise InvalidInput("an assignment is 'personal' or 'pool'")
        with self.db.transaction() as uow:
            camera = _camera(uow.session, serial)
            user = uow.session.scalars(select(User).where(User.collar_number == collar_number)).first()
            if user is None:
                raise InvalidInput(f"no officer with collar number {collar_number!r}")
            for open_one in uow.session.scalars(
                select(CameraAssignment).where(
                    CameraAssignment.camera_id == camera.id,
                    CameraAssignment.starts_at <= starts_at,
                    or_(CameraAssignment.ends_at.is_(None), CameraAssignment.ends_at > starts_at),
                )
            ):
                open_one.ends_at = starts_at
            assignment = CameraAssignment(
                id=new_id(),
                camera_id=camera.id,
                user_id=user.id,
                kind=kind,
                starts_at=starts_at,
                ends_at=ends_at,
                assigned_by=actor.name,
            )
            uow.session.add(assignment)
            self.audit.record(
                uow.session,
                AuditTag.DEVICE_CAMERA_ASSIGNED,
                actor=actor,
                subject=Subject("camera", camera.id),
                details={
                    "serial": serial,
                    "officer": user.display_name,
                    "kind": kind,
                    "from": starts_at.isoformat(),
                    "until": ends_at.isoformat() if ends_at else None,
                },
            )
        return assignment

    def register_dock(self, name: str, *, actor: Actor) -> tuple[Dock, str]:
        """Add a dock; return it and its bearer token, which is shown only this once."""
        require(actor, Permission.DEVICE_MANAGE)
        name = _clean(name, "dock name")
        with self.db.transaction() as uow:
            dock = Dock(id=new_id(), name=name, created_at=self.clock.now())
            uow.session.add(dock)
            flush_unique(uow.session, f"dock {name} is already registered")
            token = self.tokens.issue_dock_token(uow, dock.id, name)
            self.audit.record(
                uow.session,
                AuditTag.DEVICE_DOCK_REGISTERED,
                actor=actor,
                subject=Subject("dock", dock.id),
                details={"name": name},
            )
        return dock, token

    def revoke_dock(self, name: str, *, actor: Actor) -> None:
        """Withdraw a dock's credential (a stolen or retired dock)."""
        require(actor, Permission.DEVICE_MANAGE)
        with self.db.transaction() as uow:
            dock = uow.session.scalars(select(Dock).where(Dock.name == name)).first()
            if dock is None:
                raise NotFound(f"no dock {name}")
            dock.revoked_at = self.clock.now()
            self.tokens.revoke_dock(uow, dock.id)
            self.audit.record(
                uow.session, AuditTag.DEVICE_DOCK_REVOKED, actor=actor, subject=Subject("dock", dock.id)
            )

    def list_cameras(self) -> list[Camera]:
        """All registered cameras, by serial."""
        with self.db.read() as session:
            return list(session.scalars(select(Camera).order_by(Camera.serial)))

    def list_docks(self) -> list[Dock]:
        """All registered docks, by name."""
        with self.db.read() as session:
            return list(session.scalars(select(Dock).order_by(Dock.name)))


def camera_by_serial(session: Session, serial: str) -> Camera | None:
    """Look a camera up by serial inside a caller's transaction."""
    return session.scalars(select(Camera).where(Camera.serial == serial)).first()


def attribute(session: Session, camera_id: str, at: datetime) -> Attribution | None:
    """The officer who had the camera at `at` (the latest assignment starting by then)."""
    assignment = session.scalars(
        select(CameraAssignment)
        .where(
            CameraAssignment.camera_id == camera_id,
            CameraAssignment.starts_at <= at,
            or_(CameraAssignment.ends_at.is_(None), CameraAssignment.ends_at > at),
        )
        .order_by(CameraAssignment.starts_at.desc())
        .limit(1)
    ).first()
    if assignment is None:
        return None
    user = session.get(User, assignment.user_id)
    assert user is not None
    team = session.scalars(
        select(TeamMember.team_id)
        .where(TeamMember.user_id == user.id)
        .order_by(TeamMember.supervises, TeamMember.team_id)
        .limit(1)
    ).first()
    return Attribution(user_id=user.id, display_name=user.display_name, team_id=team)


def _camera(session: Session, serial: str) -> Camera:
    camera = camera_by_serial(session, serial)
    if camera is None:
        raise NotFound(f"no camera {serial}")
    return camera


def _clean(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or any(ch.isspace() or ch in "/\\" for ch in value):
        raise InvalidInput(f"{what} must be 1-64 characters without spaces or slashes")
    return value


# --- dock credentials: rotation (administrators, devices pages and CLI) --------------------------


def rotate_dock_token(devices: DeviceService, name: str, *, actor: Actor) -> str:
    """Give a dock a new token and withdraw its old ones; return the new one (shown only this once).

    A revoked dock stays revoked: a stolen dock is registered again under a new name, never revived.
    """
    require(actor, Permission.DEVICE_MANAGE)
    with devices.db.transaction() as uow:
        dock = uow.session.scalars(select(Dock).where(Dock.name == name)).first()
        if dock is None:
            raise NotFound(f"no dock {name}")
        if dock.revoked_at is not None:
            raise Conflict(f"dock {name} is revoked; register the dock again under a new name")
        devices.tokens.revoke_dock(uow, dock.id)
        token = devices.tokens.issue_dock_token(uow, dock.id, name)
        devices.audit.record(
            uow.session, AuditTag.DEVICE_DOCK_TOKEN_ROTATED, actor=actor, subject=Subject("dock", dock.id)
        )
    return token
