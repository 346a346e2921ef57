"""The one access decision, `policy.decide`, over hand-made actors and item facts.

The expectations are written from the rules in the policy module's docstring and the
roles table in shared/DOMAIN.md, one row per case, so a change of rule shows up as a
failing row with its name.
"""

from dataclasses import replace

import pytest

from witnessbox.accounts.policy import Access, ItemFacts, decide, redacted_only
from witnessbox.accounts.roles import Permission, Role
from witnessbox.core.actor import SYSTEM, Actor, ActorKind

ME, SOMEONE_ELSE = "u-me", "u-other"
MY_TEAM, OTHER_TEAM = "t-mine", "t-other"
ITEM_PERMISSIONS = (Permission.ITEM_VIEW, Permission.ITEM_PLAY, Permission.ITEM_DOWNLOAD, Permission.ITEM_SHARE,
                    Permission.ITEM_CATEGORISE)
ALLOW, DENY, NEEDS_REASON = Access.ALLOW, Access.DENY, Access.NEEDS_REASON


def person(*roles: Role, supervises: frozenset[str] = frozenset(), teams: frozenset[str] = frozenset(),
           scopes: frozenset[str] | None = None) -> Actor:
    """A signed-in person with these roles (a supervisor is also a member of what they supervise)."""
    return Actor(kind=ActorKind.USER, id=ME, name="test person", roles=frozenset(roles),
                 teams=teams | supervises, supervises=supervises, scopes=scopes)


DOCK = Actor(kind=ActorKind.DOCK, id="d-1", name="dock station-1",
             scopes=frozenset({Permission.UPLOAD_CREATE, Permission.ITEM_CONFIRM}))

# The item situations the rules distinguish, seen from the actor `person(...)` (id ME, team MY_TEAM).
SOMEONE_ELSES = ItemFacts(officer_id=SOMEONE_ELSE, team_id=OTHER_TEAM, restricted=False, granted=False)
OWN = replace(SOMEONE_ELSES, officer_id=ME, team_id=MY_TEAM)
MY_TEAMS = replace(SOMEONE_ELSES, team_id=MY_TEAM)  # a teammate's recording
GRANTED = replace(SOMEONE_ELSES, granted=True)  # shared with me or my team, or through a case
WITH_REASON = replace(SOMEONE_ELSES, reason_given=True)
RESTRICTED = replace(SOMEONE_ELSES, restricted=True)
RESTRICTED_OWN = replace(OWN, restricted=True)
RESTRICTED_GRANTED = replace(GRANTED, restricted=True)
RESTRICTED_WITH_REASON = replace(RESTRICTED, reason_given=True)
QUARANTINED = replace(SOMEONE_ELSES, quarantined=True)
UNATTRIBUTED = ItemFacts(officer_id=None, team_id=None, restricted=False, granted=False)
SITUATIONS = {
    "someone else's": SOMEONE_ELSES,
    "own": OWN,
    "my team's": MY_TEAMS,
    "granted": GRANTED,
    "reason given": WITH_REASON,
    "restricted": RESTRICTED,
    "restricted own": RESTRICTED_OWN,
    "restricted granted": RESTRICTED_GRANTED,
    "restricted, reason given": RESTRICTED_WITH_REASON,
    "quarantined": QUARANTINED,
    "unattributed": UNATTRIBUTED,
}

