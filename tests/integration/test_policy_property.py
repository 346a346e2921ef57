"""Random forces: what lists show, and what opening an item answers, follow the access rules.

Hypothesis builds small forces (people with random roles, teams and supervisions; items
with random officers, teams, restriction and quarantine; shares to people and teams, some
expired or revoked; a case with random members and items) through the services, on a
fresh database per example. The expectation comes from `Rules` below, the rules of the
policy module's docstring written again independently: it never calls the policy.
"""

import contextlib
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fresh_database_url
from witnessbox.accounts.grants import add_grant, revoke_grants
from witnessbox.accounts.policy import redacted_only
from witnessbox.accounts.roles import Permission, Role
from witnessbox.accounts.service import NewUser, actor_for
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM, Actor
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Forbidden, NotFound, ReasonRequired
from witnessbox.core.ids import new_id
from witnessbox.evidence.models import ItemState
from witnessbox.evidence.service import ItemDraft

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
EXPIRED_SHARES_END = timedelta(hours=1)  # the clock moves on past this before anyone looks
LIVE_SHARES_END = timedelta(hours=10)
LOOK_AFTER = timedelta(hours=2)
SEES, NEEDS_REASON, HIDDEN, READ_ONLY = "sees", "needs a reason", "hidden", "read-only"


# --- the random force -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    """One person: roles, teams they belong to, teams they supervise (a subset of `teams`)."""

    roles: frozenset[Role]
    teams: frozenset[int]
    supervises: frozenset[int]


@dataclass(frozen=True)
class Recording:
    """One item: whose, which team's, restricted (complaint case), quarantined."""

    officer: int | None
    team: int | None
    restricted: bool
    quarantined: bool


@dataclass(frozen=True)
class Sharing:
    """A share of one item with one person or one team."""

    item: int
    to_person: int | None
    to_team: int | None
    ends: str  # "never", "later" (still live when looked at), "soon" (expired when looked at)
    revoked: bool


@dataclass(frozen=True)
class Force:
    """Everything one example builds."""

    teams: int
    people: tuple[Person, ...]
    items: tuple[Recording, ...]
    shares: tuple[Sharing, ...]
    case_members: frozenset[int]
    case_items: frozenset[int]


@st.composite
def people(draw: st.DrawFn, teams: int) -> Person:
    """A person with 0-2 roles, in 0-2 teams, supervising some of them."""
    member_of = draw(st.frozensets(st.integers(0, teams - 1), max_size=2))
    supervises = draw(st.frozensets(st.sampled_from(sorted(member_of)))) if member_of else frozenset()
    roles = draw(st.frozensets(st.sampled_from(list(Role)), max_size=2))
    return Person(roles, member_of, supervises)


@st.composite
def forces(draw: st.DrawFn) -> Force:
    """A small random force."""
    teams = draw(st.integers(2, 3))
    crew = tuple(draw(st.lists(people(teams), min_size=3, max_size=8)))
    who, team = st.integers(0, len(crew) - 1), st.integers(0, teams - 1)
    items = tuple(draw(st.lists(st.builds(
        Recording, officer=st.none() | who, team=st.none() | team,
        restricted=st.booleans(), quarantined=st.booleans()), min_size=3, max_size=10)))
    which = st.integers(0, len(items) - 1)
    share = st.one_of(
        st.builds(Sharing, item=which, to_person=who, to_team=st.none(),
                  ends=st.sampled_from(["never", "later", "soon"]), revoked=st.booleans()),
        st.builds(Sharing, item=which, to_person=st.none(), to_team=team,
                  ends=st.sampled_from(["never", "later", "soon"]), revoked=st.booleans()))
    return Force(teams, crew, items, tuple(draw(st.lists(share, max_size=8))),
                 draw(st.frozensets(who)), draw(st.frozensets(which)))


# --- the rules, written again from the policy docstring ----------------------------------------

