"""The audit trail anchored: sealed within a bounded time of every write, time-stamped by an RFC 3161
authority (openssl behind http.server), copied to an append-only directory, and proven against them."""

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from tests.factories.people import make_force
from tests.factories.tsa import LoopbackAuthority, running_authority
from witnessbox.audit.chain import GENESIS, entry_hash
from witnessbox.audit.merkle import entry_leaf, root_of
from witnessbox.audit.models import AuditCheckpoint, AuditEvent, AuditSigningKey, AuditTimeStamp
from witnessbox.audit.service import statement_of
from witnessbox.audit.signing import CheckpointSigner
from witnessbox.audit.tags import AuditTag
from witnessbox.audit.timestamps import load_certificates, stamp_problem
from witnessbox.bootstrap import Container, build
from witnessbox.cli import app
from witnessbox.config import Settings
from witnessbox.core.actor import SYSTEM
from witnessbox.core.clock import FixedClock, as_utc
from witnessbox.jobs import huey_queue
from witnessbox.web.app import create_app

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
    assert len(gaps) >= 86 and max(gaps) <= bound, max(gaps)  # 86 registrations, plus housekeeping's own
    assert clocked.audit.verify().ok


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[LoopbackAuthority]:
    """A real RFC 3161 authority on loopback."""
    with running_authority(tmp_path / "tsa") as running:
        yield running


@pytest.fixture
def anchored(settings: Settings, authority: LoopbackAuthority, tmp_path: Path) -> Iterator[Container]:
    """The system with both anchors configured: the test authority and an anchor directory."""
    built = build(settings.model_copy(update={
        "audit_tsa_url": authority.url,
        "audit_tsa_certificate": authority.ca_certificate,
        "audit_anchor_dir": tmp_path / "anchors",
    }))
    yield built
    built.close()


def _write(container: Container, count: int, prefix: str = "CAM") -> None:
    for number in range(count):
        container.devices.register_camera(f"{prefix}{number}", actor=SYSTEM)


def test_each_checkpoint_is_time_stamped_by_the_authority(anchored: Container, authority: LoopbackAuthority) -> None:
    """GIVEN writes and a configured authority WHEN the workers seal and anchor twice THEN each checkpoint
    keeps the authority's answer over its own statement, and verify proves them with no warning."""
    _write(anchored, 3)
    first = anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    _write(anchored, 2, "MORE")
    second = anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    assert (first.stamped, second.stamped, authority.answered) == (1, 1, 2)
    with anchored.db.read() as session:
        stamps = list(session.scalars(select(AuditTimeStamp)))
    assert [stamp.authority for stamp in stamps] == [authority.url] * 2
    result = anchored.anchoring.verify()
    assert result.ok and result.warnings == (), (result.broken, result.warnings)


def test_an_unreachable_authority_never_blocks_writes_and_is_retried(
    anchored: Container, authority: LoopbackAuthority, tmp_path: Path
) -> None:
    """GIVEN the authority down WHEN entries are written and sealed THEN writes and signing go on, the failure
    is reported, verify warns of the waiting checkpoint and the administrator's page counts it; WHEN the authority is back THEN it is stamped and
    the late time-stamp joins its checkpoint's copy in the anchor directory."""
    authority.failing = True
    _write(anchored, 2)
    run = anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    assert run.stamped == 0 and "503" in run.failures[0]
    _write(anchored, 1, "STILL")
    waiting = anchored.anchoring.verify()
    assert waiting.ok and "1 checkpoints await a time-stamp" in waiting.warnings[0]
    administrator = make_force(anchored, camera=None).actor("sysadmin")
    assert anchored.system.state(actor=administrator).audit.awaiting_time_stamp == 1
    authority.failing = False
    assert not (tmp_path / "anchors" / "checkpoint-000000000001.tsr").exists()
    assert anchored.anchoring.anchor_pending().stamped == 1
    assert (tmp_path / "anchors" / "checkpoint-000000000001.tsr").exists()
    assert anchored.anchoring.verify().warnings == ()
    assert anchored.system.state(actor=administrator).audit.awaiting_time_stamp == 0