SUPERVISOR_OF_MY_TEAM = person(Role.SUPERVISOR, supervises=frozenset({MY_TEAM}))
# actor name -> (actor, {situation: expected access to view it})
EXPECTED_VIEW: dict[str, tuple[Actor, dict[str, Access]]] = {
    "officer": (person(Role.OFFICER, teams=frozenset({MY_TEAM})), {
        "someone else's": DENY, "own": ALLOW, "my team's": DENY, "granted": ALLOW, "reason given": DENY,
        "restricted": DENY, "restricted own": DENY, "restricted granted": DENY,
        "restricted, reason given": DENY, "quarantined": DENY, "unattributed": DENY,
    }),
    "supervisor of my team": (SUPERVISOR_OF_MY_TEAM, {
        "someone else's": DENY, "own": ALLOW, "my team's": ALLOW, "granted": ALLOW, "reason given": DENY,
        "restricted": DENY, "restricted own": DENY, "restricted granted": DENY,
        "restricted, reason given": DENY, "quarantined": DENY, "unattributed": DENY,
    }),
    "investigator": (person(Role.INVESTIGATOR), {
        "someone else's": NEEDS_REASON, "own": ALLOW, "my team's": NEEDS_REASON, "granted": ALLOW,
        "reason given": ALLOW, "restricted": DENY, "restricted own": DENY, "restricted granted": DENY,
        "restricted, reason given": DENY, "quarantined": NEEDS_REASON, "unattributed": NEEDS_REASON,
    }),
    # a disclosure officer reviews all relevant material as an investigator does (decision 0022)
    "disclosure officer": (person(Role.DISCLOSURE_OFFICER), {
        "someone else's": NEEDS_REASON, "own": ALLOW, "my team's": NEEDS_REASON, "granted": ALLOW,
        "reason given": ALLOW, "restricted": DENY, "restricted own": DENY, "restricted granted": DENY,
        "restricted, reason given": DENY, "quarantined": NEEDS_REASON, "unattributed": NEEDS_REASON,
    }),
    "professional standards": (person(Role.PROFESSIONAL_STANDARDS), {
        "someone else's": NEEDS_REASON, "own": ALLOW, "my team's": NEEDS_REASON, "granted": ALLOW,
        "reason given": ALLOW, "restricted": NEEDS_REASON, "restricted own": ALLOW,
        "restricted granted": ALLOW, "restricted, reason given": ALLOW, "quarantined": NEEDS_REASON,
        "unattributed": NEEDS_REASON,
    }),
    "auditor": (person(Role.AUDITOR), {
        "someone else's": DENY, "own": ALLOW, "my team's": DENY, "granted": ALLOW, "reason given": DENY,
        "restricted": DENY, "restricted own": DENY, "restricted granted": DENY,
        "restricted, reason given": DENY, "quarantined": DENY, "unattributed": DENY,
    }),
    # the training officer sees redacted copies only: none of these items has one (decision 0026)
    "training officer": (person(Role.TRAINING_OFFICER), dict.fromkeys(SITUATIONS, DENY)),
    "system administrator": (person(Role.SYSTEM_ADMINISTRATOR), {
        "someone else's": DENY, "own": ALLOW, "my team's": DENY, "granted": ALLOW, "reason given": DENY,
        "restricted": DENY, "restricted own": DENY, "restricted granted": DENY,
        "restricted, reason given": DENY, "quarantined": ALLOW, "unattributed": DENY,
    }),
    "nobody (no roles)": (person(), {
        "someone else's": DENY, "own": ALLOW, "my team's": DENY, "granted": ALLOW, "reason given": DENY,
        "restricted": DENY, "restricted own": DENY, "restricted granted": DENY,
        "restricted, reason given": DENY, "quarantined": DENY, "unattributed": DENY,
    }),
}
VIEW_CASES = [
    pytest.param(actor, SITUATIONS[situation], expected, id=f"{name}-{situation}")
    for name, (actor, row) in EXPECTED_VIEW.items()
    for situation, expected in row.items()
]


def test_every_actor_has_a_row_for_every_situation() -> None:
    """GIVEN the expectation table WHEN read THEN each actor names every item situation (no silent gaps)."""
    for name, (_actor, row) in EXPECTED_VIEW.items():
        assert set(row) == set(SITUATIONS), name


@pytest.mark.parametrize(("actor", "item", "expected"), VIEW_CASES)
def test_view_decision(actor: Actor, item: ItemFacts, expected: Access) -> None:
    """GIVEN a person with some roles and an item in some situation WHEN they ask to view it THEN the policy answers as the rules say."""
    assert decide(actor, Permission.ITEM_VIEW, item) == expected


@pytest.mark.parametrize("permission", [Permission.ITEM_PLAY, Permission.ITEM_DOWNLOAD])
@pytest.mark.parametrize(("actor", "item", "expected"), VIEW_CASES)
def test_play_and_download_follow_view_except_quarantine(
    actor: Actor, item: ItemFacts, expected: Access, permission: Permission
) -> None:
    """GIVEN any actor and item WHEN they ask to play or download THEN the answer is the view answer, except that an administrator never gets a quarantined item's bytes."""
    if item.quarantined and actor.has_role(Role.SYSTEM_ADMINISTRATOR) and item.officer_id != actor.id:
        expected = DENY
    assert decide(actor, permission, item) == expected


