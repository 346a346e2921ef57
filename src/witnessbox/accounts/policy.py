"""The one access decision: who may do what to which item, and which items a list may show.

Everything that reads or changes evidence asks `decide` (one item, in Python) or
`visible_items` (many items, as a SQL condition). Both follow the same rules:

- A restricted item (in a complaint case) is for professional standards only.
- Close access, granted without question: your own recordings, your supervised
  teams' recordings (supervisors), and items shared with you or your team or
  given to you through a case you work.
- Wider access, granted with a recorded reason: investigators and disclosure
  officers may open any unrestricted item (decision 0022), professional
  standards any item. A reason is a real one
  (`meaningful_reason`: words, not padding or invisible characters).
- Access through a share, a case or a reason is read-only: describing an item
  (categorisation, title, notes) and sharing it onward need the footage's own
  circle, its officer or their team's supervisor; professional standards may
  also categorise (decision 0013).
- Administrators and auditors run the system; they see no footage unless one of
  the rules above also gives it to them. Administrators see quarantined items'
  records (never their bytes) so they can act on them.
- Docks upload and confirm; they never see footage.
- Someone whose roles give no sight of unredacted footage (the training officer) sees only
  items that have a redacted copy, and only that copy (decision 0026).
- Recipients outside the force (prosecutors, defence, courts, complaints bodies) view and
  play the items of their own live external share, and download them only when the share
  allows it; nothing else, and nothing restricted unless professional standards shared it.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from witnessbox.accounts.models import Grant
from witnessbox.accounts.roles import Permission, Role
from witnessbox.core.actor import Actor, ActorKind
from witnessbox.core.errors import InvalidInput

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
    Permission.USER_MANAGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.DEVICE_MANAGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.JOB_VIEW: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.ITEM_VIEW_QUARANTINE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    # the unattributed queue: metadata only, and the audited step that gives a recording its officer
    Permission.ITEM_ATTRIBUTE: frozenset({Role.SUPERVISOR, Role.SYSTEM_ADMINISTRATOR}),
    Permission.AUDIT_VERIFY: frozenset({Role.AUDITOR, Role.SYSTEM_ADMINISTRATOR}),
    Permission.CAMERA_SIGN_OUT: frozenset({Role.OFFICER, Role.SUPERVISOR}),
    Permission.ITEM_LIST: frozenset(Role),
    # disclosure schedules: those who work a case's material decide; other members read (decision 0022)
    Permission.SCHEDULE_DECIDE: frozenset(
        {Role.DISCLOSURE_OFFICER, Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS}
    ),
    # sharing outside the force: disclosure officers, professional standards with complaints bodies;
    # investigators too where the force allows it (`may_share_outside`, decision 0019)
    Permission.EXTERNAL_SHARE_CREATE: frozenset({Role.DISCLOSURE_OFFICER, Role.PROFESSIONAL_STANDARDS}),
    # administrators look after the store; answering a scrub finding is theirs (decision 0024)
    Permission.SCRUB_ACKNOWLEDGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    # retention (decision 0023): records managers run the schedule with administrators; holds are placed
    # and released by professional standards and records managers; deletions are reviewed by them and
    # by supervisors (their teams' items)
    Permission.HOLD_MANAGE: frozenset({Role.PROFESSIONAL_STANDARDS, Role.RECORDS_MANAGER}),
    Permission.RETENTION_SCHEDULE: frozenset({Role.RECORDS_MANAGER, Role.SYSTEM_ADMINISTRATOR}),
    Permission.RETENTION_REVIEW: frozenset(
        {Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS, Role.SUPERVISOR}
    ),
    Permission.SUBJECT_ACCESS_MANAGE: frozenset({Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS}),
    # redaction (decision 0026): those who prepare footage for release edit plans and render copies
    # (of items they may play); everyone but the training officer may see footage unredacted
    Permission.REDACTION_EDIT: frozenset(
        {Role.DISCLOSURE_OFFICER, Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS, Role.SUPERVISOR}
    ),
    Permission.ITEM_VIEW_UNREDACTED: frozenset(Role) - {Role.TRAINING_OFFICER},
}
DOCK_PERMISSIONS = frozenset({Permission.UPLOAD_CREATE, Permission.ITEM_CONFIRM})
# Who may open any unrestricted item with a recorded reason: those who gather and review a case's
# material, the "other officers' footage" included (decision 0022).
REASON_ROLES = frozenset({Role.INVESTIGATOR, Role.DISCLOSURE_OFFICER})
# What changes an item or passes it on; a share, a case or a reason never grants these.
WRITE_PERMISSIONS = frozenset({Permission.ITEM_SHARE, Permission.ITEM_CATEGORISE})

# All a recipient may ever do, and only to the items of their own live share; the share's
# scopes (the actor's) leave out downloading unless the share allows it.
RECIPIENT_PERMISSIONS = frozenset({Permission.ITEM_VIEW, Permission.ITEM_PLAY, Permission.ITEM_DOWNLOAD})


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
    redacted: bool = False  # the item has a redacted copy (decision 0026)


def decide(actor: Actor, permission: Permission, item: ItemFacts | None = None) -> Access:
    """May `actor` do `permission` (to `item`, for item permissions)?"""
    if actor.scopes is not None and permission not in actor.scopes:
        return Access.DENY
    if actor.kind == ActorKind.SYSTEM:
        return Access.ALLOW
    if actor.kind in (ActorKind.DOCK, ActorKind.RECIPIENT):
        return _device_or_recipient_access(actor, permission, item)
    if permission in ITEM_PERMISSIONS:
        return _item_access(actor, permission, item) if item is not None else Access.DENY
    if permission == Permission.ITEM_CONFIRM:
        return Access.ALLOW if actor.has_role(*FOOTAGE_ROLES) else Access.DENY
    allowed = ROLE_PERMISSIONS.get(permission, frozenset())
    return Access.ALLOW if actor.has_role(*allowed) else Access.DENY


def _item_access(actor: Actor, permission: Permission, item: ItemFacts) -> Access:
    psd = actor.has_role(Role.PROFESSIONAL_STANDARDS)
    if (item.restricted and not psd) or (redacted_only(actor) and not item.redacted):
        return Access.DENY  # restricted: PSD only; redacted copies only: nothing without one (0026)
    if permission == Permission.ITEM_VIEW and item.quarantined and actor.has_role(Role.SYSTEM_ADMINISTRATOR):
        return Access.ALLOW  # the record and its reason, so it can be dealt with; never the bytes
    if permission in WRITE_PERMISSIONS and not _holds(actor, item):
        # Read-only unless the footage is the actor's or their team's (decision 0013).
        return Access.ALLOW if psd and permission == Permission.ITEM_CATEGORISE else Access.DENY
    if _close(actor, item):
        return Access.ALLOW
    if psd or actor.has_role(*REASON_ROLES):
        return Access.ALLOW if item.reason_given else Access.NEEDS_REASON
    return Access.DENY


def redacted_only(actor: Actor) -> bool:
    """Whether a person may see footage only as redacted copies: roles, none of which sees it unredacted."""
    if actor.kind != ActorKind.USER or not actor.roles:
        return False
    return not actor.has_role(*ROLE_PERMISSIONS[Permission.ITEM_VIEW_UNREDACTED])


def _holds(actor: Actor, item: ItemFacts) -> bool:
    """The footage's own circle: its officer, or a supervisor of its team."""
    own = item.officer_id is not None and item.officer_id == actor.id
    return own or (actor.has_role(Role.SUPERVISOR) and item.team_id in actor.supervises)


