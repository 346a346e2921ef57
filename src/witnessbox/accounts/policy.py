"""The one access decision: who may do what to which item, and which items a list may show.

Everything that reads or changes evidence asks `decide` (one item, in Python) or
`visible_items` (many items, as a SQL condition). Both follow the same rules:

- A restricted item (in a complaint case) is for professional standards only.
- Close access, granted without question: your own recordings, your supervised
  teams' recordings (supervisors), and items shared with you or your team or
  given to you through a case you work.
- Wider access, granted with a recorded reason: investigators may open any
  unrestricted item, professional standards any item. Categorising needs close
  access (or professional standards).
- Administrators and auditors run the system; they see no footage unless one of
  the rules above also gives it to them. Administrators see quarantined items'
  records (never their bytes) so they can act on them.
- Docks upload and confirm; they never see footage.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from witnessbox.accounts.models import Grant
from witnessbox.accounts.roles import Permission, Role
from witnessbox.core.actor import Actor, ActorKind

ITEM_PERMISSIONS = frozenset(
    {
        Permission.ITEM_VIEW,
        Permission.ITEM_PLAY,
        Permission.ITEM_DOWNLOAD,
        Permission.ITEM_SHARE,
        Permission.ITEM_CATEGORISE,
    }
)
FOOTAGE_ROLES = frozenset(
    {
        Role.OFFICER,
        Role.SUPERVISOR,
        Role.INVESTIGATOR,
        Role.DISCLOSURE_OFFICER,
        Role.PROFESSIONAL_STANDARDS,
        Role.TRAINING_OFFICER,
    }
)
ROLE_PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.UPLOAD_CREATE: frozenset(
        {Role.OFFICER, Role.SUPERVISOR, Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS}
    ),
    Permission.CASE_CREATE: frozenset({Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS}),
    Permission.CASE_MANAGE: frozenset(
        {Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS, Role.DISCLOSURE_OFFICER}
    ),
    Permission.HOLD_MANAGE: frozenset({Role.PROFESSIONAL_STANDARDS}),
    Permission.USER_MANAGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.DEVICE_MANAGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.JOB_VIEW: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.ITEM_VIEW_QUARANTINE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.AUDIT_VERIFY: frozenset({Role.AUDITOR, Role.SYSTEM_ADMINISTRATOR}),
    Permission.CAMERA_SIGN_OUT: frozenset({Role.OFFICER, Role.SUPERVISOR}),
    Permission.ITEM_LIST: frozenset(Role),
}
DOCK_PERMISSIONS = frozenset({Permission.UPLOAD_CREATE, Permission.ITEM_CONFIRM})


class Access(StrEnum):
    """The answer: yes, no, or yes once a reason is recorded."""

    ALLOW = "allow"
    DENY = "deny"
    NEEDS_REASON = "needs_reason"


@dataclass(frozen=True)
class ItemFacts:
    """What the policy needs to know about one item, for one actor."""

    officer_id: str | None
    team_id: str | None
    restricted: bool
    granted: bool
    reason_given: bool = False
    quarantined: bool = False


def decide(actor: Actor, permission: Permission, item: ItemFacts | None = None) -> Access:
    """May `actor` do `permission` (to `item`, for item permissions)?"""
    if actor.scopes is not None and permission not in actor.scopes:
        return Access.DENY
    if actor.kind == ActorKind.SYSTEM:
        return Access.ALLOW
    if actor.kind == ActorKind.DOCK:
        return Access.ALLOW if permission in DOCK_PERMISSIONS else Access.DENY
    if permission in ITEM_PERMISSIONS:
        return _item_access(actor, permission, item) if item is not None else Access.DENY
    if permission == Permission.ITEM_CONFIRM:
        return Access.ALLOW if actor.has_role(*FOOTAGE_ROLES) else Access.DENY
    allowed = ROLE_PERMISSIONS.get(permission, frozenset())
    return Access.ALLOW if actor.has_role(*allowed) else Access.DENY


def _item_access(actor: Actor, permission: Permission, item: ItemFacts) -> Access:
    psd = actor.has_role(Role.PROFESSIONAL_STANDARDS)
    if item.restricted and not psd:
        return Access.DENY
    if permission == Permission.ITEM_VIEW and item.quarantined and actor.has_role(Role.SYSTEM_ADMINISTRATOR):
        return Access.ALLOW  # the record and its reason, so it can be dealt with; never the bytes
    if _close(actor, item):
        return Access.ALLOW
    if permission == Permission.ITEM_CATEGORISE:
        return Access.ALLOW if psd else Access.DENY  # describing footage needs close access
    if psd or actor.has_role(Role.INVESTIGATOR):
        return Access.ALLOW if item.reason_given else Access.NEEDS_REASON
    return Access.DENY


def _close(actor: Actor, item: ItemFacts) -> bool:
    own = item.officer_id is not None and item.officer_id == actor.id
    supervised = actor.has_role(Role.SUPERVISOR) and item.team_id in actor.supervises
    return own or supervised or item.granted


@dataclass(frozen=True)
class ItemColumns:
    """The item table's columns the SQL condition is built on (handed over by the evidence area)."""

    id: ColumnElement[Any]
    officer_id: ColumnElement[Any]
    team_id: ColumnElement[Any]
    restricted: ColumnElement[Any]
    state: ColumnElement[Any]