@dataclass
class Rules:
    """An independent model of who may see which item (policy docstring, shared/DOMAIN.md roles).

    People are indexed as in Force.people; the case's lead investigator is index len(people).
    """

    force: Force
    lead: Person = field(default_factory=lambda: Person(frozenset({Role.INVESTIGATOR}), frozenset(), frozenset()))
    reasons: set[tuple[int, int]] = field(default_factory=set)  # (person, item) with a recorded reason

    def person(self, index: int) -> Person:
        """A person of the force, or the lead."""
        return self.force.people[index] if index < len(self.force.people) else self.lead

    def granted(self, index: int, item: int) -> bool:
        """A live share to them or one of their teams, or a case they work that holds the item."""
        me = self.person(index)
        lead = index == len(self.force.people)
        if item in self.force.case_items and (lead or index in self.force.case_members):
            return True
        return any(
            share.item == item and not share.revoked and share.ends != "soon"
            and (share.to_person == index or share.to_team in me.teams)
            for share in self.force.shares
        )

    def holds(self, index: int, item: int) -> bool:
        """Own, or the supervised team's (supervisors only): the footage's own circle."""
        me, recording = self.person(index), self.force.items[item]
        own = recording.officer is not None and recording.officer == index
        return own or (Role.SUPERVISOR in me.roles and recording.team in me.supervises)

    def close(self, index: int, item: int) -> bool:
        """Own, supervised team's (supervisors only), or granted."""
        return self.holds(index, item) or self.granted(index, item)

    def redacted_only(self, index: int) -> bool:
        """Roles, none of which sees footage unredacted (only the training officer's): such a person
        sees only items with a redacted copy, and no item here has one (decision 0026)."""
        roles = self.person(index).roles
        return bool(roles) and roles <= {Role.TRAINING_OFFICER}

    def access(self, index: int, item: int) -> str:
        """SEES, NEEDS_REASON or HIDDEN."""
        me, recording = self.person(index), self.force.items[item]
        psd = Role.PROFESSIONAL_STANDARDS in me.roles
        if (recording.restricted and not psd) or self.redacted_only(index):
            return HIDDEN
        if recording.quarantined and Role.SYSTEM_ADMINISTRATOR in me.roles:
            return SEES  # the record of a quarantined item, so an administrator can act on it
        if self.close(index, item):
            return SEES
        if psd or me.roles & {Role.INVESTIGATOR, Role.DISCLOSURE_OFFICER}:  # decision 0022
            return SEES if (index, item) in self.reasons else NEEDS_REASON
        return HIDDEN

    def may_categorise(self, index: int, item: int) -> bool:
        """Describing footage needs its own circle, or professional standards; a share, a case or a
        reason is read-only (decision 0013)."""
        psd = Role.PROFESSIONAL_STANDARDS in self.person(index).roles
        if (self.force.items[item].restricted and not psd) or self.redacted_only(index):
            return False
        return psd or self.holds(index, item)


# --- building an example through the services ------------------------------------------------------



@contextlib.contextmanager
def fresh_system(folder: Path) -> Iterator[tuple[Container, FixedClock]]:
    """The whole system on its own new database, with a clock the test moves."""
    with tempfile.TemporaryDirectory(dir=folder) as here, fresh_database_url(Path(here)) as url:
        clock = FixedClock(START)
        container = build(Settings(data_dir=Path(here) / "data", database_url=url,
                                   queue_name=f"wbx-test-{secrets.token_hex(4)}"), clock=clock)
        try:
            yield container, clock
        finally:
            container.close()


@dataclass
class Built:
    """What was made, by index."""

    teams: list[str]
    user_ids: list[str]  # force people, then the lead
    item_ids: list[str]

    def actor(self, container: Container, index: int) -> Actor:
        """How the person at `index` acts (roles and teams as a sign-in would snapshot them)."""
        return actor_for(container.users.get(self.user_ids[index]))


def _people(container: Container, force: Force) -> Built:
    teams = [f"Team {n}" for n in range(force.teams)]
    for name in teams:
        container.users.create_team(name, actor=SYSTEM)
    built = Built(teams, [], [])
    lead = Person(frozenset({Role.INVESTIGATOR}), frozenset(), frozenset())
    for index, person in enumerate((*force.people, lead)):
        new = NewUser(f"P{index}", f"Person {index}", frozenset(person.roles),
                      teams=tuple(teams[t] for t in sorted(person.teams - person.supervises)),
                      supervises=tuple(teams[t] for t in sorted(person.supervises)))
        built.user_ids.append(container.users.create_user(new, actor=SYSTEM).id)
    return built


def _items(container: Container, force: Force, built: Built, clock: FixedClock) -> None:
    for index, recording in enumerate(force.items):
        officer = built.user_ids[recording.officer] if recording.officer is not None else None
        draft = ItemDraft(sha256=secrets.token_hex(32), size=1, filename=f"item{index}.mp4", camera_id=None,
                          camera_serial=None, dock_id=None, officer_id=officer, officer=None,
                          team_id=container.users.list_teams()[recording.team].id if recording.team is not None
                          else None, recorded_start=clock.now(), upload_started_at=clock.now())
        with container.db.transaction() as uow:
            built.item_ids.append(container.evidence.create_item(uow.session, draft, actor=SYSTEM).id)
        container.evidence.set_state(built.item_ids[-1], ItemState.READY, actor=SYSTEM)


def _share(container: Container, force: Force, built: Built, share: Sharing, clock: FixedClock) -> None:
    """Through the sharing service as the item's officer when there is one who may open it; else a grant as a
    share makes it."""
    item_id, officer = built.item_ids[share.item], force.items[share.item].officer
    ends = {"never": None, "later": clock.now() + LIVE_SHARES_END, "soon": clock.now() + EXPIRED_SHARES_END}
    to_team = built.teams[share.to_team] if share.to_team is not None else None
    sharer = built.actor(container, officer) if officer is not None else None
    if sharer is not None and not redacted_only(sharer):  # a redacted-only owner cannot open it to share it
        made = container.sharing.share(
            item_id, actor=sharer, expires_at=ends[share.ends], team=to_team,
            collar_number=f"P{share.to_person}" if share.to_person is not None else None)
        if share.revoked:
            container.sharing.revoke(made.id, actor=sharer)
        return
    team_id = next((t.id for t in container.users.list_teams() if t.name == to_team), None)
    with container.db.transaction() as uow:
        source_id = new_id()
        add_grant(uow.session, item_id, source="share", source_id=source_id, now=clock.now(),
                  user_id=built.user_ids[share.to_person] if share.to_person is not None else None,
                  team_id=team_id, expires_at=ends[share.ends])
        if share.revoked:
            revoke_grants(uow.session, source="share", source_id=source_id, now=clock.now())


