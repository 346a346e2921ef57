"""The audit trail anchored: sealed within a bounded time of every write."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from witnessbox.audit.models import AuditCheckpoint, AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock, as_utc
from witnessbox.jobs import huey_queue

START = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


@pytest.fixture
def clocked(settings: Settings) -> Iterator[Container]:
    """The system on a clock the test moves."""
    built = build(settings, clock=FixedClock(START))
    yield built
    built.close()


def _clock(container: Container) -> FixedClock:
    assert isinstance(container.clock, FixedClock)
    return container.clock


def _run_housekeeping(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the periodic tasks the job workers' scheduler finds due at the test clock's minute."""
    now = _clock(container).now()
    monkeypatch.setattr(huey_queue.time, "time", now.timestamp)
    for task in container.huey.read_periodic(now.replace(tzinfo=None)):
        container.huey.execute(task)


def _gaps(container: Container) -> list[timedelta]:
    """For every entry but checkpoints' own, how long it waited for the checkpoint covering it."""
    with container.db.read() as session:
        marks = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
        events = session.scalars(select(AuditEvent).where(AuditEvent.tag != AuditTag.AUDIT_CHECKPOINT_SIGNED))
        return [
            as_utc(next(m for m in marks if m.seq >= event.seq).signed_at) - as_utc(event.at)
            for event in events
        ]


def test_seal_signs_only_what_is_not_yet_sealed(container: Container) -> None:
    """GIVEN two audited changes WHEN sealed twice THEN the first seal covers both and the second,
    with only the checkpoint's own entry after it, signs nothing; a new change is sealed again."""
    container.devices.register_camera("CAM1", actor=SYSTEM)
    container.devices.register_camera("CAM2", actor=SYSTEM)
    first = container.audit.seal(actor=SYSTEM)
    assert first is not None and first.seq == 2
    assert container.audit.seal(actor=SYSTEM) is None
    container.devices.register_camera("CAM3", actor=SYSTEM)
    again = container.audit.seal(actor=SYSTEM)
    assert again is not None and again.seq == 4
    assert container.audit.verify().ok


def test_every_write_is_sealed_within_the_configured_interval(
    clocked: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN writes every 7 seconds for ten minutes and the workers' housekeeping schedule WHEN it runs
    each minute THEN every entry is covered by a signed checkpoint at most audit_seal_seconds later."""
    clock, bound = _clock(clocked), timedelta(seconds=clocked.settings.audit_seal_seconds)
    for second in range(0, 600, 7):
        target = START + timedelta(seconds=second)
        while clock.current.replace(second=0) < target.replace(second=0):
            clock.current = clock.current.replace(second=0) + timedelta(minutes=1)
            _run_housekeeping(clocked, monkeypatch)
        clock.current = target
        clocked.devices.register_camera(f"CAM{second}", actor=SYSTEM)
    clock.current = clock.current.replace(second=0) + timedelta(minutes=1)
    _run_housekeeping(clocked, monkeypatch)
    gaps = _gaps(clocked)
    assert len(gaps) == 86 and max(gaps) <= bound, max(gaps)
    assert clocked.audit.verify().ok
