"""Counts of items for other areas' overviews (the fleet's recordings per camera)."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from witnessbox.evidence.models import Item


def recordings_per_camera(session: Session, camera_ids: Sequence[str]) -> dict[str, int]:
    """How many items each camera recorded (cameras with none are absent), in one grouped query."""
    if not camera_ids:
        return {}
    rows = session.execute(
        select(Item.camera_id, func.count()).where(Item.camera_id.in_(camera_ids)).group_by(Item.camera_id)
    )
    return {str(camera_id): int(count) for camera_id, count in rows}
