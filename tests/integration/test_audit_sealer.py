"""Sealing every N entries: under many concurrent writers, no entry waits long for its anchored checkpoint."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories.tsa import LoopbackAuthority, running_authority
from witnessbox.audit.anchors import checkpoint_name, stamp_name
from witnessbox.audit.models import AuditCheckpoint, AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import as_utc

EVERY = 100  # audit_seal_entries for these tests
WRITERS, SECONDS = 6, 3.0
ENOUGH, LIMIT_S = 3 * EVERY + 50, 30.0  # a busy machine writes slower: keep writing until there are enough entries


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[LoopbackAuthority]:
    """A real RFC 3161 authority on loopback."""
    with running_authority(tmp_path / "tsa") as running:
        yield running


@pytest.fixture
def sealing(settings: Settings, authority: LoopbackAuthority, tmp_path: Path) -> Iterator[Container]:
    """The system sealing every EVERY entries, anchored at the test authority and an anchor directory."""
    built = build(settings.model_copy(update={
        "audit_seal_entries": EVERY,
        "audit_tsa_url": authority.url,
        "audit_tsa_certificate": authority.ca_certificate,
        "audit_anchor_dir": tmp_path / "anchors",
    }))
    yield built
    built.close()


def _writers(container: Container) -> list[threading.Thread]:
    """Writers that register cameras as fast as they can for SECONDS, and on until ENOUGH are written together
    (a slow machine writes fewer in SECONDS) or LIMIT_S has passed."""
    written = [0] * WRITERS
    started = time.monotonic()

    def write(number: int) -> None:
        while (elapsed := time.monotonic() - started) < SECONDS or (sum(written) < ENOUGH and elapsed < LIMIT_S):
            container.devices.register_camera(f"W{number}-{written[number]}", actor=SYSTEM)
            written[number] += 1

    return [threading.Thread(target=write, args=(number,)) for number in range(WRITERS)]


def test_under_load_every_entry_is_anchored_within_the_bound(sealing: Container, tmp_path: Path) -> None:
    """GIVEN the sealer running with audit_seal_entries=100 WHEN six writers write as fast as they can for three
    seconds THEN no checkpoint covers more than 100 entries, each is time-stamped and copied to the anchor
    directory, and no entry waits longer than audit_seal_seconds for its anchored copy (in practice about a
    second)."""
    sealer = sealing.sealer
    sealer.poll_s = 0.2
    sealer.start()
    writers = _writers(sealing)
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        deadline = time.monotonic() + 10
        while sealing.audit.unsealed() >= EVERY and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sealer.stop()
    sealing.anchoring.seal_and_anchor(actor=SYSTEM)  # the remainder: the minute's housekeeping seal
    gaps, spans, entries = _anchored_gaps(sealing, tmp_path / "anchors")
    bound = sealing.settings.audit_seal_seconds
    print(f"\n{entries} entries in at least {SECONDS:.0f} s by {WRITERS} writers; {len(spans)} checkpoints; "
          f"entries per checkpoint max {max(spans)}; write to anchored copy max {max(gaps):.2f} s, "
          f"mean {sum(gaps) / len(gaps):.2f} s (bound {bound} s)")
    assert entries > 3 * EVERY and max(spans) <= EVERY
    assert max(gaps) <= bound
    assert sealing.anchoring.verify().ok


def _anchored_gaps(container: Container, anchors: Path) -> tuple[list[float], list[int], int]:
    """For every entry, seconds from its write to its checkpoint's anchored copy (the file's mtime, time-stamped);
    the entries each checkpoint covers; how many entries were written."""
    with container.db.read() as session:
        marks = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
        events = list(session.execute(
            select(AuditEvent.seq, AuditEvent.at).where(AuditEvent.tag != AuditTag.AUDIT_CHECKPOINT_SIGNED)))
    copied = {}
    for mark in marks:
        assert (anchors / stamp_name(mark.id)).exists(), f"checkpoint {mark.id} not time-stamped"
        copied[mark.id] = datetime.fromtimestamp((anchors / checkpoint_name(mark.id)).stat().st_mtime, UTC)
    gaps = [
        (copied[next(m for m in marks if m.seq >= seq).id] - as_utc(at)).total_seconds() for seq, at in events
    ]
    spans = [mark.seq - (mark.first_seq or 1) + 1 for mark in marks]
    return gaps, spans, len(events)


def test_the_nth_entry_wakes_the_sealer_at_once(sealing: Container, tmp_path: Path) -> None:
    """GIVEN the sealer looking only every 30 s WHEN the 100th unsealed entry is written THEN its own write signs
    the checkpoint over entries 1..100 and, once committed, wakes the sealer to anchor it; 99 entries do not."""
    sealer = sealing.sealer
    sealer.poll_s = 30.0
    sealer.start()
    try:
        for number in range(EVERY - 1):
            sealing.devices.register_camera(f"CAM{number}", actor=SYSTEM)
        time.sleep(0.3)
        assert sealing.audit.unsealed() == EVERY - 1
        sealing.devices.register_camera("LAST", actor=SYSTEM)
        deadline = time.monotonic() + 10
        while not (tmp_path / "anchors" / stamp_name(1)).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sealer.stop()
    with sealing.db.read() as session:
        first = session.get(AuditCheckpoint, 1)
    assert first is not None and (first.first_seq, first.seq) == (1, EVERY)
    assert (tmp_path / "anchors" / checkpoint_name(1)).exists()


def test_a_seal_rolled_back_with_its_write_is_caught_by_the_sealer(sealing: Container) -> None:
    """GIVEN 99 unsealed entries WHEN the 100th is written in a transaction that then fails THEN its seal rolls back
    with it; WHEN the next entry is written THEN this process's count is stale and signs nothing, but the sealer's
    next look finds 100 unsealed entries and seals them."""
    for number in range(EVERY - 1):
        sealing.devices.register_camera(f"CAM{number}", actor=SYSTEM)
    with pytest.raises(RuntimeError), sealing.db.transaction() as uow:
        sealing.audit.record(uow.session, AuditTag.EVIDENCE_ITEM_VIEWED, actor=SYSTEM)
        raise RuntimeError("the change failed after its audit entry")
    sealing.devices.register_camera("AFTER", actor=SYSTEM)
    assert sealing.audit.unsealed() == EVERY
    sealing.sealer.tick(signed=False)
    with sealing.db.read() as session:
        marks = list(session.scalars(select(AuditCheckpoint)))
    assert [(mark.first_seq, mark.seq) for mark in marks] == [(1, EVERY)]
