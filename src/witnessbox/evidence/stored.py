"""Which stored objects the evidence records account for: read by the integrity scrub.

The scrub (retention/scrub.py) walks these in hash order and compares them with the store;
keeping the queries here leaves the evidence tables to the evidence domain.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from witnessbox.evidence.models import Derivative, Item, ItemState


@dataclass(frozen=True)
class RecordedObject:
    """One object the records say is stored: an item's original or one of its derivatives."""

    sha256: str
    size: int
    item_id: str
    filename: str  # the original's file name, to name the item in a finding
    derivative_id: str | None = None  # None: the original
    derivative_kind: str | None = None


def recorded_after(session: Session, after: str, limit: int, *, derivatives: bool) -> list[RecordedObject]:
    """Up to `limit` recorded objects whose hash sorts after `after`, in hash order.

    A purged item's row stays as its tombstone, but its original was deleted on purpose (retention/
    purge.py): it is not expected in the store."""
    originals = session.execute(
        select(Item.sha256, Item.size, Item.id, Item.filename)
        .where(Item.sha256 > after, Item.state != ItemState.PURGED)
        .order_by(Item.sha256)
        .limit(limit)
    )
    found = [RecordedObject(sha, size, item_id, name) for sha, size, item_id, name in originals]
    if derivatives:
        found += _derivatives_after(session, after, limit)
    found.sort(key=lambda o: (o.sha256, o.derivative_id or ""))
    return _whole_hashes(found, limit)


def _derivatives_after(session: Session, after: str, limit: int) -> list[RecordedObject]:
    rows = session.execute(
        select(
            Derivative.sha256,
            Derivative.size,
            Derivative.item_id,
            Item.filename,
            Derivative.id,
            Derivative.kind,
        )
        .join(Item, Item.id == Derivative.item_id)
        .where(Derivative.sha256 > after)
        .order_by(Derivative.sha256)
        .limit(limit)
    )
    return [
        RecordedObject(sha, size, item, name, d_id, str(kind)) for sha, size, item, name, d_id, kind in rows
    ]


def _whole_hashes(found: list[RecordedObject], limit: int) -> list[RecordedObject]:
    """The first `limit` objects, never cutting between two records of one hash (a cursor resumes
    after a hash, so every record of the last hash must be in this batch)."""
    if len(found) <= limit:
        return found
    last = found[limit - 1].sha256
    return [o for o in found if o.sha256 <= last]


def recorded_hashes(session: Session, hashes: Iterable[str]) -> set[str]:
    """Those of `hashes` that an item or a derivative records."""
    wanted = list(set(hashes))
    if not wanted:
        return set()
    items = session.scalars(select(Item.sha256).where(Item.sha256.in_(wanted)))
    derived = session.scalars(select(Derivative.sha256).where(Derivative.sha256.in_(wanted)))
    return set(items) | set(derived)