def _case(container: Container, force: Force, built: Built, rules: Rules) -> None:
    """The lead opens a case, gives a reason for each item and adds it, then invites the members."""
    lead_index = len(force.people)
    lead = built.actor(container, lead_index)
    case = container.cases.create("CASE-1", "Random case", actor=lead)
    for item in sorted(force.case_items):
        container.evidence.authorise(built.item_ids[item], Permission.ITEM_VIEW, actor=lead,
                                     reason="building the case file")
        rules.reasons.add((lead_index, item))
    container.cases.add_items(case.id, [built.item_ids[i] for i in sorted(force.case_items)], actor=lead)
    for member in sorted(force.case_members):
        container.cases.add_member(case.id, f"P{member}", actor=lead)


def _restrict_and_quarantine(container: Container, force: Force, built: Built) -> None:
    for index, recording in enumerate(force.items):
        if recording.restricted:
            with container.db.transaction() as uow:
                container.evidence.restrict(uow.session, built.item_ids[index], case_reference="COMPLAINT-1",
                                            actor=SYSTEM)
        if recording.quarantined:
            container.evidence.set_state(built.item_ids[index], ItemState.QUARANTINED, actor=SYSTEM,
                                         reason="not a readable MP4")


def build_force(container: Container, clock: FixedClock, force: Force) -> tuple[Built, Rules]:
    """Make the force through the services, then move the clock past the short shares."""
    rules = Rules(force)
    built = _people(container, force)
    _items(container, force, built, clock)
    for share in force.shares:
        _share(container, force, built, share, clock)
    _case(container, force, built, rules)
    _restrict_and_quarantine(container, force, built)
    clock.advance(seconds=LOOK_AFTER.total_seconds())
    return built, rules


# --- the property ----------------------------------------------------------------------------------

def _opening(container: Container, item_id: str, actor: Actor,
             permission: Permission = Permission.ITEM_VIEW) -> str:
    try:
        container.evidence.authorise(item_id, permission, actor=actor)
    except ReasonRequired:
        return NEEDS_REASON
    except NotFound:
        return HIDDEN
    except Forbidden:
        return READ_ONLY
    return SEES


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(force=forces())
def test_lists_and_opening_follow_the_rules(force: Force, tmp_path: Path) -> None:
    """GIVEN a random force with items, shares, a case, restricted and quarantined items WHEN each person lists items and opens each one THEN the list is exactly what the rules let them see, an unlisted item is absent (404) when opened, a listed one asks for a reason exactly when the rules say, and categorising needs close access or PSD."""
    with fresh_system(tmp_path) as (container, clock):
        built, rules = build_force(container, clock, force)
        for index in range(len(built.user_ids)):
            actor = built.actor(container, index)
            expected = {item: rules.access(index, item) for item in range(len(force.items))}
            listed = {item.id for item in container.evidence.list_items(actor=actor, limit=500)}
            shown = {built.item_ids[i] for i, access in expected.items() if access != HIDDEN}
            assert listed == shown, f"person {index} ({force.people[index] if index < len(force.people) else 'lead'})"
            for item, access in expected.items():
                got = _opening(container, built.item_ids[item], actor)
                assert got == access, f"person {index} opening item {item} {force.items[item]}: {got}, not {access}"
                categorise = _opening(container, built.item_ids[item], actor, Permission.ITEM_CATEGORISE)
                assert (categorise == SEES) is rules.may_categorise(index, item), (index, item, categorise)
                assert categorise != NEEDS_REASON
                # Refused to someone who may open it: read-only (403), not absent.
                assert (categorise == READ_ONLY) is (categorise != SEES and got == SEES), (index, item)


def test_restricted_quarantine_is_psd_only(tmp_path: Path) -> None:
    """GIVEN a restricted item that is also quarantined WHEN an administrator lists or opens it THEN it is absent."""
    force = Force(teams=2, people=(Person(frozenset({Role.SYSTEM_ADMINISTRATOR}), frozenset(), frozenset()),),
                  items=(Recording(officer=None, team=None, restricted=True, quarantined=True),),
                  shares=(), case_members=frozenset(), case_items=frozenset())
    with fresh_system(tmp_path) as (container, clock):
        built, _rules = build_force(container, clock, force)
        admin = built.actor(container, 0)
        assert container.evidence.list_items(actor=admin) == []
        assert _opening(container, built.item_ids[0], admin) == HIDDEN
