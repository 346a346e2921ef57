"""Ready items made directly through the evidence service: the record an upload makes, without bytes."""

import secrets
from datetime import UTC, datetime
from typing import Any

from witnessbox.bootstrap import Container
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.evidence.models import DerivativeKind, ItemState
from witnessbox.evidence.service import DerivativeDraft, ItemDraft


def ready_item(
    container: Container,
    officer: Actor,
    start: datetime,
    seconds: float,
    *,
    camera: str = "WBX00001",
    filename: str = "clip.mp4",
    gps: list[dict[str, Any]] | None = None,
    team_id: str | None = None,
) -> str:
    """A ready recording of `officer`'s (team: theirs unless given), its length known as probing records it."""
    draft = ItemDraft(
        sha256=secrets.token_hex(32),
        size=1,
        filename=filename,
        camera_id=None,
        camera_serial=camera,
        dock_id=None,
        officer_id=officer.id,
        officer=officer.name,
        team_id=team_id or min(officer.teams, default=None),
        recorded_start=start,
        upload_started_at=start,
        gps_track=gps,
    )
    with container.db.transaction() as uow:
        item_id = container.evidence.create_item(uow.session, draft, actor=SYSTEM).id
    container.evidence.record_media_facts(item_id, {"duration_s": seconds}, actor=SYSTEM)
    container.evidence.set_state(item_id, ItemState.READY, actor=SYSTEM)
    return item_id


def stored_item(container: Container, owner: Actor, original: bytes, proxy: bytes,
                filename: str = "mill-lane.mp4") -> str:
    """A ready item of `owner`'s whose original and browser copy (these bytes) are really in the store."""
    kept = container.evidence.blobs.put([original])
    copy = container.evidence.blobs.put([proxy])
    start = datetime(2026, 11, 3, 21, 30, tzinfo=UTC)
    draft = ItemDraft(sha256=kept.sha256, size=kept.size, filename=filename, camera_id=None,
                      camera_serial="WBX00001", dock_id=None, officer_id=owner.id, officer=owner.name,
                      team_id=min(owner.teams, default=None), recorded_start=start, upload_started_at=start)
    with container.db.transaction() as uow:
        item_id = container.evidence.create_item(uow.session, draft, actor=SYSTEM).id
    container.evidence.add_derivative(item_id, DerivativeDraft(
        DerivativeKind.PROXY, copy.sha256, copy.size, "video/mp4", "stored as given"), actor=SYSTEM)
    container.evidence.set_state(item_id, ItemState.READY, actor=SYSTEM)
    return item_id