def visible_items(actor: Actor, items: ItemColumns, now: datetime) -> ColumnElement[bool]:
    """A WHERE condition that keeps exactly the items `actor` may see listed."""
    if actor.kind == ActorKind.SYSTEM:
        return true()
    if actor.kind == ActorKind.DOCK or (
        actor.scopes is not None and Permission.ITEM_LIST not in actor.scopes
    ):
        return false()
    if actor.has_role(Role.PROFESSIONAL_STANDARDS):
        return true()
    unrestricted: ColumnElement[bool] = items.restricted.is_(False)
    if actor.has_role(Role.INVESTIGATOR):
        footage: ColumnElement[bool] = unrestricted
    else:
        footage = and_(unrestricted, _close_sql(actor, items, now))
    if actor.has_role(Role.SYSTEM_ADMINISTRATOR):
        return or_(footage, and_(unrestricted, items.state == "quarantined"))
    return footage


def _close_sql(actor: Actor, items: ItemColumns, now: datetime) -> ColumnElement[bool]:
    """Own, granted, or a supervised team's: each term one the planner can read from an index.

    The grants are an uncorrelated `id IN (...)`, worked out once per query, rather than an
    EXISTS probed row by row, so SQLite can gather an officer's few items from three
    indexes (and PostgreSQL test each row against a hashed list) instead of walking them all.
    """
    granted = select(Grant.item_id).where(*live_grants_to(actor, now))
    conditions: list[ColumnElement[bool]] = [items.officer_id == actor.id, items.id.in_(granted)]
    if actor.has_role(Role.SUPERVISOR) and actor.supervises:
        conditions.append(items.team_id.in_(sorted(actor.supervises)))
    return or_(*conditions)


def granted_sql(actor: Actor, item_id: ColumnElement[Any], now: datetime) -> ColumnElement[bool]:
    """EXISTS a live grant of this item to the actor or one of the actor's teams."""
    return exists(select(Grant.id).where(Grant.item_id == item_id, *live_grants_to(actor, now)))


def live_grants_to(actor: Actor, now: datetime) -> list[ColumnElement[bool]]:
    """Grants to the actor or one of the actor's teams, neither revoked nor expired."""
    to_actor = Grant.user_id == actor.id
    principal = or_(to_actor, Grant.team_id.in_(sorted(actor.teams))) if actor.teams else to_actor
    return [principal, Grant.revoked_at.is_(None), or_(Grant.expires_at.is_(None), Grant.expires_at > now)]
