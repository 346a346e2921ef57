"""The supervisor's compliance view: old uncategorised footage per officer, silent cameras, reminders."""

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import LiveServer
from tests.factories.people import ISSUED, PASSWORD, make_force
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Forbidden, NotFound
from witnessbox.evidence.categorise import Categorisation
from witnessbox.ingest.metadata import Declaration

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _upload(container: Container, camera: str, started_at: datetime, data: bytes) -> str:
    declaration = Declaration(filename="c.mp4", sha256=hashlib.sha256(data).hexdigest(), camera=camera,
                              started_at=started_at, extra={}, camera_metadata=None)
    status = container.ingest.create(declaration, len(data), actor=SYSTEM)
    done = asyncio.run(container.ingest.append(status.id, 0, _body(data), actor=SYSTEM))
    assert done.item_id
    return done.item_id


@pytest.fixture
def system(settings: Settings) -> Container:
    container = build(settings, clock=FixedClock(NOW))
    container.jobs.queue = type("Nowhere", (), {"send": lambda self, job_id, delay_s=0: None})()
    yield container
    container.close()


def test_backlog_counts_only_old_uncategorised_footage_of_the_team(system: Container) -> None:
    """GIVEN the owner's recordings: two old uncategorised, one old categorised, one recent
    WHEN the supervisor opens the view (3 days) THEN the owner has 2 outstanding; another supervisor sees none of it."""
    force = make_force(system)
    old = NOW - timedelta(days=5)
    ids = [_upload(system, "WBX00001", old + timedelta(minutes=n), f"old {n}".encode()) for n in range(3)]
    _upload(system, "WBX00001", NOW - timedelta(hours=2), b"recent")
    system.categorise.categorise([ids[2]], Categorisation(evidential=False), actor=force.actor("owner"))
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert [(row.name, row.count) for row in team.backlog] == [("1142 Alex Morgan", 2)]
    assert team.backlog[0].oldest == old
    [other] = system.compliance.view(actor=force.actor("other_supervisor"), days=3)
    assert other.backlog == []


def test_cameras_not_docked_are_listed(system: Container) -> None:
    """GIVEN a camera issued to the owner that never docked WHEN the supervisor looks THEN it is listed; after a dock it is not."""
    force = make_force(system)
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert [(c.serial, c.last_docked_at) for c in team.silent_cameras] == [("WBX00001", None)]
    _upload(system, "WBX00001", NOW - timedelta(hours=1), b"docked today")
    [team] = system.compliance.view(actor=force.actor("supervisor"), days=3)
    assert team.silent_cameras == []


def test_reminder_notifies_the_officer_and_is_audited(system: Container) -> None:
    """GIVEN an officer with old uncategorised footage WHEN the supervisor reminds them THEN they get a notification."""
    force = make_force(system)
    _upload(system, "WBX00001", NOW - timedelta(days=4), b"old")
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
        container.jobs.queue = type("Nowhere", (), {"send": lambda self, job_id, delay_s=0: None})()
        _upload(container, "WBX00001", ISSUED + timedelta(days=1), b"very old")
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