# Categorising describes footage: its own circle only (the officer, their team's supervisor), or
# professional standards (no reason needed). A share, a case or a reason is read-only (decision 0013).
HELD_SITUATIONS = frozenset({"own"})
MAY_CATEGORISE: dict[str, frozenset[str]] = dict.fromkeys(EXPECTED_VIEW, HELD_SITUATIONS) | {
    "supervisor of my team": HELD_SITUATIONS | {"my team's"},
    "professional standards": frozenset(SITUATIONS),
    "training officer": frozenset(),  # nothing without a redacted copy, their own footage included (0026)
}
# Sharing onward: the footage's own circle only; professional standards too, for what they hold.
MAY_SHARE: dict[str, frozenset[str]] = dict.fromkeys(EXPECTED_VIEW, HELD_SITUATIONS) | {
    "supervisor of my team": HELD_SITUATIONS | {"my team's"},
    "professional standards": HELD_SITUATIONS | {"restricted own"},
    "training officer": frozenset(),
}


@pytest.mark.parametrize(("actor", "situation", "allowed"), [
    pytest.param(actor, situation, situation in MAY_SHARE[name], id=f"{name}-{situation}")
    for name, (actor, _row) in EXPECTED_VIEW.items() for situation in SITUATIONS
])
def test_share_decision(actor: Actor, situation: str, allowed: bool) -> None:
    """GIVEN a person and an item in some situation WHEN they ask to share it onward THEN only the footage's own circle may, never through a share, a case or a reason."""
    assert decide(actor, Permission.ITEM_SHARE, SITUATIONS[situation]) == (ALLOW if allowed else DENY)


def test_read_only_access_stays_read_only() -> None:
    """GIVEN an officer the item is shared with and an investigator who gave a reason WHEN they ask to view, share and categorise THEN they may view, and neither share nor categorise."""
    officer, investigator = person(Role.OFFICER), person(Role.INVESTIGATOR)
    for actor, facts in ((officer, GRANTED), (investigator, WITH_REASON), (investigator, GRANTED)):
        assert decide(actor, Permission.ITEM_VIEW, facts) == ALLOW
        assert decide(actor, Permission.ITEM_SHARE, facts) == DENY
        assert decide(actor, Permission.ITEM_CATEGORISE, facts) == DENY


@pytest.mark.parametrize(("actor", "situation", "allowed"), [
    pytest.param(actor, situation, situation in MAY_CATEGORISE[name], id=f"{name}-{situation}")
    for name, (actor, _row) in EXPECTED_VIEW.items() for situation in SITUATIONS
])
def test_categorise_decision(actor: Actor, situation: str, allowed: bool) -> None:
    """GIVEN a person and an item in some situation WHEN they ask to categorise it THEN only close access or professional standards allows it, and never behind a reason."""
    assert decide(actor, Permission.ITEM_CATEGORISE, SITUATIONS[situation]) == (ALLOW if allowed else DENY)


@pytest.mark.parametrize("permission", ITEM_PERMISSIONS)
def test_item_permission_without_an_item_is_refused(permission: Permission) -> None:
    """GIVEN even professional standards WHEN an item permission is asked about no item THEN it is refused."""
    assert decide(person(Role.PROFESSIONAL_STANDARDS, Role.INVESTIGATOR), permission) == DENY


def test_supervising_another_team_gives_nothing() -> None:
    """GIVEN a supervisor of another team WHEN they ask for my team's item THEN it is refused."""
    other = person(Role.SUPERVISOR, supervises=frozenset({OTHER_TEAM}))
    assert decide(other, Permission.ITEM_VIEW, MY_TEAMS) == DENY
    assert decide(other, Permission.ITEM_VIEW, SOMEONE_ELSES) == ALLOW


def test_supervising_without_the_supervisor_role_gives_nothing() -> None:
    """GIVEN an officer marked as supervising a team but without the supervisor role WHEN they ask for that team's item THEN it is refused."""
    officer = person(Role.OFFICER, supervises=frozenset({MY_TEAM}))
    assert decide(officer, Permission.ITEM_VIEW, MY_TEAMS) == DENY


TRAINER = person(Role.TRAINING_OFFICER)


@pytest.mark.parametrize("permission", [Permission.ITEM_VIEW, Permission.ITEM_PLAY, Permission.ITEM_DOWNLOAD])
def test_the_training_officer_reaches_only_items_with_a_redacted_copy(permission: Permission) -> None:
    """GIVEN the training officer WHEN they ask about items shared with them THEN only those with a redacted
    copy are theirs (the service then hands out that copy alone); a copy opens nothing else."""
    assert decide(TRAINER, permission, replace(GRANTED, redacted=True)) == ALLOW
    assert decide(TRAINER, permission, GRANTED) == DENY
    assert decide(TRAINER, permission, replace(SOMEONE_ELSES, redacted=True)) == DENY
    assert decide(TRAINER, permission, replace(RESTRICTED_GRANTED, redacted=True)) == DENY
    assert decide(TRAINER, Permission.ITEM_SHARE, replace(OWN, redacted=True)) == ALLOW  # their own footage


