"""The integrity scrub over real files in the local store: bits flipped in stored originals, files
removed and files added by hand are each found within one scrub cycle, with the item named; nothing
found is repaired or removed; the command's exit codes; the administrator's page; the metrics."""

import hashlib
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.ingest import hold_jobs, upload_bytes
from tests.factories.people import make_force
from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container, build
from witnessbox.core.actor import SYSTEM
from witnessbox.evidence.models import DerivativeKind, Item, ItemState
from witnessbox.evidence.service import DerivativeDraft
from witnessbox.retention.scrub import ScrubRules, ScrubService
from witnessbox.retention.scrub_models import FindingKind, ScrubFinding
from witnessbox.storage.local import LocalBlobStore


@dataclass
class World:
    """One system with four stored recordings, its store on disk, and a server over the same data."""

    container: Container
    store: LocalBlobStore
    items: dict[str, str]  # file name -> item id
    server: LiveServer

    def path(self, name: str) -> Path:
        """Where the original of the recording called `name` lies."""
        with self.container.db.read() as session:
            item = session.get(Item, self.items[name])
            assert item is not None
            return self.store.path_for(item.sha256)

    def scrub_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`witnessbox storage scrub` as an operator would run it, against the same data."""
        return subprocess.run(
            [sys.executable, "-m", "witnessbox", "storage", "scrub", *args],
            env=self.server.env(), capture_output=True, text=True, timeout=120, check=False,
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("scrub")
    with fresh_database_url(folder) as url:
        settings = settings_for(folder, url, workers=0)  # no consumer: nothing scrubs behind the test's back
        container = build(settings)
        hold_jobs(container)
        make_force(container)
        items = {
            name: upload_bytes(container, secrets.token_bytes(150_000 + n), filename=name)
            for n, name in enumerate(("flipped.mp4", "removed.mp4", "kept.mp4", "restored.mp4"))
        }
        store = container.scrub.blobs
        assert isinstance(store, LocalBlobStore)
        server = LiveServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            yield World(container, store, items, server)
        finally:
            server.stop()
            container.close()


def flip_bit(path: Path, offset: int) -> None:
    """Bit rot: one bit of a read-only stored file changes."""
    path.chmod(0o640)
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0x10]))
    path.chmod(0o440)


def open_findings(container: Container) -> list[ScrubFinding]:
    with container.db.read() as session:
        return list(
            session.scalars(
                select(ScrubFinding).where(ScrubFinding.cleared_at.is_(None), ScrubFinding.acknowledged_at.is_(None))
            )
        )


def test_a_clean_store_passes_the_command(world: World) -> None:
    """GIVEN four whole recordings and nothing else in the store WHEN an operator runs the scrub
    THEN it exits 0, having re-read all four."""
    done = world.scrub_command("--rate", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 objects re-read" in done.stdout
    assert "no open findings" in done.stdout


def test_flipped_removed_and_hand_added_files_are_found_in_one_cycle(world: World) -> None:
    """GIVEN a bit flipped in one original, another original deleted, and two files put into the
    store by hand (one at a content address, one under a name of its own)
    WHEN one background scrub cycle runs
    THEN each is a finding naming its item (or its key), audited; nothing was repaired or removed."""
    flipped, removed = world.path("flipped.mp4"), world.path("removed.mp4")
    flip_bit(flipped, 70_000)
    removed.unlink()
    stray = secrets.token_bytes(5_000)
    stray_hash = hashlib.sha256(stray).hexdigest()
    by_hand = world.store.path_for(stray_hash)
    by_hand.parent.mkdir(parents=True, exist_ok=True)
    by_hand.write_bytes(stray)
    odd = world.store.root / "sha256" / "copy of clip.mp4"
    odd.write_bytes(b"not evidence")
    before = flipped.read_bytes()

    done = world.container.scrub.run_slice()

    assert done is not None and done.complete and done.finished_at is not None
    found = {(f.kind, f.item_id or f.key): f for f in open_findings(world.container)}
    mismatch = found[(FindingKind.MISMATCH, world.items["flipped.mp4"])]
    assert mismatch.item_name == "flipped.mp4" and mismatch.what == "original"
    assert mismatch.found_sha256 != mismatch.expected_sha256 and mismatch.found_size == mismatch.expected_size
    missing = found[(FindingKind.MISSING, world.items["removed.mp4"])]
    assert missing.item_name == "removed.mp4" and missing.found_sha256 is None
    assert found[(FindingKind.ORPHAN, f"sha256/{stray_hash[:2]}/{stray_hash[2:4]}/{stray_hash}")].found_size == 5000
    assert (FindingKind.ORPHAN, "sha256/copy of clip.mp4") in found
    assert len(found) == 4
    assert flipped.read_bytes() == before and by_hand.exists() and odd.exists() and not removed.exists()
    with world.container.db.read() as session:
        tags = list(session.scalars(select(AuditEvent.tag).where(AuditEvent.tag.like("retention:scrub:%"))))
    assert tags.count("retention:scrub:found") == 4 and "retention:scrub:completed" in tags


def test_the_command_exits_1_and_names_the_items(world: World) -> None:
    """GIVEN the damage above WHEN an operator runs the scrub THEN it exits 1 and names each item;
    the findings are not doubled by seeing them again."""
    done = world.scrub_command("--rate", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    flat = " ".join(done.stdout.split())
    for name in ("flipped.mp4", "removed.mp4"):
        assert world.items[name] in flat
    assert "4 open finding(s)" in flat
    assert len(open_findings(world.container)) == 4


def test_the_command_exits_2_when_it_cannot_run(world: World, tmp_path: Path) -> None:
    """GIVEN a database URL that points nowhere WHEN the scrub is run THEN it exits 2."""
    env = world.server.env() | {
        "WITNESSBOX_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "WITNESSBOX_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "witnessbox", "storage", "scrub"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr


def test_the_administrator_sees_and_answers_findings_and_metrics_count_them(world: World) -> None:
    """GIVEN open findings WHEN the administrator opens /admin and /admin/storage and acknowledges
    one with a reason THEN the panel counts them, the page names the items, the answer is kept and
    audited, and /metrics counts the open findings by kind."""
    metrics = httpx.get(f"{world.server.url}/metrics").text
    assert 'witnessbox_scrub_open_findings{kind="mismatch"} 1.0' in metrics
    assert 'witnessbox_scrub_open_findings{kind="orphan"} 2.0' in metrics
    assert "witnessbox_scrub_passes_completed_total 3.0" in metrics
    with world.server.signed_in() as admin:
        home = admin.get("/admin")
        assert home.status_code == 200 and "Storage integrity" in home.text
        assert '<dd id="integrity-open">4</dd>' in home.text
        page = admin.get("/admin/storage")
        assert world.items["flipped.mp4"] in page.text and "removed.mp4" in page.text
        missing = next(f for f in open_findings(world.container) if f.kind == FindingKind.MISSING)
        csrf = admin.get("/api/v1/me").json()["csrf_token"]
        refused = admin.post(f"/admin/storage/findings/{missing.id}/acknowledge",
                             data={"csrf_token": csrf, "reason": "xx"})
        assert refused.status_code == 422
        answered = admin.post(
            f"/admin/storage/findings/{missing.id}/acknowledge",
            data={"csrf_token": csrf, "reason": "Restore requested from the nightly tape copy, ticket 4411"},
        )
        assert answered.status_code == 303
        assert "ticket 4411" in admin.get("/admin/storage?closed=true").text
    assert 'witnessbox_scrub_open_findings{kind="missing"} 0.0' in httpx.get(f"{world.server.url}/metrics").text
    with world.container.db.read() as session:
        tag = session.scalars(select(AuditEvent.tag).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert tag == "retention:scrub:acknowledged"


def test_a_restored_original_clears_its_finding(world: World) -> None:
    """GIVEN the flipped original put back as it was (from a copy) WHEN the next pass runs
    THEN its finding is cleared (and audited); the others stay."""
    flip_bit(world.path("flipped.mp4"), 70_000)
    done = world.scrub_command("--rate", "0")
    assert done.returncode == 1
    with world.container.db.read() as session:
        mismatch = session.scalars(select(ScrubFinding).where(ScrubFinding.kind == FindingKind.MISMATCH)).one()
    assert mismatch.cleared_at is not None
    assert {f.kind for f in open_findings(world.container)} == {FindingKind.ORPHAN}


def test_a_background_pass_continues_where_the_last_slice_stopped(world: World) -> None:
    """GIVEN slices that stop after one object each WHEN the periodic job ticks THEN each tick moves the
    cursor on, the pass ends once records and store are walked, and no new pass starts before its interval."""
    c = world.container
    ticking = ScrubRules(rate_mbps=0, interval=timedelta(0), slice_seconds=0, derivatives=True)
    scrub = ScrubService(c.db, c.audit, c.clock, world.store, ticking)
    cursors = []
    for _ in range(20):
        row = scrub.run_slice()
        assert row is not None
        cursors.append((row.phase, row.cursor))
        if row.finished_at is not None:
            break
    assert row.complete and row.objects_checked == 4 and row.objects_listed == len(list(world.store.listing()))
    records = [cursor for phase, cursor in cursors if phase == "records" and cursor]
    assert records == sorted(records) and len(records) == 4  # one object a tick, in hash order
    waiting = replace(ticking, interval=timedelta(hours=1))
    assert ScrubService(c.db, c.audit, c.clock, world.store, waiting).run_slice() is None  # not due yet
    assert c.settings.scrub_every_minutes and "witnessbox.scrub" in str(c.huey._registry._registry)


def test_rate_limit_holds(world: World) -> None:
    """GIVEN a rate of 1 MB/s WHEN the command re-reads about 0.45 MB THEN it takes about as long as the
    rate says, and reports the rate it read at."""
    done = world.scrub_command("--rate", "1")
    assert done.returncode == 1
    rate = float(done.stdout.split(" MB at ")[1].split(" MB/s")[0])
    assert 0.5 < rate <= 1.2, done.stdout  # unthrottled it reads hundreds of MB/s


def test_a_damaged_derivative_is_named_with_its_item(world: World) -> None:
    """GIVEN a proxy of "kept.mp4" stored and then altered on disk WHEN a pass runs THEN the finding says
    it is that recording's proxy, and the original (whole) has no finding."""
    proxy = world.store.put([secrets.token_bytes(20_000)])
    draft = DerivativeDraft(DerivativeKind.PROXY, proxy.sha256, proxy.size, "video/mp4", "proxy:test")
    world.container.evidence.add_derivative(world.items["kept.mp4"], draft, actor=SYSTEM)
    flip_bit(world.store.path_for(proxy.sha256), 10)

    world.scrub_command("--rate", "0")

    damaged = [f for f in open_findings(world.container) if f.item_id == world.items["kept.mp4"]]
    assert [(f.kind, f.what, f.key) for f in damaged] == [(FindingKind.MISMATCH, "proxy", proxy.sha256)]


