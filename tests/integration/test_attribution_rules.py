"""No way to forge authorship: only a dock registered for a camera attributes a recording to it;
cameras change hands only explicitly; a recording nobody held a camera for waits in a queue.

(Issue 8, points 1, 2 and 10; decision 0013.)
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.factories.ingest import dock_for, hold_jobs, upload_bytes
from tests.factories.people import ISSUED, Force, make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container
from witnessbox.cli import app
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.errors import Conflict, Forbidden, InvalidInput
from witnessbox.devices.models import CameraAssignment

OWNERS_CAMERA, SPARE = "WBX00001", "WBX00009"
RECORDED = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)


@pytest.fixture
def force(container: Container) -> Iterator[Force]:
    hold_jobs(container)
    yield make_force(container, camera=OWNERS_CAMERA)


def _audit(container: Container, tag: str) -> list[AuditEvent]:
    with container.db.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)))


# --- point 1: only a dock registered for a camera attributes a recording to it ------------------------


def test_a_persons_upload_naming_someone_elses_camera_is_handed_in_and_theirs(
        container: Container, force: Force) -> None:
    """GIVEN the owner's personal camera WHEN a stranger uploads a file whose metadata names that camera, the owner as officer and kind=bwv THEN the item is the stranger's handed-in footage, not the camera's, and the owner does not see it."""
    item_id = upload_bytes(container, b"words in another's mouth", camera=OWNERS_CAMERA,
                           started_at=RECORDED, actor=force.actor("stranger"),
                           extra={"officer": force.collar("owner"), "kind": "bwv"})
    item = container.evidence.get(item_id)
    assert (item.officer_id, item.camera_id, item.camera_serial) == (force.ids["stranger"], None, "Handed in")
    assert item.camera_metadata == {"handed_in": {
        "source": "other", "description": "", "uploaded_by": "7001 Pat Jones", "declared_camera": OWNERS_CAMERA}}
    assert item_id not in {i.id for i in container.evidence.list_items(actor=force.actor("owner"))}


def test_a_persons_upload_with_a_source_keeps_it(container: Container, force: Force) -> None:
    """GIVEN an officer handing in CCTV WHEN the metadata names a camera too THEN the source is kept and the camera is ignored."""
    item_id = upload_bytes(container, b"shop cctv", camera=OWNERS_CAMERA, actor=force.actor("teammate"),
                           extra={"source": "cctv", "description": "Till camera, Spar"})
    item = container.evidence.get(item_id)
    assert (item.officer_id, item.camera_serial, item.camera_id) == (force.ids["teammate"], "CCTV", None)
    assert "declared_camera" not in item.camera_metadata["handed_in"]


def test_a_dock_not_registered_for_the_camera_is_refused_with_the_reason(
        container: Container, force: Force) -> None:
    """GIVEN a dock registered for another camera WHEN it uploads the owner's camera's recording THEN 403 with the reason, the refusal audited and nothing stored; once registered for the camera its upload is the owner's."""
    container.devices.register_camera(SPARE, actor=SYSTEM)
    stranger_dock = dock_for(container, SPARE, name="station-2")
    with pytest.raises(Forbidden, match=f"not registered for camera '{OWNERS_CAMERA}'"):
        upload_bytes(container, b"from the wrong dock", camera=OWNERS_CAMERA, actor=stranger_dock)
    [refused] = _audit(container, "ingest:upload:refused")
    assert refused.details["reason"] == "dock not registered for the camera"
    assert container.evidence.list_items(actor=SYSTEM) == []
    container.devices.add_dock_cameras("station-2", [OWNERS_CAMERA], actor=SYSTEM)
    item_id = upload_bytes(container, b"from the wrong dock", camera=OWNERS_CAMERA, actor=stranger_dock)
    assert container.evidence.get(item_id).officer_id == force.ids["owner"]
    assert [e.details["serial"] for e in _audit(container, "devices:dock:camera_added")][-1] == OWNERS_CAMERA


def test_a_dock_may_not_declare_handed_in_footage(container: Container, force: Force) -> None:
    """GIVEN a dock WHEN it declares a handed-in source THEN it is refused: docks upload their cameras' recordings."""
    with pytest.raises(Forbidden, match="a person uploads handed-in footage"):
        upload_bytes(container, b"dock says cctv", camera=OWNERS_CAMERA, extra={"source": "cctv"})