def test_only_roles_without_sight_of_unredacted_footage_are_redacted_only() -> None:
    """GIVEN people with some roles WHEN asked whether they see only redacted copies THEN only someone whose
    roles all lack unredacted sight is (a training officer who is also an investigator is not)."""
    assert redacted_only(TRAINER)
    assert not redacted_only(person(Role.TRAINING_OFFICER, Role.INVESTIGATOR))
    assert not redacted_only(person(Role.OFFICER)) and not redacted_only(person())
    assert not redacted_only(SYSTEM) and not redacted_only(DOCK)
    investigator_trainer = person(Role.TRAINING_OFFICER, Role.INVESTIGATOR)
    assert decide(investigator_trainer, Permission.ITEM_VIEW, GRANTED) == ALLOW


def test_item_without_a_team_is_not_supervised() -> None:
    """GIVEN a supervisor WHEN an item has no team THEN supervision gives no access to it."""
    assert decide(SUPERVISOR_OF_MY_TEAM, Permission.ITEM_VIEW, UNATTRIBUTED) == DENY


# permission -> roles allowed (shared/DOMAIN.md roles table, policy docstring)
ROLE_RULES: dict[Permission, frozenset[Role]] = {
    Permission.ITEM_LIST: frozenset(Role),
    Permission.ITEM_CONFIRM: frozenset({Role.OFFICER, Role.SUPERVISOR, Role.INVESTIGATOR,
                                        Role.DISCLOSURE_OFFICER, Role.PROFESSIONAL_STANDARDS,
                                        Role.TRAINING_OFFICER}),
    Permission.ITEM_VIEW_QUARANTINE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.UPLOAD_CREATE: frozenset({Role.OFFICER, Role.SUPERVISOR, Role.INVESTIGATOR,
                                         Role.PROFESSIONAL_STANDARDS}),
    Permission.CASE_CREATE: frozenset({Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS}),
    Permission.CASE_MANAGE: frozenset({Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS,
                                       Role.DISCLOSURE_OFFICER}),
    Permission.HOLD_MANAGE: frozenset({Role.PROFESSIONAL_STANDARDS, Role.RECORDS_MANAGER}),
    Permission.USER_MANAGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.DEVICE_MANAGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.CAMERA_SIGN_OUT: frozenset({Role.OFFICER, Role.SUPERVISOR}),
    Permission.AUDIT_VERIFY: frozenset({Role.AUDITOR, Role.SYSTEM_ADMINISTRATOR}),
    Permission.JOB_VIEW: frozenset({Role.SYSTEM_ADMINISTRATOR}),
    Permission.ITEM_ATTRIBUTE: frozenset({Role.SUPERVISOR, Role.SYSTEM_ADMINISTRATOR}),
    Permission.SCHEDULE_DECIDE: frozenset({Role.DISCLOSURE_OFFICER, Role.INVESTIGATOR,
                                           Role.PROFESSIONAL_STANDARDS}),
    # sharing outside the force (decision 0019); investigators too where the force's setting allows it
    Permission.EXTERNAL_SHARE_CREATE: frozenset({Role.DISCLOSURE_OFFICER, Role.PROFESSIONAL_STANDARDS}),
    Permission.SCRUB_ACKNOWLEDGE: frozenset({Role.SYSTEM_ADMINISTRATOR}),  # decision 0024
    # retention (decision 0023)
    Permission.RETENTION_SCHEDULE: frozenset({Role.RECORDS_MANAGER, Role.SYSTEM_ADMINISTRATOR}),
    Permission.RETENTION_REVIEW: frozenset({Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS, Role.SUPERVISOR}),
    Permission.SUBJECT_ACCESS_MANAGE: frozenset({Role.RECORDS_MANAGER, Role.PROFESSIONAL_STANDARDS}),
    # redaction (decision 0026)
    Permission.REDACTION_EDIT: frozenset({Role.DISCLOSURE_OFFICER, Role.INVESTIGATOR, Role.PROFESSIONAL_STANDARDS,
                                          Role.SUPERVISOR}),
    Permission.ITEM_VIEW_UNREDACTED: frozenset(Role) - {Role.TRAINING_OFFICER},
}