def test_an_original_the_store_cannot_read_is_unreadable_not_missing(world: World) -> None:
    """GIVEN the place of "kept.mp4"'s original taken by something that cannot be read as a file
    WHEN a pass runs THEN the finding says unreadable, names the item, and keeps the reason."""
    path = world.path("kept.mp4")
    path.unlink()
    path.mkdir()

    world.scrub_command("--rate", "0")

    found = [f for f in open_findings(world.container) if f.item_id == world.items["kept.mp4"] and f.what == "original"]
    assert [f.kind for f in found] == [FindingKind.UNREADABLE]
    assert "Is a directory" in found[0].detail


def test_a_purged_recordings_deleted_original_is_not_missing(container: Container) -> None:
    """GIVEN a recording purged under the retention schedule (its row kept as a tombstone, its original
    deleted from the store) WHEN a pass runs THEN nothing is reported: the deletion was on purpose."""
    hold_jobs(container)
    make_force(container)
    item_id = upload_bytes(container, secrets.token_bytes(50_000), filename="purged.mp4")
    with container.db.transaction() as uow:
        item = uow.session.get_one(Item, item_id)
        item.state = ItemState.PURGED
        sha256 = item.sha256
    container.scrub.blobs.delete(sha256)

    container.scrub.run_pass(rate_mbps=0)

    assert open_findings(container) == []