def test_a_time_stamp_moved_to_another_checkpoint_is_found(anchored: Container) -> None:
    """GIVEN two stamped checkpoints WHEN an insider gives the first the second's stamp THEN verify names
    the first checkpoint: its stamp does not cover its statement."""
    _write(anchored, 2)
    anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    _write(anchored, 2, "MORE")
    anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    with anchored.db.engine.begin() as connection:
        later = connection.execute(select(AuditTimeStamp.response).order_by(AuditTimeStamp.id.desc())).scalar()
        connection.execute(update(AuditTimeStamp).where(AuditTimeStamp.checkpoint_id == 1).values(response=later))
    result = anchored.anchoring.verify()
    assert result.broken is not None and result.broken.seq == 2
    assert "time-stamp does not verify" in result.broken.problem


def test_each_checkpoint_is_copied_once_read_only(anchored: Container, tmp_path: Path) -> None:
    """GIVEN two seals WHEN the workers anchor again THEN the anchor directory holds each checkpoint and its
    time-stamp once, and the signing key's public half, read-only, and nothing already there is written again."""
    _write(anchored, 2)
    anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    _write(anchored, 1, "MORE")
    anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    assert anchored.anchoring.anchor_pending().copied == 0
    files = sorted((tmp_path / "anchors").iterdir())
    assert [f.name for f in files] == [
        "checkpoint-000000000001.json", "checkpoint-000000000001.tsr",
        "checkpoint-000000000002.json", "checkpoint-000000000002.tsr",
        f"key-{anchored.audit.signer.key_id}.pem",
    ]
    assert {f.stat().st_mode & 0o777 for f in files} == {0o444}
    assert json.loads(files[0].read_text())["seq"] == 2


def _rewrite_from(container: Container, seq: int, *, resign: bool, signer: CheckpointSigner | None = None) -> None:
    """The insider: edit entry `seq`, recompute every later hash, and (resign) recompute every checkpoint's
    Merkle root and re-sign it with the key taken from the data directory, dropping the time-stamps that
    would no longer fit."""
    signer = signer or CheckpointSigner.from_directory(container.settings.data_dir / "keys")
    with container.db.transaction() as uow:
        session = uow.session
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        events[seq - 1].actor_name = "somebody else"
        for previous, event in zip([None, *events], events, strict=False):
            event.prev_hash = previous.entry_hash if previous else GENESIS
            event.entry_hash = entry_hash(event)
            session.flush()
        if resign:
            session.execute(delete(AuditTimeStamp))
            for mark in session.scalars(select(AuditCheckpoint)):
                mark.entry_hash = events[mark.seq - 1].entry_hash
                covered = events[(mark.first_seq or 1) - 1:mark.seq]
                mark.merkle_root = root_of(entry_leaf(event.entry_hash) for event in covered).hex()
                mark.signature = signer.sign(statement_of(mark))


def _two_anchored_seals(container: Container) -> None:
    _write(container, 4)
    container.anchoring.seal_and_anchor(actor=SYSTEM)  # checkpoint 1 at entry 4
    _write(container, 3, "MORE")
    container.anchoring.seal_and_anchor(actor=SYSTEM)  # checkpoint 2 at entry 8


@pytest.mark.parametrize("resign", [False, True], ids=["rehashed", "rehashed-and-resigned"])
def test_an_insider_rewrite_is_found_against_the_anchors(anchored: Container, resign: bool) -> None:
    """GIVEN two anchored checkpoints WHEN an insider edits entry 6 and recomputes every later hash (and
    recomputes the Merkle roots and re-signs the checkpoints with the data directory's key) THEN verify fails at
    entry 8, the first anchored entry that no longer matches, saying the change lies in entries 5 to 8 (the
    anchored checkpoint's tree) and entries up to 4 still match."""
    _two_anchored_seals(anchored)
    _rewrite_from(anchored, 6, resign=resign)
    result = anchored.anchoring.verify()
    assert result.broken is not None and result.broken.seq == 8, result.broken
    if resign:
        assert anchored.audit.verify().ok  # without the anchors the rewrite would pass
        assert "no longer matches anchored checkpoint 2" in result.broken.problem
        assert "an entry from 5 to 8 was changed" in result.broken.problem
        assert "entries up to 4 match" in result.broken.problem