# --- point 2: only pool cameras are signed out; reissue is explicit ----------------------------------


def test_a_personal_camera_cannot_be_signed_out(container: Container, force: Force) -> None:
    """GIVEN the owner's personal camera WHEN a teammate or a supervisor signs it out THEN 403 saying only an administrator reissues it, and the owner still holds it."""
    for who in ("teammate", "supervisor"):
        with pytest.raises(Forbidden, match="only an administrator can reissue it"):
            container.devices.sign_out(OWNERS_CAMERA, actor=force.actor(who))
    item_id = upload_bytes(container, b"later that day", camera=OWNERS_CAMERA,
                           started_at=datetime.now(UTC) + timedelta(minutes=5))
    assert container.evidence.get(item_id).officer_id == force.ids["owner"]


def test_reissue_needs_an_administrator_and_must_say_it_ends_the_holders_assignment(
        container: Container, force: Force) -> None:
    """GIVEN the owner's personal camera WHEN it is reissued to the teammate without saying so THEN refused naming the holder; WHEN a supervisor tries THEN 403; WHEN the administrator says it ends the current assignment THEN the owner's ends at the reissue, the audit entry records whose it was, and recordings go by who held the camera."""
    reissue = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    with pytest.raises(Conflict, match="issued to 1142 Alex Morgan"):
        container.devices.assign(OWNERS_CAMERA, force.collar("teammate"), actor=SYSTEM, starts_at=reissue)
    with pytest.raises(Forbidden):
        container.devices.assign(OWNERS_CAMERA, force.collar("teammate"), actor=force.actor("supervisor"),
                                 starts_at=reissue, end_current=True)
    container.devices.assign(OWNERS_CAMERA, force.collar("teammate"), actor=SYSTEM, starts_at=reissue,
                             end_current=True)
    entry = _audit(container, "devices:camera:assigned")[-1]
    assert entry.details["ended"] == [{"officer": "1142 Alex Morgan", "from": ISSUED.isoformat()}]
    before = upload_bytes(container, b"before", started_at=reissue - timedelta(hours=1))
    after = upload_bytes(container, b"after", started_at=reissue + timedelta(hours=1))
    assert container.evidence.get(before).officer_id == force.ids["owner"]
    assert container.evidence.get(after).officer_id == force.ids["teammate"]


def test_an_issue_cannot_be_backdated_under_a_later_one(container: Container, force: Force) -> None:
    """GIVEN a camera reissued on the 27th WHEN someone issues it from the 26th THEN refused: history is not rewritten."""
    container.devices.assign(OWNERS_CAMERA, force.collar("teammate"), actor=SYSTEM, end_current=True,
                             starts_at=datetime(2026, 11, 27, tzinfo=UTC))
    with pytest.raises(Conflict, match="cannot start before it"):
        container.devices.assign(OWNERS_CAMERA, force.collar("stranger"), actor=SYSTEM, end_current=True,
                                 starts_at=datetime(2026, 11, 26, tzinfo=UTC))


def test_a_pool_camera_passes_from_shift_to_shift_on_the_record(container: Container, force: Force) -> None:
    """GIVEN a pool camera signed out by the owner WHEN the teammate signs it out next THEN the owner's sign-out ends then, and the audit entry says so."""
    container.devices.register_camera("POOL1", pool="Bethel Street", actor=SYSTEM)
    container.devices.sign_out("POOL1", actor=force.actor("owner"))
    taken = container.devices.sign_out("POOL1", actor=force.actor("teammate"))
    with container.db.read() as session:
        rows = list(session.scalars(select(CameraAssignment).where(
            CameraAssignment.camera_id == taken.camera_id).order_by(CameraAssignment.starts_at)))
    assert rows[0].ends_at == taken.starts_at
    assert _audit(container, "devices:camera:assigned")[-1].details["ended"][0]["officer"] == "1142 Alex Morgan"


# --- point 10: no recording belongs to nobody ----------------------------------------------------------


