"""Grants and reasons: the facts beyond roles that the policy reads for one item.

Shares and cases write grants here (so listing can filter with one indexed EXISTS);
people who open an item outside their close access leave a reason here.
"""

from datetime import datetime, timedelta

from sqlalchemy import literal, select, update
from sqlalchemy.orm import Session

from witnessbox.accounts.models import AccessReason, Grant
from witnessbox.accounts.policy import granted_sql, meaningful_reason
from witnessbox.core.actor import Actor
from witnessbox.core.ids import new_id

REASON_LASTS = timedelta(hours=12)  # one reason covers a working session on the item


def add_grant(
    session: Session,
    item_id: str,
    *,
    source: str,
    source_id: str,
    now: datetime,
    user_id: str | None = None,
    team_id: str | None = None,
    expires_at: datetime | None = None,
) -> Grant:
    """Give a person or a team access to an item, on behalf of a share or a case."""
    grant = Grant(
        id=new_id(),
        item_id=item_id,
        user_id=user_id,
        team_id=team_id,
        source=source,
        source_id=source_id,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(grant)
    return grant


def revoke_grants(
    session: Session,
    *,
    source: str,
    source_id: str,
    now: datetime,
    user_id: str | None = None,
    item_id: str | None = None,
) -> None:
    """Withdraw the grants a share or case gave (optionally only one person's, or one item's)."""
    query = update(Grant).where(
        Grant.source == source, Grant.source_id == source_id, Grant.revoked_at.is_(None)
    )
    if user_id is not None:
        query = query.where(Grant.user_id == user_id)
    if item_id is not None:
        query = query.where(Grant.item_id == item_id)
    session.execute(query.values(revoked_at=now))


def is_granted(session: Session, actor: Actor, item_id: str, now: datetime) -> bool:
    """Whether a live grant gives this item to the actor or one of the actor's teams."""
    return bool(session.scalar(select(granted_sql(actor, literal(item_id), now))))


def record_reason(session: Session, actor: Actor, item_id: str, reason: str, now: datetime) -> AccessReason:
    """Keep the reason someone gave for opening an item."""
    reason = meaningful_reason(reason)
    row = AccessReason(id=new_id(), user_id=actor.id, item_id=item_id, reason=reason, given_at=now)
    session.add(row)
    return row


def reason_given(session: Session, actor: Actor, item_id: str, now: datetime) -> bool:
    """Whether the actor gave a reason for this item recently enough."""
    return (
        session.scalars(
            select(AccessReason.id)
            .where(
                AccessReason.user_id == actor.id,
                AccessReason.item_id == item_id,
                AccessReason.given_at > now - REASON_LASTS,
            )
            .limit(1)
        ).first()
        is not None
    )
