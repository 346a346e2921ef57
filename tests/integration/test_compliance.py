"""The supervisor's compliance view: old uncategorised footage per officer, silent cameras, reminders."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import LiveServer
from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.people import ISSUED, PASSWORD, make_force
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Forbidden, NotFound
from witnessbox.evidence.categorise import Categorisation

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def system(settings: Settings) -> Container:
    container = build(settings, clock=FixedClock(NOW))
    hold_jobs(container)
    yield container
    container.close()


def test_backlog_counts_only_old_uncategorised_footage_of_the_team(system: Container) -> None:
    """GIVEN the owner's recordings: two old uncategorised, one old categorised, one recent
    WHEN the supervisor opens the view (3 days) THEN the owner has 2 outstanding; another supervisor sees none of it."""
    force = make_force(system)
    old = NOW - timedelta(days=5)
    ids = [upload_bytes(system, f"old {n}".encode(), camera="WBX00001", started_at=old + timedelta(minutes=n)) for n in range(3)]
    upload_bytes(system, b"recent", camera="WBX00001", started_at=NOW - timedelta(hours=2))
    system.categorise.categorise([ids[2]], Categorisation(evidential=False), actor=force.actor("owner"))
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert [(row.name, row.count) for row in team.backlog] == [("1142 Alex Morgan", 2)]
    assert team.backlog[0].oldest == old
    [other] = system.compliance.view(actor=force.actor("other_supervisor"), days=3)
    assert other.backlog == []


def test_cameras_not_docked_are_listed(system: Container) -> None:
    """GIVEN a camera issued to the owner four days ago that never docked WHEN the supervisor looks THEN it is listed; after a dock it is not."""
    force = make_force(system)
    assert isinstance(system.clock, FixedClock)
    system.clock.current = NOW + timedelta(days=4)
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert [(c.serial, c.last_docked_at) for c in team.silent_cameras] == [("WBX00001", None)]
    upload_bytes(system, b"docked today", camera="WBX00001", started_at=NOW - timedelta(hours=1))
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert team.silent_cameras == []


def test_a_camera_registered_lately_is_not_silent(system: Container) -> None:
    """GIVEN a camera registered and issued to the owner today, never docked WHEN the supervisor looks for cameras silent 3 days THEN it is not listed; three days on, it is."""
    force = make_force(system)
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert team.silent_cameras == []
    assert isinstance(system.clock, FixedClock)
    system.clock.current = NOW + timedelta(days=3, minutes=1)
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert [c.serial for c in team.silent_cameras] == ["WBX00001"]


def test_reminder_notifies_the_officer_and_is_audited(system: Container) -> None:
    """GIVEN an officer with old uncategorised footage WHEN the supervisor reminds them THEN they get a notification."""
    force = make_force(system)
    upload_bytes(system, b"old", camera="WBX00001", started_at=NOW - timedelta(days=4))
    assert system.compliance.remind(force.ids["owner"], actor=force.actor("supervisor"), days=3) == 1
    [note] = system.users.notifications(actor=force.actor("owner"))
    assert "categorise 1 recording" in note.text
    with pytest.raises(NotFound):
        system.compliance.remind(force.ids["stranger"], actor=force.actor("supervisor"))


def test_only_supervisors_see_the_view(system: Container) -> None:
    """GIVEN an officer WHEN they open the compliance view THEN it is refused."""
    force = make_force(system)
    with pytest.raises(Forbidden):
        system.compliance.view(actor=force.actor("owner"))


def test_compliance_page_and_remind_button(live_server: LiveServer) -> None:
    """GIVEN a supervisor signed in WHEN they open /compliance and press Remind THEN the page shows the team and the count."""
    container = build(live_server.settings)
    try:
        make_force(container)
        hold_jobs(container)
        upload_bytes(container, b"very old", camera="WBX00001", started_at=ISSUED + timedelta(days=1))
        owner_id = container.users.by_collar_number("1142").id  # type: ignore[union-attr]
    finally:
        container.close()
    with live_server.signed_in("4410", PASSWORD) as browser:
        page = browser.get("/compliance")
        assert page.status_code == 200 and "Response A" in page.text and "1142 Alex Morgan" in page.text
        csrf = browser.get("/api/v1/me").json()["csrf_token"]
        done = browser.post(f"/compliance/remind/{owner_id}", data={"csrf_token": csrf, "days": "3"})
        assert done.status_code == 303 and done.headers["location"].endswith("reminded=1")
    with live_server.signed_in("1142", PASSWORD) as officer:
        assert officer.get("/compliance").status_code == 403
        assert "categorise 1 recording" in officer.get("/notifications").text