def test_a_recording_nobody_held_the_camera_for_waits_in_the_queue_until_attributed(
        container: Container, force: Force) -> None:
    """GIVEN a camera registered but not issued WHEN its dock uploads a recording THEN nobody's library shows it, the supervisor's and administrator's queue does (record only); WHEN the supervisor gives it to the owner THEN it is the owner's, audited, and gone from the queue."""
    container.devices.register_camera(SPARE, actor=SYSTEM)
    item_id = upload_bytes(container, b"nobody's", camera=SPARE, started_at=RECORDED)
    assert container.evidence.get(item_id).officer_id is None
    for who in ("supervisor", "sysadmin"):
        [entry] = container.unattributed.queue(actor=force.actor(who))
        assert (entry.id, entry.camera, entry.recorded_start) == (item_id, SPARE, RECORDED)
    for who in ("owner", "investigator", "auditor", "psd"):
        with pytest.raises(Forbidden):
            container.unattributed.queue(actor=force.actor(who))
    container.unattributed.attribute(item_id, force.collar("owner"), actor=force.actor("supervisor"))
    item = container.evidence.get(item_id)
    assert (item.officer_id, item.officer) == (force.ids["owner"], "1142 Alex Morgan")
    assert item.team_id is not None
    assert item_id in {i.id for i in container.evidence.list_items(actor=force.actor("owner"))}
    assert container.unattributed.queue(actor=force.actor("sysadmin")) == []
    [entry] = _audit(container, "evidence:item:attributed")
    assert "Chris Evans" in entry.actor_name
    assert entry.details["collar_number"] == force.collar("owner") and entry.details["camera"] == SPARE


def test_attribution_is_once_and_to_a_real_officer(container: Container, force: Force) -> None:
    """GIVEN an unattributed recording WHEN given to an unknown collar number THEN refused; WHEN attributed twice THEN the second is refused; an attributed recording cannot be re-attributed."""
    container.devices.register_camera(SPARE, actor=SYSTEM)
    item_id = upload_bytes(container, b"nobody's", camera=SPARE)
    admin = force.actor("sysadmin")
    with pytest.raises(InvalidInput, match="no serving officer"):
        container.unattributed.attribute(item_id, "0000", actor=admin)
    container.unattributed.attribute(item_id, force.collar("teammate"), actor=admin)
    with pytest.raises(Conflict, match="already attributed"):
        container.unattributed.attribute(item_id, force.collar("owner"), actor=admin)
    owners = upload_bytes(container, b"the owner's", camera=OWNERS_CAMERA)
    with pytest.raises(Conflict):
        container.unattributed.attribute(owners, force.collar("teammate"), actor=admin)


# --- the command line: start times and simulated serials -------------------------------------------


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    for name, value in (("WITNESSBOX_DATABASE_URL", settings.resolved_database_url()),
                        ("WITNESSBOX_QUEUE_URL", settings.resolved_queue_url())):
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, [*args, "--data-dir", str(settings.data_dir)])
    assert result.exit_code == 0, result.output
    return result.output


def test_cameras_add_and_assign_take_a_start_time(
        container: Container, force: Force, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the command line WHEN a camera is added for the owner --since a past time and later reissued --from another with --end-current THEN recordings from either period go to whoever held it."""
    _cli(settings, monkeypatch, "cameras", "add", SPARE, "--officer", force.collar("owner"),
         "--since", "2026-11-01T07:00:00+00:00")
    _cli(settings, monkeypatch, "cameras", "assign", SPARE, force.collar("teammate"),
         "--from", "2026-11-20T07:00:00+01:00", "--end-current")
    first = upload_bytes(container, b"early", camera=SPARE, started_at=datetime(2026, 11, 2, tzinfo=UTC))
    second = upload_bytes(container, b"late", camera=SPARE, started_at=datetime(2026, 11, 21, tzinfo=UTC))
    assert container.evidence.get(first).officer_id == force.ids["owner"]
    assert container.evidence.get(second).officer_id == force.ids["teammate"]
    with container.db.read() as session:
        starts = sorted(session.scalars(select(CameraAssignment.starts_at).where(
            CameraAssignment.user_id == force.ids["teammate"])))
    assert starts == [datetime(2026, 11, 20, 6, 0, tzinfo=UTC)]


def test_simulate_writes_the_serials_asked_for(tmp_path: Path) -> None:
    """GIVEN serials on the command line WHEN simulate runs THEN it writes one camera folder per serial."""
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--serial", "PC1142", "--serial",
                                      "POOL0007", "--minutes", "0.02", "--width", "160", "--height", "90"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PC1142", "POOL0007"]
    assert all(any(folder.glob("*.MP4")) for folder in tmp_path.iterdir())