def test_every_non_item_permission_has_a_rule() -> None:
    """GIVEN the Permission enum WHEN a permission is added THEN this table must say who holds it."""
    assert set(ROLE_RULES) | set(ITEM_PERMISSIONS) == set(Permission)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(ROLE_RULES))
def test_role_permissions(permission: Permission, role: Role) -> None:
    """GIVEN a person holding one role WHEN they ask for a non-item permission THEN it is allowed exactly for the roles that hold it."""
    expected = ALLOW if role in ROLE_RULES[permission] else DENY
    assert decide(person(role), permission) == expected


def test_roles_add_up() -> None:
    """GIVEN a person with two roles WHEN they ask THEN either role suffices."""
    both = person(Role.AUDITOR, Role.TRAINING_OFFICER)
    assert decide(both, Permission.AUDIT_VERIFY) == ALLOW
    assert decide(both, Permission.ITEM_CONFIRM) == ALLOW
    assert decide(both, Permission.DEVICE_MANAGE) == DENY


@pytest.mark.parametrize("permission", list(Permission))
def test_system_may_do_everything(permission: Permission) -> None:
    """GIVEN the system itself WHEN it asks anything, about any item THEN it is allowed."""
    assert decide(SYSTEM, permission) == ALLOW
    assert decide(SYSTEM, permission, RESTRICTED) == ALLOW


@pytest.mark.parametrize("permission", list(Permission))
def test_docks_only_upload_and_confirm(permission: Permission) -> None:
    """GIVEN a dock WHEN it asks for a permission THEN only upload and confirm are allowed, and never footage."""
    expected = ALLOW if permission in (Permission.UPLOAD_CREATE, Permission.ITEM_CONFIRM) else DENY
    assert decide(DOCK, permission) == expected
    assert decide(DOCK, permission, replace(OWN, officer_id=DOCK.id, granted=True, reason_given=True)) == expected


def test_an_unscoped_dock_still_only_uploads_and_confirms() -> None:
    """GIVEN a dock whose token carries no scopes WHEN it asks for footage THEN the kind alone refuses it."""
    unscoped = replace(DOCK, scopes=None)
    assert decide(unscoped, Permission.UPLOAD_CREATE) == ALLOW
    assert decide(unscoped, Permission.ITEM_VIEW, GRANTED) == DENY
    assert decide(unscoped, Permission.ITEM_LIST) == DENY


@pytest.mark.parametrize("permission", list(Permission))
def test_a_scope_narrows_a_token(permission: Permission) -> None:
    """GIVEN professional standards using a token scoped to viewing WHEN any other permission is asked THEN it is refused."""
    token = person(Role.PROFESSIONAL_STANDARDS, Role.SYSTEM_ADMINISTRATOR,
                   scopes=frozenset({Permission.ITEM_VIEW}))
    item = replace(OWN, restricted=True)
    expected = ALLOW if permission == Permission.ITEM_VIEW else DENY
    assert decide(token, permission, item) == expected


def test_a_scope_never_widens_a_token() -> None:
    """GIVEN an officer's token scoped to case creation and user management WHEN they ask for them THEN the roles still refuse."""
    token = person(Role.OFFICER, scopes=frozenset({Permission.CASE_CREATE, Permission.USER_MANAGE,
                                                   Permission.ITEM_VIEW}))
    assert decide(token, Permission.CASE_CREATE) == DENY
    assert decide(token, Permission.USER_MANAGE) == DENY
    assert decide(token, Permission.ITEM_VIEW, SOMEONE_ELSES) == DENY
    assert decide(token, Permission.ITEM_VIEW, OWN) == ALLOW


def test_an_empty_scope_refuses_everything() -> None:
    """GIVEN a token with an empty scope set WHEN anything is asked THEN everything is refused, even for the owner."""
    token = person(Role.OFFICER, Role.SYSTEM_ADMINISTRATOR, scopes=frozenset())
    assert all(decide(token, p, OWN) == DENY for p in Permission)


def test_a_scoped_system_actor_is_narrowed_too() -> None:
    """GIVEN the system acting under a scope WHEN it asks outside the scope THEN it is refused."""
    narrowed = replace(SYSTEM, scopes=frozenset({Permission.JOB_VIEW}))
    assert decide(narrowed, Permission.JOB_VIEW) == ALLOW
    assert decide(narrowed, Permission.ITEM_VIEW, OWN) == DENY