def test_deleting_the_newest_entries_and_checkpoints_is_found(anchored: Container) -> None:
    """GIVEN two anchored checkpoints WHEN an insider deletes the entries after the first checkpoint's own
    entry, and the second checkpoint with its time-stamp THEN verify reports entry 8 gone, named by an anchor."""
    _two_anchored_seals(anchored)
    with anchored.db.transaction() as uow:
        uow.session.execute(delete(AuditTimeStamp).where(AuditTimeStamp.checkpoint_id == 2))
        uow.session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == 2))
        uow.session.execute(delete(AuditEvent).where(AuditEvent.seq > 5))
    assert anchored.audit.verify().ok  # the trail alone looks whole
    result = anchored.anchoring.verify()
    assert result.broken is not None and result.broken.seq == 8
    assert "is gone: the trail ends at entry 5 but anchored checkpoint 2 names it" in result.broken.problem


def test_audit_verify_command_uses_the_anchors(
    anchored: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN an anchored trail rewritten and re-signed WHEN `witnessbox audit verify` runs with the anchor
    settings THEN it exits 1 naming entry 8."""
    _two_anchored_seals(anchored)
    settings = anchored.settings
    for name, value in (("DATABASE_URL", settings.resolved_database_url()),
                        ("QUEUE_URL", settings.resolved_queue_url()),
                        ("AUDIT_ANCHOR_DIR", str(settings.audit_anchor_dir)),
                        ("AUDIT_TSA_CERTIFICATE", str(settings.audit_tsa_certificate))):
        monkeypatch.setenv(f"WITNESSBOX_{name}", value)
    command = ["audit", "verify", "--data-dir", str(settings.data_dir)]
    assert CliRunner().invoke(app, command).exit_code == 0
    _rewrite_from(anchored, 6, resign=True)
    broken = CliRunner().invoke(app, command)
    assert broken.exit_code == 1 and "entry 8" in broken.output, broken.output


def test_the_head_is_published_signed_and_time_stamped(anchored: Container, authority: LoopbackAuthority) -> None:
    """GIVEN no checkpoint yet WHEN anyone asks for the audit head THEN it says none; GIVEN an anchored seal
    THEN, without signing in, they get the newest checkpoint whose signature verifies under the published
    key and whose time-stamp verifies under the authority's certificate."""
    with TestClient(create_app(anchored)) as client:
        assert client.get("/api/v1/audit/head").json() == {"checkpoint": None}
        _write(anchored, 3)
        anchored.anchoring.seal_and_anchor(actor=SYSTEM)
        head = client.get("/api/v1/audit/head").json()
    assert (head["checkpoint"], head["seq"]) == (1, 3)
    key = serialization.load_pem_public_key(head["public_key"].encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(bytes.fromhex(head["signature"]), head["statement"].encode())  # raises if forged
    stamp = base64.b64decode(head["time_stamp"])
    assert stamp_problem(stamp, head["statement"].encode(), load_certificates(authority.ca_certificate)) is None


def test_a_checkpoint_stamped_twice_at_once_keeps_one_stamp(anchored: Container, authority: LoopbackAuthority) -> None:
    """GIVEN a checkpoint awaiting its time-stamp WHEN two anchoring runs (a worker and `audit checkpoint`)
    stamp it at the same moment THEN one answer is kept, the other run stands aside, and verify is OK."""
    _write(anchored, 2)
    anchored.audit.seal(actor=SYSTEM)
    authority.delay_s = 0.5  # both runs ask before either keeps the answer
    runs: list[int] = []
    together = [threading.Thread(target=lambda: runs.append(anchored.anchoring.anchor_pending().stamped))
                for _ in range(2)]
    for thread in together:
        thread.start()
    for thread in together:
        thread.join()
    assert sorted(runs) == [0, 1] and authority.answered == 2
    result = anchored.anchoring.verify()
    assert result.ok and result.warnings == (), (result.broken, result.warnings)


def test_the_feed_publishes_every_checkpoint_signed_and_time_stamped(
    anchored: Container, authority: LoopbackAuthority
) -> None:
    """GIVEN three anchored seals WHEN anyone, without signing in, reads the checkpoint feed THEN every checkpoint is
    there oldest first, its statement signed by the key keys.json publishes for its key_id and time-stamped by the
    authority; the head a recipient was given is in it; `after` and `limit` page through it."""
    for batch in range(3):
        _write(anchored, 2, f"B{batch}-")
        anchored.anchoring.seal_and_anchor(actor=SYSTEM)
    roots = load_certificates(authority.ca_certificate)
    with TestClient(create_app(anchored)) as client:
        head = client.get("/api/v1/audit/head").json()
        feed = client.get("/api/v1/audit/checkpoints").json()
        keys = {key["key_id"]: key["public_key"] for key in client.get("/.well-known/witnessbox/keys.json").json()["keys"]}
        first_page = client.get("/api/v1/audit/checkpoints", params={"limit": 1}).json()
        rest = client.get("/api/v1/audit/checkpoints", params={"after": first_page["next_after"]}).json()
    assert [c["seq"] for c in feed["checkpoints"]] == [2, 5, 8] and feed["next_after"] is None
    for published in feed["checkpoints"]:
        key = serialization.load_pem_public_key(keys[published["key_id"]].encode())
        assert isinstance(key, Ed25519PublicKey)
        key.verify(bytes.fromhex(published["signature"]), published["statement"].encode())  # raises if forged
        assert stamp_problem(base64.b64decode(published["time_stamp"]), published["statement"].encode(), roots) is None
    assert head["statement"] in [c["statement"] for c in feed["checkpoints"]]
    assert first_page["next_after"] == 2 and [c["seq"] for c in rest["checkpoints"]] == [5, 8]


def test_a_key_swapped_in_the_key_table_is_found_against_its_anchored_copy(anchored: Container) -> None:
    """GIVEN an anchored trail WHEN an insider rewrites entry 6, puts a key of their own in the key table under the
    server key's id and re-signs every checkpoint with it THEN the trail alone verifies, but verify with the
    anchors names the first checkpoint that key signed: the key differs from the copy anchored when first used."""
    _two_anchored_seals(anchored)
    own = CheckpointSigner(Ed25519PrivateKey.generate())
    key_id = anchored.audit.signer.key_id
    with anchored.db.transaction() as uow:
        uow.session.execute(update(AuditSigningKey).where(AuditSigningKey.key_id == key_id)
                            .values(public_pem=own.public_pem()))
    _rewrite_from(anchored, 6, resign=True, signer=own)
    assert anchored.audit.verify().ok
    result = anchored.anchoring.verify()
    assert result.broken is not None and result.broken.seq == 4, result.broken
    assert f"checkpoint key {key_id} differs from its anchored copy" in result.broken.problem


def test_a_retired_key_brought_back_in_the_key_table_is_found(anchored: Container, tmp_path: Path) -> None:
    """GIVEN a rotation anchored (the old key's retirement copied once) WHEN an insider with a copy of the old key
    clears its retirement in the key table and signs a checkpoint with it THEN the trail alone verifies, but verify
    with the anchors names the old key's first checkpoint: its anchored retirement was undone."""
    old = CheckpointSigner.from_directory(anchored.settings.data_dir / "keys")
    _write(anchored, 2)
    anchored.audit.rotate_key(CheckpointSigner(Ed25519PrivateKey.generate()), actor=SYSTEM)
    anchored.anchoring.anchor_pending()
    assert (tmp_path / "anchors" / f"key-{old.key_id}.retired").exists()
    _write(anchored, 2, "MORE")
    mark = anchored.audit.seal(actor=SYSTEM)
    assert mark is not None
    with anchored.db.transaction() as uow:
        uow.session.execute(update(AuditSigningKey).where(AuditSigningKey.key_id == old.key_id)
                            .values(in_use_until=None))
        forged = uow.session.get(AuditCheckpoint, mark.id)
        assert forged is not None
        forged.key_id, forged.signature = old.key_id, old.sign(statement_of(forged))
        uow.session.execute(delete(AuditTimeStamp).where(AuditTimeStamp.checkpoint_id == mark.id))
    assert anchored.audit.verify().ok
    result = anchored.anchoring.verify()
    assert result.broken is not None and result.broken.seq == 2, result.broken
    assert f"checkpoint key {old.key_id} was retired at" in result.broken.problem