def _close(actor: Actor, item: ItemFacts) -> bool:
    return _holds(actor, item) or item.granted


@dataclass(frozen=True)
class ItemColumns:
    """The item table's columns the SQL condition is built on (handed over by the evidence area)."""

    id: ColumnElement[Any]
    officer_id: ColumnElement[Any]
    team_id: ColumnElement[Any]
    restricted: ColumnElement[Any]
    state: ColumnElement[Any]
    redacted: ColumnElement[bool] | None = None  # EXISTS a redacted copy of the item


def visible_items(actor: Actor, items: ItemColumns, now: datetime) -> ColumnElement[bool]:
    """A WHERE condition that keeps exactly the items `actor` may see listed."""
    if actor.kind == ActorKind.SYSTEM:
        return true()
    if actor.kind == ActorKind.DOCK or (
        actor.scopes is not None and Permission.ITEM_LIST not in actor.scopes
    ):
        return false()
    if actor.kind == ActorKind.RECIPIENT:
        return false()  # a recipient lists nothing here: the portal shows their share
    if actor.has_role(Role.PROFESSIONAL_STANDARDS):
        return true()
    unrestricted: ColumnElement[bool] = items.restricted.is_(False)
    if actor.has_role(*REASON_ROLES):
        footage: ColumnElement[bool] = unrestricted
    else:
        footage = and_(unrestricted, _close_sql(actor, items, now))
    if redacted_only(actor):
        footage = and_(footage, items.redacted if items.redacted is not None else false())
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


