"""Which items a person may see listed: the access policy's SQL condition on the items table."""

from datetime import datetime

from sqlalchemy import ColumnElement, exists, select

from witnessbox.accounts.policy import ItemColumns, visible_items
from witnessbox.core.actor import Actor
from witnessbox.evidence.models import Derivative, DerivativeKind, Item

ITEM_COLUMNS = ItemColumns(
    id=Item.id.expression,
    officer_id=Item.officer_id.expression,
    team_id=Item.team_id.expression,
    restricted=Item.restricted.expression,
    state=Item.state.expression,
    redacted=exists(
        select(Derivative.id).where(Derivative.item_id == Item.id, Derivative.kind == DerivativeKind.REDACTED)
    ),
)


def visible_to(actor: Actor, now: datetime) -> ColumnElement[bool]:
    """A WHERE condition keeping exactly the items `actor` may see listed at `now`."""
    return visible_items(actor, ITEM_COLUMNS, now)
