"""Live updates: what happened since a point in the audit trail that a person may be told of.

Uploads finish in a web process, proxies in job workers, shares in any web process;
the audit trail is the one place all of them write, in the same transaction as the
change and with an increasing sequence number. So a page is told of an event only
once it committed, and a reconnecting page resumes from the last sequence it heard.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from witnessbox.accounts.models import Grant
from witnessbox.accounts.policy import live_grants_to
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.core.actor import Actor
from witnessbox.core.clock import Clock, as_utc
from witnessbox.db.session import Database
from witnessbox.evidence.models import Item
from witnessbox.evidence.visibility import visible_to

# The audit tags a page hears about, and the event name each is sent as.
KINDS = {
    AuditTag.EVIDENCE_ITEM_CREATED: "item-created",
    AuditTag.EVIDENCE_ITEM_READY: "item-ready",  # the last processing step made the proxy
    AuditTag.EVIDENCE_ITEM_QUARANTINED: "item-quarantined",  # unusable: its page says why
    AuditTag.SHARING_ITEM_SHARED: "item-shared",
}
SHARE_SOURCE = "share"  # Grant.source of grants made by sharing
BATCH = 200


@dataclass(frozen=True)
class LiveEvent:
    """One thing to tell one person: the audit entry's sequence, its kind, and the item as it is now."""

    seq: int
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """What a poll found for one person, and the sequence to ask after next time."""

    events: list[LiveEvent]
    cursor: int


class LiveFeed:
    """Reads new uploads, finished proxies and shares from the audit trail, filtered per person."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    def head(self) -> int:
        """The sequence of the latest audit entry: a new listener starts after it."""
        with self.db.read() as session:
            return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)

    def since(self, cursor: int, *, actor: Actor) -> Batch:
        """Events after `cursor` that `actor` may hear of, oldest first.

        The cursor moves past entries the actor may not hear of too, so each poll reads
        only what is new. Entries commit in sequence order (the chain is appended under
        a lock held to commit), so nothing can appear later below the cursor.
        """
        with self.db.read() as session:
            head = int(session.scalar(select(func.max(AuditEvent.seq))) or 0)
            entries = list(
                session.scalars(
                    select(AuditEvent)
                    .where(
                        AuditEvent.seq > cursor,
                        AuditEvent.seq <= head,
                        AuditEvent.tag.in_([str(tag) for tag in KINDS]),
                    )
                    .order_by(AuditEvent.seq)
                    .limit(BATCH)
                )
            )
            events = self._for(session, actor, entries)
        return Batch(events, entries[-1].seq if len(entries) == BATCH else max(cursor, head))

    def _for(self, session: Session, actor: Actor, entries: list[AuditEvent]) -> list[LiveEvent]:
        items = self._visible(session, actor, {e.subject_id for e in entries if e.subject_id})
        shares = self._shares_to(session, actor, entries)
        events = []
        for entry in entries:
            item = items.get(entry.subject_id or "")
            shared = entry.tag == AuditTag.SHARING_ITEM_SHARED
            if item is None or (shared and entry.details.get("share") not in shares):
                continue
            data = _describe(item) | ({"by": entry.actor_name} if shared else {})
            events.append(LiveEvent(entry.seq, KINDS[AuditTag(entry.tag)], data))
        return events

    def _visible(self, session: Session, actor: Actor, ids: set[str]) -> dict[str, Item]:
        if not ids:
            return {}
        query = select(Item).where(
            Item.id.in_(sorted(ids)), visible_to(actor, self.clock.now())
        )
        return {item.id: item for item in session.scalars(query)}

    def _shares_to(self, session: Session, actor: Actor, entries: list[AuditEvent]) -> set[str]:
        """The shares among `entries` made to the actor or to one of the actor's teams, still live."""
        share_ids = {str(e.details.get("share")) for e in entries if e.tag == AuditTag.SHARING_ITEM_SHARED}
        if not share_ids:
            return set()
        query = select(Grant.source_id).where(
            Grant.source == SHARE_SOURCE,
            Grant.source_id.in_(sorted(share_ids)),
            *live_grants_to(actor, self.clock.now()),
        )
        return set(session.scalars(query))


def _describe(item: Item) -> dict[str, Any]:
    """What a notice or a library row needs, as the item is now."""
    return {
        "id": item.id,
        "filename": item.filename,
        "camera": item.camera_serial,
        "officer": item.officer,
        "recorded_start": as_utc(item.recorded_start).isoformat(),
        "state": str(item.state),
        "duration_s": item.duration_s,
        "url": f"/items/{item.id}",
    }