# A reason for opening someone else's footage (shown in the user guide, "Giving a reason").
REASON_WORDS = 3  # different words of two or more letters, not one letter repeated
REASON_LETTERS = 12
REASON_LIMIT = 1000
REASON_RULE = (
    f"at least {REASON_WORDS} different words and {REASON_LETTERS} letters, "
    "e.g. 'occurrence 26/4411, arrest on Elm Road'"
)
_LETTERS = re.compile(r"[^\W\d_]+")


def meaningful_reason(text: str) -> str:
    """The reason as it is kept (Unicode NFKC, invisible characters dropped, spaces collapsed).

    Raises InvalidInput unless it is made of real words: padding, repeated letters and
    zero-width characters do not count. Every path that takes a reason comes here.
    """
    normal = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in normal if unicodedata.category(ch) != "Cf")
    reason = " ".join(visible.split())
    words = {w.casefold() for w in _LETTERS.findall(reason) if len(set(w.casefold())) >= 2}
    letters = sum(len(w) for w in _LETTERS.findall(reason))
    if len(words) < REASON_WORDS or letters < REASON_LETTERS:
        raise InvalidInput(f"give a real reason for opening this recording: {REASON_RULE}")
    if len(reason) > REASON_LIMIT:
        raise InvalidInput(f"a reason is at most {REASON_LIMIT} characters")
    return reason


# --- outside recipients (decision 0019) -------------------------------------------------------------


def may_share_outside(actor: Actor, *, investigators_may: bool) -> bool:
    """Whether the actor may share items with someone outside the force."""
    if decide(actor, Permission.EXTERNAL_SHARE_CREATE) == Access.ALLOW:
        return True
    return investigators_may and actor.kind == ActorKind.USER and actor.has_role(Role.INVESTIGATOR)


def _device_or_recipient_access(actor: Actor, permission: Permission, item: ItemFacts | None) -> Access:
    """Docks upload and confirm, nothing more; recipients see their share (`_recipient_access`)."""
    if actor.kind == ActorKind.DOCK:
        return Access.ALLOW if permission in DOCK_PERMISSIONS else Access.DENY
    return _recipient_access(permission, item)


def _recipient_access(permission: Permission, item: ItemFacts | None) -> Access:
    """A recipient: `granted` means "in their live share" (the disclosure service checked it)."""
    if item is None or permission not in RECIPIENT_PERMISSIONS:
        return Access.DENY
    if item.restricted or item.quarantined or not item.granted:
        return Access.DENY
    return Access.ALLOW
