"""Registering cameras and docks, and recognising a dock by its credential."""

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from witnessbox.audit.service import AuditLog, Subject
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.clock import Clock
from witnessbox.core.errors import Conflict, InvalidInput, NotAuthenticated
from witnessbox.core.ids import new_id, new_token
from witnessbox.db.session import Database
from witnessbox.devices.models import Camera, Dock

DOCK_TOKEN_PREFIX = "wbx_dock"  # noqa: S105 - a label, not a secret


def token_digest(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is a safe at-rest form."""
    return hashlib.sha256(token.encode()).hexdigest()


class DeviceService:
    """Use cases for the camera and dock fleet."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self.db = db
        self.audit = audit
        self.clock = clock

    def register_camera(
        self, serial: str, *, actor: Actor, model: str = "", officer: str | None = None
    ) -> Camera:
        """Add a camera to the fleet; its serial must be new."""
        serial = _clean(serial, "camera serial")
        with self.db.transaction() as uow:
            camera = Camera(
                id=new_id(), serial=serial, model=model.strip(), officer=officer,
                registered_at=self.clock.now(),
            )
            uow.session.add(camera)
            _flush_unique(uow.session, f"camera {serial} is already registered")
            self.audit.record(
                uow.session, AuditTag.DEVICE_CAMERA_REGISTERED, actor=actor,
                subject=Subject("camera", camera.id),
                details={"serial": serial, "model": camera.model, "officer": officer},
            )
        return camera

    def register_dock(self, name: str, *, actor: Actor) -> tuple[Dock, str]:
        """Add a dock; return it and its bearer token, which is shown only this once."""
        name = _clean(name, "dock name")
        token = new_token(DOCK_TOKEN_PREFIX)
        with self.db.transaction() as uow:
            dock = Dock(
                id=new_id(), name=name, token_hash=token_digest(token), created_at=self.clock.now()
            )
            uow.session.add(dock)
            _flush_unique(uow.session, f"dock {name} is already registered")
            self.audit.record(
                uow.session, AuditTag.DEVICE_DOCK_REGISTERED, actor=actor,
                subject=Subject("dock", dock.id), details={"name": name},
            )
        return dock, token

    def authenticate_dock(self, token: str) -> Actor:
        """The dock a bearer token belongs to, as an Actor; NotAuthenticated otherwise."""
        with self.db.read() as session:
            dock = session.scalars(
                select(Dock).where(Dock.token_hash == token_digest(token))
            ).first()
        if dock is None or dock.revoked_at is not None:
            raise NotAuthenticated("unknown or revoked dock credential")
        return Actor(kind=ActorKind.DOCK, id=dock.id, name=f"dock {dock.name}")

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


def _clean(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 64 or any(ch.isspace() or ch in "/\\" for ch in value):
        raise InvalidInput(f"{what} must be 1-64 characters without spaces or slashes")
    return value


def _flush_unique(session: Session, message: str) -> None:
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(message) from error
