"""Devices for administrators: the fleet of cameras and docks, dock tokens rotated and revoked with an
audit entry, the system's state as the administrator's home, and the command line's view of the same."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import LiveServer
from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.people import PASSWORD, PERSONAS, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.cli import app
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock
from witnessbox.core.errors import Conflict, Forbidden
from witnessbox.devices.service import rotate_dock_token
from witnessbox.jobs.models import JobRecord, JobState

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
HTML = {"Accept": "text/html"}


@pytest.fixture
def system(settings: Settings) -> Container:
    """The system on a clock that stands still until a test moves it."""
    container = build(settings, clock=FixedClock(NOW))
    hold_jobs(container)
    yield container
    container.close()


NO_SUCH_HASH = "0" * 64  # a dock may ask whether bytes are held: the call a dock token is for


def _fleet(system: Container) -> Force:
    """The owner's personal camera WBX00001 (two recordings), a pool camera signed out by the teammate,
    a spare never issued, and a dock."""
    force = make_force(system)
    system.devices.register_camera("POOL0001", pool="Central", actor=SYSTEM)
    system.devices.register_camera("SPARE001", actor=SYSTEM)
    system.devices.sign_out("POOL0001", actor=force.actor("teammate"))
    for n in range(2):
        upload_bytes(system, f"recording {n}".encode(), started_at=NOW - timedelta(hours=n + 1))
    system.devices.register_dock("station-1", actor=SYSTEM)
    return force


def _clock(system: Container) -> FixedClock:
    assert isinstance(system.clock, FixedClock)
    return system.clock


def test_the_fleet_shows_holders_issue_history_and_recordings(system: Container) -> None:
    """GIVEN cameras issued personally, signed out from a pool and never issued WHEN an administrator looks at the fleet THEN each shows who holds it now and how, when it last docked and how many recordings it made; a camera's history lists every spell, newest first; nobody else may look."""
    force = _fleet(system)
    admin = force.actor("sysadmin")
    rows = {c.serial: c for c in system.fleet.cameras(actor=admin)}
    assert (rows["WBX00001"].holder, rows["WBX00001"].holder_kind, rows["WBX00001"].recordings) == (
        "1142 Alex Morgan", "personal", 2)
    assert rows["WBX00001"].last_docked_at == NOW
    assert (rows["POOL0001"].holder, rows["POOL0001"].holder_kind, rows["POOL0001"].pool) == (
        "2087 Sam Patel", "pool", "Central")
    assert (rows["SPARE001"].holder, rows["SPARE001"].recordings, rows["SPARE001"].last_docked_at) == (None, 0, None)

    system.devices.assign("WBX00001", PERSONAS["teammate"][0], actor=SYSTEM, starts_at=NOW - timedelta(minutes=5),
                          end_current=True)
    detail = system.fleet.camera("WBX00001", actor=admin)
    assert [(s.officer, s.ends_at) for s in detail.history] == [
        ("2087 Sam Patel", None), ("1142 Alex Morgan", NOW - timedelta(minutes=5))]
    for persona in ("owner", "supervisor", "auditor"):
        with pytest.raises(Forbidden):
            system.fleet.cameras(actor=force.actor(persona))


def test_new_devices_are_not_silent_and_quiet_ones_are(system: Container) -> None:
    """GIVEN a fleet registered today WHEN the administrator asks for devices silent 7 days THEN none (new is not silent); eight days on, the spare and pool cameras and the unused dock are, but not a dock whose token was used."""
    force = _fleet(system)
    admin = force.actor("sysadmin")
    assert system.fleet.silent(actor=admin, days=7) == []
    _, used_token = system.devices.register_dock("station-2", actor=SYSTEM)
    clock = _clock(system)
    clock.current = NOW + timedelta(days=8)
    system.tokens.authenticate(used_token)  # the dock uploads today
    silent = {(d.kind, d.name) for d in system.fleet.silent(actor=admin, days=7)}
    assert {("camera", "SPARE001"), ("camera", "POOL0001"), ("dock", "station-1")} <= silent
    assert ("dock", "station-2") not in silent
    assert ("camera", "WBX00001") in silent  # docked eight days ago


def test_rotating_a_dock_token_stops_the_old_one_and_is_audited(system: Container) -> None:
    """GIVEN a registered dock WHEN an administrator rotates its token THEN a new token is returned, the rotation is in the audit trail, and a revoked dock cannot be rotated back to life; officers may not rotate."""
    force = _fleet(system)
    admin = force.actor("sysadmin")
    with pytest.raises(Forbidden):
        rotate_dock_token(system.devices, "station-1", actor=force.actor("owner"))
    token = rotate_dock_token(system.devices, "station-1", actor=admin)
    assert token.startswith("wbx")
    with system.db.read() as session:
        tags = list(session.scalars(select(AuditEvent.tag).where(
            AuditEvent.tag == str(AuditTag.DEVICE_DOCK_TOKEN_ROTATED))))
    assert tags == [str(AuditTag.DEVICE_DOCK_TOKEN_ROTATED)]
    system.devices.revoke_dock("station-1", actor=admin)
    with pytest.raises(Conflict, match="revoked"):
        rotate_dock_token(system.devices, "station-1", actor=admin)


