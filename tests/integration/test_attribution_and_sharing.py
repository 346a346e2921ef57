"""Uploads are attributed to whoever had the camera; shares reach their recipients and end on time."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.people import TEAM, make_force
from witnessbox.accounts.roles import Permission
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Forbidden, NotFound


@pytest.fixture
def clocked(settings: Settings) -> tuple[Container, FixedClock]:
    clock = FixedClock(datetime(2026, 11, 26, 7, 0, tzinfo=UTC))
    container = build(settings, clock=clock)
    hold_jobs(container)
    yield container, clock
    container.close()


def test_pool_camera_recordings_go_to_whoever_signed_it_out(clocked: tuple[Container, FixedClock]) -> None:
    """GIVEN a pool camera signed out by one officer, then another WHEN recordings from each shift upload
    (after both shifts) THEN each is attributed to the officer who had the camera when it started recording."""
    container, clock = clocked
    force = make_force(container, camera=None)
    container.devices.register_camera("POOL1", pool="Bethel Street", actor=SYSTEM)
    container.devices.sign_out("POOL1", actor=force.actor("owner"))
    first_shift = clock.now() + timedelta(hours=1)
    clock.advance(hours=12)
    container.devices.sign_out("POOL1", actor=force.actor("stranger"))
    second_shift = clock.now() + timedelta(hours=1)
    clock.advance(hours=3)
    early = container.evidence.get(upload_bytes(container, b"early shift", camera="POOL1", started_at=first_shift))
    late = container.evidence.get(upload_bytes(container, b"late shift", camera="POOL1", started_at=second_shift))
    assert early.officer_id == force.ids["owner"] and early.team_id is not None
    assert late.officer_id == force.ids["stranger"]
    before_any = container.evidence.get(upload_bytes(container, b"x", camera="POOL1", started_at=first_shift - timedelta(days=1)))
    assert before_any.officer_id is None


def test_only_officers_sign_out_cameras(clocked: tuple[Container, FixedClock]) -> None:
    """GIVEN an auditor WHEN they try to sign out a camera THEN it is refused."""
    container, _ = clocked
    force = make_force(container, camera=None)
    container.devices.register_camera("POOL1", actor=SYSTEM)
    with pytest.raises(Forbidden):
        container.devices.sign_out("POOL1", actor=force.actor("auditor"))


def test_share_with_a_colleague_notifies_and_expires(clocked: tuple[Container, FixedClock]) -> None:
    """GIVEN the owner's item WHEN shared with a stranger until tomorrow THEN the stranger sees it and is
    notified; after the expiry it is gone again."""
    container, clock = clocked
    force = make_force(container)
    item_id = upload_bytes(container, b"incident", camera="WBX00001", started_at=clock.now())
    stranger = force.actor("stranger")
    assert container.evidence.list_items(actor=stranger) == []
    container.sharing.share(item_id, actor=force.actor("owner"), collar_number=force.collar("stranger"),
                            expires_at=clock.now() + timedelta(days=1))
    assert [i.id for i in container.evidence.list_items(actor=stranger)] == [item_id]
    assert container.evidence.authorise(item_id, Permission.ITEM_PLAY, actor=stranger).id == item_id
    [note] = container.users.notifications(actor=stranger)
    assert "shared" in note.text and note.link == f"/items/{item_id}"
    clock.advance(days=2)
    assert container.evidence.list_items(actor=stranger) == []
    with pytest.raises(NotFound):
        container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=stranger)


def test_share_with_a_team_reaches_every_member(clocked: tuple[Container, FixedClock]) -> None:
    """GIVEN the owner's item WHEN shared with the owner's team THEN a team-mate sees it; revoking ends it."""
    container, clock = clocked
    force = make_force(container)
    item_id = upload_bytes(container, b"incident", camera="WBX00001", started_at=clock.now())
    teammate = force.actor("teammate")
    assert container.evidence.list_items(actor=teammate) == []
    share = container.sharing.share(item_id, actor=force.actor("owner"), team=TEAM)
    assert [i.id for i in container.evidence.list_items(actor=teammate)] == [item_id]
    container.sharing.revoke(share.id, actor=force.actor("owner"))
    assert container.evidence.list_items(actor=teammate) == []


def test_nobody_shares_what_they_cannot_see(clocked: tuple[Container, FixedClock]) -> None:
    """GIVEN the owner's item WHEN a stranger tries to share it, or the owner shares with nobody THEN refused."""
    container, clock = clocked
    force = make_force(container)
    item_id = upload_bytes(container, b"incident", camera="WBX00001", started_at=clock.now())
    with pytest.raises(NotFound):
        container.sharing.share(item_id, actor=force.actor("stranger"), collar_number=force.collar("teammate"))
    with pytest.raises(NotFound):  # an unknown person is not found, as an unknown item is
        container.sharing.share(item_id, actor=force.actor("owner"), collar_number="no-such-person")


def test_complaint_case_hides_footage_from_the_officer_complained_about(
        clocked: tuple[Container, FixedClock]) -> None:
    """GIVEN the owner's item WHEN professional standards put it in a complaint case THEN the owner, their
    supervisor and investigators lose it; professional standards keep it."""
    container, clock = clocked
    force = make_force(container)
    item_id = upload_bytes(container, b"incident", camera="WBX00001", started_at=clock.now())
    psd = force.actor("psd")
    container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=psd, reason="complaint 26/0042 received about the arrest")
    case = container.cases.create("PSD-26-0042", "Complaint about arrest", kind="complaint", actor=psd)
    container.cases.add_items(case.id, [item_id], actor=psd)
    for persona in ("owner", "supervisor", "investigator"):
        assert container.evidence.list_items(actor=force.actor(persona)) == [], persona
        with pytest.raises(NotFound):
            container.evidence.authorise(item_id, Permission.ITEM_VIEW, actor=force.actor(persona))
    assert [i.id for i in container.evidence.list_items(actor=psd)] == [item_id]
