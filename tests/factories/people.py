"""A small force for tests: one person per persona the access rules care about."""

from dataclasses import dataclass
from datetime import UTC, datetime

from witnessbox.accounts.roles import Role
from witnessbox.accounts.service import NewUser
from witnessbox.bootstrap import Container
from witnessbox.core.actor import SYSTEM, Actor

PASSWORD = "a long test password 2026"
ISSUED = datetime(2020, 1, 1, tzinfo=UTC)
TEAM, OTHER_TEAM = "Response A", "Response B"

# persona -> (collar number, name, roles, member of, supervises)
PERSONAS: dict[str, tuple[str, str, frozenset[Role], tuple[str, ...], tuple[str, ...]]] = {
    "owner": ("1142", "Alex Morgan", frozenset({Role.OFFICER}), (TEAM,), ()),
    "teammate": ("2087", "Sam Patel", frozenset({Role.OFFICER}), (TEAM,), ()),
    "supervisor": ("4410", "Chris Evans", frozenset({Role.SUPERVISOR}), (), (TEAM,)),
    "stranger": ("7001", "Pat Jones", frozenset({Role.OFFICER}), (OTHER_TEAM,), ()),
    "other_supervisor": ("7002", "Kim Lee", frozenset({Role.SUPERVISOR}), (), (OTHER_TEAM,)),
    "investigator": ("5120", "Dana Reid", frozenset({Role.INVESTIGATOR}), (), ()),
    "case_member": ("5121", "Ray Wood", frozenset({Role.DISCLOSURE_OFFICER}), (), ()),
    "psd": ("6001", "Lee Carter", frozenset({Role.PROFESSIONAL_STANDARDS}), (), ()),
    "trainer": ("6500", "Max Hill", frozenset({Role.TRAINING_OFFICER}), (), ()),
    "auditor": ("8001", "Jan Fox", frozenset({Role.AUDITOR}), (), ()),
    "sysadmin": ("9001", "Ash Grey", frozenset({Role.SYSTEM_ADMINISTRATOR}), (), ()),
}


@dataclass
class Force:
    """The people made, by persona: their ids and how they act."""

    container: Container
    ids: dict[str, str]

    def actor(self, persona: str) -> Actor:
        """The Actor a persona signs in as (roles and teams as the server would see them)."""
        from witnessbox.accounts.service import actor_for

        return actor_for(self.container.users.get(self.ids[persona]))

    def collar(self, persona: str) -> str:
        """The persona's collar number (their username)."""
        return PERSONAS[persona][0]


def make_force(container: Container, camera: str | None = "WBX00001") -> Force:
    """Create the teams and personas; issue `camera` to the owner."""
    for team in (TEAM, OTHER_TEAM):
        container.users.create_team(team, actor=SYSTEM)
    ids = {}
    for persona, (collar, name, roles, teams, supervises) in PERSONAS.items():
        user = container.users.create_user(
            NewUser(collar, name, roles, password=PASSWORD, teams=teams, supervises=supervises), actor=SYSTEM)
        ids[persona] = user.id
    if camera:
        # Issued since long before any test recording (tests/factories/media.py STARTED), whatever
        # the real date: attribution goes by when a recording started, not by when it uploads.
        container.devices.register_camera(camera, actor=SYSTEM)
        container.devices.assign(camera, PERSONAS["owner"][0], actor=SYSTEM, starts_at=ISSUED)
    return Force(container, ids)