def test_the_system_state_counts_jobs_storage_and_the_checkpoint(system: Container) -> None:
    """GIVEN two ingested recordings whose jobs wait, one job failed and one left running for an hour WHEN the administrator opens the system state THEN jobs are counted by state with the stuck one, the originals' bytes are summed, the disk's free space is known, and the audit checkpoint's age shows."""
    force = _fleet(system)
    with system.db.transaction() as uow:
        jobs = list(uow.session.scalars(select(JobRecord).order_by(JobRecord.id)))
        jobs[0].state, jobs[0].error = JobState.FAILED, "probe: moov atom not found"
        jobs[1].state, jobs[1].updated_at = JobState.RUNNING, NOW - timedelta(hours=1)
    system.audit.checkpoint(actor=SYSTEM)
    _clock(system).current = NOW + timedelta(minutes=30)
    state = system.system.state(actor=force.actor("sysadmin"), silent_days=7)
    assert state.jobs.by_state["failed"] == 1 and state.jobs.stuck == 1
    assert [j.error for j in state.jobs.failed] == ["probe: moov atom not found"]
    assert state.storage.originals_bytes == len(b"recording 0") + len(b"recording 1")
    assert state.storage.disk_free_bytes and state.storage.disk_free_bytes > 0
    assert state.audit.age == timedelta(minutes=30) and not state.audit.overdue
    with pytest.raises(Forbidden):
        system.system.state(actor=force.actor("supervisor"))


def test_the_administrators_pages_over_a_real_server(live_server: LiveServer) -> None:
    """GIVEN a fleet WHEN the administrator signs in THEN their home is the system page; the cameras, one camera and the docks pages show the fleet; rotating on the docks page shows the new token once and stops the old one; revoking marks the dock revoked; the API lists the same."""
    container = build(live_server.settings)
    try:
        make_force(container)
        container.devices.register_camera("POOL0001", pool="Central", actor=SYSTEM)
        _, old_token = container.devices.register_dock("station-1", actor=SYSTEM)
    finally:
        container.close()
    assert httpx.get(f"{live_server.url}/api/v1/held/{NO_SUCH_HASH}", headers={"Authorization": f"Bearer {old_token}"}).status_code == 200
    with live_server.signed_in(PERSONAS["sysadmin"][0], PASSWORD) as admin:
        admin.headers.update(HTML)
        home = admin.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/admin"
        system_page = admin.get("/admin")
        assert system_page.status_code == 200
        assert all(f'id="{part}"' in system_page.text for part in ("jobs", "storage", "audit", "silent"))
        cameras = admin.get("/admin/cameras").text
        assert "WBX00001" in cameras and "1142 Alex Morgan" in cameras and "Pool · Central" in cameras
        camera = admin.get("/admin/cameras/WBX00001").text
        assert "Personal issue" in camera and "still issued" in camera
        assert "station-1" in admin.get("/admin/docks").text
        csrf = admin.get("/api/v1/me").json()["csrf_token"]
        rotated = admin.post("/admin/docks/station-1/rotate", data={"csrf_token": csrf})
        new_token = re.search(r'id="new-token">([^<]+)<', rotated.text)
        assert rotated.status_code == 200 and new_token is not None
        revoked = admin.post("/admin/docks/station-1/revoke", data={"csrf_token": csrf})
        assert revoked.status_code == 303
        docks = admin.get("/api/v1/docks").json()
        cameras_api = admin.get("/api/v1/cameras").json()
    for token, status in ((old_token, 401), (new_token.group(1), 401)):
        answer = httpx.get(f"{live_server.url}/api/v1/held/{NO_SUCH_HASH}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == status, (token[:8], answer.text)
    assert docks[0]["name"] == "station-1" and docks[0]["revoked_at"] and docks[0]["last_seen_at"]
    assert {c["serial"]: c["holder"] for c in cameras_api} == {"POOL0001": None, "WBX00001": "1142 Alex Morgan"}


def test_a_rotated_token_works_and_the_old_one_does_not(live_server: LiveServer) -> None:
    """GIVEN a dock in use WHEN its token is rotated THEN the dock's old token is refused and the new one lists items."""
    container = build(live_server.settings)
    try:
        make_force(container, camera=None)
        _, old_token = container.devices.register_dock("station-9", actor=SYSTEM)
        new_token = rotate_dock_token(container.devices, "station-9", actor=SYSTEM)
    finally:
        container.close()
    for token, status in ((old_token, 401), (new_token, 200)):
        answer = httpx.get(f"{live_server.url}/api/v1/held/{NO_SUCH_HASH}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == status


def test_the_command_line_lists_shows_and_rotates(
        system: Container, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the fleet WHEN the administrator runs cameras list, cameras show, docks list and docks rotate THEN each prints what the pages show, and rotating prints a new token."""
    _fleet(system)
    for name, value in (("WITNESSBOX_DATABASE_URL", settings.resolved_database_url()),
                        ("WITNESSBOX_QUEUE_URL", settings.resolved_queue_url())):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    where = ["--data-dir", str(settings.data_dir)]
    listed = runner.invoke(app, ["cameras", "list", *where])
    assert listed.exit_code == 0 and "1142 Alex Morgan" in listed.output and "pool Central" in listed.output
    shown = runner.invoke(app, ["cameras", "show", "POOL0001", *where])
    assert shown.exit_code == 0 and "2087 Sam Patel" in shown.output and "pool" in shown.output
    docks = runner.invoke(app, ["docks", "list", *where])
    assert docks.exit_code == 0 and "station-1" in docks.output
    rotated = runner.invoke(app, ["docks", "rotate", "station-1", *where])
    assert rotated.exit_code == 0 and "wbx" in rotated.output.splitlines()[-1]
    missing = runner.invoke(app, ["docks", "rotate", "nowhere", *where])
    assert missing.exit_code == 2 and "no dock nowhere" in missing.output
