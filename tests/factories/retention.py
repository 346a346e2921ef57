"""Retention helpers: records managers, and items whose original and derivative bytes really exist."""

import secrets
from datetime import datetime

from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import NewUser, actor_for
from witnessbox.bootstrap import Container
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.evidence.models import DerivativeKind, ItemState
from witnessbox.evidence.service import DerivativeDraft, ItemDraft

RECORDS_PASSWORD = "a long filing cabinet phrase 2026"


def records_managers(container: Container, count: int = 2) -> list[Actor]:
    """`count` records managers (collar numbers 8100, 8101...)."""
    people = []
    for n in range(count):
        user = container.users.create_user(
            NewUser(f"81{n:02d}", f"Robin Ash {n + 1}", frozenset({Role.RECORDS_MANAGER}),
                    password=RECORDS_PASSWORD), actor=SYSTEM)
        people.append(actor_for(user))
    return people


def item_with_bytes(container: Container, officer: Actor, start: datetime) -> tuple[str, list[str]]:
    """A ready item of `officer`'s with a real original and a real thumbnail strip in the store;
    the item id and the two blobs' digests."""
    blobs = container.retention.blobs
    original = blobs.put([b"original " + secrets.token_bytes(64)])
    strip = blobs.put([b"thumbnails " + secrets.token_bytes(32)])
    draft = ItemDraft(sha256=original.sha256, size=original.size, filename="bytes.mp4", camera_id=None,
                      camera_serial="WBX00001", dock_id=None, officer_id=officer.id, officer=officer.name,
                      team_id=min(officer.teams, default=None), recorded_start=start, upload_started_at=start)
    with container.db.transaction() as uow:
        item_id = container.evidence.create_item(uow.session, draft, actor=SYSTEM).id
    container.evidence.add_derivative(item_id, DerivativeDraft(
        kind=DerivativeKind.THUMBNAIL_STRIP, sha256=strip.sha256, size=strip.size, media_type="image/jpeg",
        operation="thumbnails"), actor=SYSTEM)
    container.evidence.set_state(item_id, ItemState.READY, actor=SYSTEM)
    return item_id, [original.sha256, strip.sha256]
