"""The audit trail proves itself: any edit, deletion or reordering is found."""

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container
from witnessbox.cli import app
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM


def _trail(container: Container, cameras: int = 5) -> None:
    for number in range(cameras):
        container.devices.register_camera(f"CAM{number}", actor=SYSTEM)


def test_intact_trail_verifies_with_checkpoints(container: Container) -> None:
    """GIVEN several audited changes and a signed checkpoint WHEN verified THEN all is OK."""
    _trail(container)
    assert container.audit.checkpoint(actor=SYSTEM) is not None
    _trail(container, 0)
    result = container.audit.verify()
    assert result.ok, result.broken
    assert result.entries == 6 and result.checkpoints == 1


def _tamper(container: Container, statement: object) -> None:
    with container.db.engine.begin() as connection:
        connection.execute(statement)  # type: ignore[call-overload]


@pytest.mark.parametrize("attack", ["edit", "delete", "reorder", "truncate"])
def test_tampering_is_found_at_the_first_broken_entry(container: Container, attack: str) -> None:
    """GIVEN an intact trail WHEN a row is edited, deleted, reordered or the tail cut THEN verify names the entry."""
    _trail(container)
    container.audit.checkpoint(actor=SYSTEM)
    if attack == "edit":
        _tamper(container, update(AuditEvent).where(AuditEvent.seq == 3)
                .values(details={"serial": "SOMEONE-ELSE"}))
        expected = 3
    elif attack == "delete":
        _tamper(container, delete(AuditEvent).where(AuditEvent.seq == 2))
        expected = 3
    elif attack == "reorder":
        _tamper(container, update(AuditEvent).where(AuditEvent.seq == 2).values(seq=1000))
        _tamper(container, update(AuditEvent).where(AuditEvent.seq == 4).values(seq=2))
        _tamper(container, update(AuditEvent).where(AuditEvent.seq == 1000).values(seq=4))
        expected = 2
    else:
        _tamper(container, delete(AuditEvent).where(AuditEvent.seq >= 5))
        expected = 5
    result = container.audit.verify()
    assert not result.ok
    assert result.broken is not None and result.broken.seq == expected


def test_a_forged_checkpoint_signature_is_found(container: Container) -> None:
    """GIVEN a checkpoint WHEN its signature is altered THEN verify fails on it."""
    from witnessbox.audit.models import AuditCheckpoint

    _trail(container)
    container.audit.checkpoint(actor=SYSTEM)
    _tamper(container, update(AuditCheckpoint).values(signature="00" * 64))
    result = container.audit.verify()
    assert result.broken is not None and "signature" in result.broken.problem


def test_audit_verify_command_exit_codes(container: Container, settings: Settings,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the CLI WHEN the trail is intact THEN exit 0; WHEN an entry is edited THEN exit 1 naming it."""
    _trail(container)
    for name, value in (("WITNESSBOX_DATABASE_URL", settings.resolved_database_url()),
                        ("WITNESSBOX_QUEUE_URL", settings.resolved_queue_url())):
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir)])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    _tamper(container, update(AuditEvent).where(AuditEvent.seq == 2).values(actor_name="nobody"))
    broken = runner.invoke(app, ["audit", "verify", "--data-dir", str(settings.data_dir)])
    assert broken.exit_code == 1
    assert "entry 2" in broken.output


def test_entries_snapshot_the_actor(container: Container) -> None:
    """GIVEN a change by an actor WHEN audited THEN the entry carries the actor's name and the tag."""
    _trail(container, 1)
    with container.db.read() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert event.tag == "devices:camera:registered"
    assert event.actor_name == SYSTEM.name
