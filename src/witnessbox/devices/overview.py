"""What administrators see of the fleet: each camera with who holds it and how busy it is, each
dock with when it was last heard from, and the devices that have gone silent.

Read-only: nothing here changes state (devices/service.py does). Counting a camera's recordings
needs the evidence tables, which this layer may not import: bootstrap hands in a counter.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import ApiToken, User
from witnessbox.accounts.roles import Permission
from witnessbox.accounts.service import require
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock
from witnessbox.core.errors import InvalidInput, NotFound
from witnessbox.db.session import Database
from witnessbox.devices.models import Camera, CameraAssignment, Dock

# Recordings per camera id, counted in the caller's session (evidence/counts.py).
RecordingCounter = Callable[[Session, Sequence[str]], Mapping[str, int]]


@dataclass(frozen=True)
class CameraRow:
    """One camera as the fleet list shows it."""

    serial: str
    model: str
    pool: str | None  # the pool dock's station; None for a personally issued camera
    holder: str | None  # who has it now
    holder_kind: str | None  # "personal" issue or "pool" sign-out
    registered_at: datetime
    last_docked_at: datetime | None
    recordings: int


@dataclass(frozen=True)
class AssignmentRow:
    """One spell of the camera in an officer's hands."""

    officer: str
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    assigned_by: str


@dataclass(frozen=True)
class CameraDetail:
    """A camera and everyone who has held it, newest first."""

    camera: CameraRow
    history: list[AssignmentRow]


@dataclass(frozen=True)
class DockRow:
    """One dock as the fleet list shows it."""

    name: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class SilentDevice:
    """A camera not docked, or a dock not heard from, for the number of days asked about."""

    kind: str  # "camera" or "dock"
    name: str  # serial or dock name
    last_seen_at: datetime | None
    holder: str | None


class DeviceOverview:
    """Read-only views of the fleet for administrators."""

    def __init__(self, db: Database, clock: Clock, count_recordings: RecordingCounter) -> None:
        self.db, self.clock, self.count_recordings = db, clock, count_recordings

    def cameras(self, *, actor: Actor) -> list[CameraRow]:
        """Every camera by serial, with its holder now and its recordings."""
        require(actor, Permission.DEVICE_MANAGE)
        with self.db.read() as session:
            cameras = list(session.scalars(select(Camera).order_by(Camera.serial)))
            return self._rows(session, cameras)

    def camera(self, serial: str, *, actor: Actor) -> CameraDetail:
        """One camera with its whole assignment history."""
        require(actor, Permission.DEVICE_MANAGE)
        with self.db.read() as session:
            camera = session.scalars(select(Camera).where(Camera.serial == serial)).first()
            if camera is None:
                raise NotFound(f"no camera {serial}")
            [row] = self._rows(session, [camera])
            spells = session.execute(
                select(CameraAssignment, User)
                .join(User, User.id == CameraAssignment.user_id)
                .where(CameraAssignment.camera_id == camera.id)
                .order_by(CameraAssignment.starts_at.desc())
            )
            history = [
                AssignmentRow(user.display_name, a.kind, a.starts_at, a.ends_at, a.assigned_by)
                for a, user in spells
            ]
        return CameraDetail(row, history)

    def docks(self, *, actor: Actor) -> list[DockRow]:
        """Every dock by name, with when it was last heard from."""
        require(actor, Permission.DEVICE_MANAGE)
        with self.db.read() as session:
            return _dock_rows(session)

    def silent(self, *, actor: Actor, days: int) -> list[SilentDevice]:
        """Cameras not docked and docks not heard from for `days`; new devices are not silent yet."""
        require(actor, Permission.DEVICE_MANAGE)
        if not 1 <= days <= 365:
            raise InvalidInput("days must be between 1 and 365")
        now = self.clock.now()
        cutoff = now - timedelta(days=days)
        with self.db.read() as session:
            cameras = list(
                session.scalars(select(Camera).where(silent_camera(cutoff)).order_by(Camera.serial))
            )
            holders = _holders(session, [c.id for c in cameras], now)
            docks = [d for d in _dock_rows(session) if d.revoked_at is None and _quiet(d, cutoff)]
        found = [
            SilentDevice("camera", c.serial, c.last_docked_at, holders.get(c.id, (None, None))[0])
            for c in cameras
        ]
        return found + [SilentDevice("dock", d.name, d.last_seen_at, None) for d in docks]

    def _rows(self, session: Session, cameras: Sequence[Camera]) -> list[CameraRow]:
        ids = [c.id for c in cameras]
        holders = _holders(session, ids, self.clock.now())
        counts = self.count_recordings(session, ids)
        return [
            CameraRow(
                serial=c.serial,
                model=c.model,
                pool=c.pool,
                holder=holders.get(c.id, (None, None))[0],
                holder_kind=holders.get(c.id, (None, None))[1],
                registered_at=c.registered_at,
                last_docked_at=c.last_docked_at,
                recordings=counts.get(c.id, 0),
            )
            for c in cameras
        ]


def silent_camera(cutoff: datetime) -> ColumnElement[bool]:
    """A silent camera: registered before `cutoff` (a new one is not silent) and not docked since."""
    return and_(
        Camera.registered_at < cutoff,
        or_(Camera.last_docked_at.is_(None), Camera.last_docked_at < cutoff),
    )


def _dock_rows(session: Session) -> list[DockRow]:
    """Docks by name; a dock is last seen when its token was last used (or its own record says later)."""
    rows = session.execute(
        select(Dock, func.max(ApiToken.last_used_at))
        .outerjoin(ApiToken, ApiToken.dock_id == Dock.id)
        .group_by(Dock.id)
        .order_by(Dock.name)
    )
    return [
        DockRow(dock.name, dock.created_at, _latest(dock.last_seen_at, used), dock.revoked_at)
        for dock, used in rows
    ]


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _quiet(dock: DockRow, cutoff: datetime) -> bool:
    """Registered before `cutoff` and not heard from since."""
    return dock.created_at < cutoff and (dock.last_seen_at is None or dock.last_seen_at < cutoff)


def _holders(session: Session, camera_ids: Sequence[str], now: datetime) -> dict[str, tuple[str, str]]:
    """Camera id -> (who holds it at `now`, how), in one query for all the cameras."""
    if not camera_ids:
        return {}
    rows = session.execute(
        select(CameraAssignment.camera_id, CameraAssignment.kind, User)
        .join(User, User.id == CameraAssignment.user_id)
        .where(
            CameraAssignment.camera_id.in_(camera_ids),
            CameraAssignment.starts_at <= now,
            or_(CameraAssignment.ends_at.is_(None), CameraAssignment.ends_at > now),
        )
        .order_by(CameraAssignment.starts_at)
    )
    return {camera_id: (user.display_name, kind) for camera_id, kind, user in rows}  # the latest wins
