"""Several processes, one system: two `witnessbox serve` and two `witnessbox worker` on loopback.

The servers run no job threads of their own; they share the database, the queue and the data directory
(the staging of partial uploads) and an Object Lock bucket, as docs/operations.md asks of the larger
deployment: PostgreSQL and Redis, so those tests run on that leg; start-up migrations racing each other
and a job delivered twice run on both.
"""

import hashlib
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from tusclient.client import TusClient

from tests.conftest import PG_URL, REDIS_URL, LiveServer, fresh_database_url, settings_for
from tests.factories.fleet import Fleet, running_fleet
from tests.factories.ingest import hold_jobs
from tests.factories.media import sha256_file, tiny_recording
from tests.factories.people import PASSWORD, PERSONAS, make_force
from tests.factories.s3 import S3Endpoint
from tests.integration.test_live_events import Event, parse
from witnessbox.audit.models import AuditEvent
from witnessbox.audit.tags import AuditTag
from witnessbox.bootstrap import Container, build
from witnessbox.core.actor import SYSTEM
from witnessbox.db.migrate import alembic_config, upgrade
from witnessbox.db.session import make_engine
from witnessbox.jobs.models import JobRecord, JobState
from witnessbox.jobs.runner import JobKind

SERIAL = "WBX00001"  # issued to "owner" (tests/factories/people.py)


@dataclass
class World:
    """The fleet, a container on the same database for looking, the force and a dock."""

    fleet: Fleet
    container: Container
    dock_token: str
    folder: Path

    @property
    def a(self) -> LiveServer:
        """The first server."""
        return self.fleet.servers[0]

    @property
    def b(self) -> LiveServer:
        """The second server."""
        return self.fleet.servers[1]

    def metadata(self, clip: Path) -> dict[str, str]:
        """What the dock declares for a clip."""
        return {"filename": clip.name, "sha256": sha256_file(clip), "camera": SERIAL,
                "started_at": "2026-11-26T08:30:00Z"}

    def tus(self, server: LiveServer) -> TusClient:
        """The real tus client, as the dock agent uses it, pointed at one server."""
        return TusClient(f"{server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {self.dock_token}"})

    def wait_ready(self, sha256: str, timeout: float = 90) -> dict[str, object]:
        """The item holding these bytes once it has left `processing` (as its officer sees it)."""
        deadline = time.monotonic() + timeout
        with self.a.owner() as owner:
            while time.monotonic() < deadline:
                items = owner.get("/api/v1/items", params={"sha256": sha256}).json()
                if items and items[0]["state"] != "processing":
                    return items[0]  # type: ignore[no-any-return]
                time.sleep(0.2)
        raise AssertionError(f"item {sha256} never left processing; logs in {self.folder}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[World]:
    """Two servers started at the same moment, then two workers, for the module: PostgreSQL, Redis and
    an Object Lock bucket on the S3 server."""
    if not (PG_URL and REDIS_URL):
        pytest.skip("the larger deployment runs on PostgreSQL and Redis: set WITNESSBOX_TEST_DATABASE_URL "
                    "and WITNESSBOX_TEST_REDIS_URL (on SQLite the system is one machine)")
    endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
    bucket = endpoint.make_bucket(object_lock=True)
    folder = tmp_path_factory.mktemp("fleet")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url, workers=0).model_copy(update={
            "storage_url": f"s3://{bucket}/blobs", "s3_endpoint_url": endpoint.url, "s3_region": endpoint.region,
            "s3_access_key_id": endpoint.access_key, "s3_secret_access_key": SecretStr(endpoint.secret_key),
            "byte_path": "signed"})
        container = build(settings)
        try:
            make_force(container, camera=SERIAL)
            token = container.devices.register_dock("station-1", cameras=[SERIAL], actor=SYSTEM)[1]
            with running_fleet(settings, folder, servers=2, workers=2,
                               extra_env={**endpoint.environment(bucket), "WITNESSBOX_BYTE_PATH": "signed"}) as fleet:
                yield World(fleet, container, token, folder)
        finally:
            container.close()


def test_processes_migrating_one_database_at_once_build_the_schema_once(tmp_path: Path) -> None:
    """GIVEN an empty database WHEN three processes' start-up migrations run at the same moment THEN each
    finishes without error and the schema is at the latest revision."""
    with fresh_database_url(tmp_path) as url:
        engines = [make_engine(url) for _ in range(3)]
        failures: list[BaseException] = []

        def migrate(engine: Engine) -> None:
            try:
                upgrade(engine)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        threads = [threading.Thread(target=migrate, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert failures == []
            with engines[0].connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            assert current == ScriptDirectory.from_config(alembic_config(engines[0])).get_current_head()
        finally:
            for engine in engines:
                engine.dispose()


def test_servers_started_together_make_one_first_administrator(world: World) -> None:
    """GIVEN two servers started at the same moment on a database without an administrator THEN both
    answer and the first administrator was created once."""
    for server in world.fleet.servers:
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    admin = world.container.users.by_collar_number(world.container.settings.admin_username)
    assert admin is not None
    with world.container.db.read() as session:
        created = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.tag == AuditTag.ACCOUNT_USER_CREATED, AuditEvent.subject_id == admin.id))
    assert created == 1


def test_an_upload_begun_on_one_server_is_finished_on_the_other(world: World) -> None:
    """GIVEN a recording whose first third went to server A (then A went away from the dock's view)
    WHEN the dock asks server B where it stands and sends the rest there THEN B reports A's offset, takes
    the rest, and one verified, playable item is made from the whole file."""
    clip = tiny_recording(world.folder / "resume" / SERIAL, serial=SERIAL, seed=31)
    size = clip.stat().st_size
    first = world.tus(world.a).uploader(str(clip), chunk_size=size // 3, metadata=world.metadata(clip))
    first.upload(stop_at=size // 3)
    assert first.offset == size // 3 and first.url is not None
    on_b = first.url.replace(world.a.url, world.b.url)
    resumed = world.tus(world.b).uploader(str(clip), chunk_size=size // 3, url=on_b,
                                          metadata=world.metadata(clip))
    assert resumed.offset == size // 3  # B read the offset A recorded
    resumed.upload()
    item = world.wait_ready(sha256_file(clip))
    assert item["state"] == "ready" and item["verified"] is True and item["size"] == size
    with world.b.owner() as owner:
        original = owner.get(str(item["original"]), follow_redirects=True)  # to the bucket, signed
    assert original.status_code == 200, original.text
    assert hashlib.sha256(original.content).hexdigest() == sha256_file(clip) == item["sha256"]


def test_each_job_runs_once_with_two_workers(world: World) -> None:
    """GIVEN two workers on the one queue WHEN six recordings arrive through both servers THEN every
    item is ready, each job ran exactly once (one attempt, one audit entry), and both workers took jobs."""
    shas = []
    for seed in range(6):
        clip = tiny_recording(world.folder / f"jobs-{seed}" / SERIAL, serial=SERIAL, seed=40 + seed)
        server = world.fleet.servers[seed % 2]
        world.tus(server).uploader(str(clip), chunk_size=1 << 20, metadata=world.metadata(clip)).upload()
        shas.append(sha256_file(clip))
    item_ids = [str(world.wait_ready(sha)["id"]) for sha in shas]
    with world.container.db.read() as session:
        jobs = session.scalars(select(JobRecord).where(JobRecord.subject_id.in_(item_ids))).all()
        audited = session.execute(
            select(AuditEvent.subject_id, func.count()).where(AuditEvent.tag == AuditTag.JOB_RUN_SUCCEEDED)
            .group_by(AuditEvent.subject_id)).all()
    assert len(jobs) >= len(item_ids)
    assert all(job.state == JobState.SUCCEEDED and job.attempts == 1 for job in jobs), [
        (job.kind, job.state, job.attempts) for job in jobs]
    runs = dict(audited)
    assert all(runs.get(job.id) == 1 for job in jobs)
    assert len({job.worker for job in jobs}) == 2, {job.worker for job in jobs}


def _listen(server: LiveServer, into: "queue.Queue[Event]", ready: threading.Event) -> None:
    """The owner's library open on one server: every event until an item is ready."""
    with server.owner() as client, client.stream("GET", "/api/v1/events") as response:
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        ready.set()
        for event in parse(lines):
            into.put(event)
            if event.kind == "item-ready":
                return


def test_a_change_through_one_server_reaches_a_browser_on_the_other(world: World) -> None:
    """GIVEN the owner's library open on server B WHEN a recording is uploaded through server A and a
    worker makes it ready THEN B's stream says item-created then item-ready for it."""
    events: queue.Queue[Event] = queue.Queue()
    ready = threading.Event()
    listener = threading.Thread(target=_listen, args=(world.b, events, ready), daemon=True)
    listener.start()
    assert ready.wait(30)
    clip = tiny_recording(world.folder / "live" / SERIAL, serial=SERIAL, seed=51)
    world.tus(world.a).uploader(str(clip), chunk_size=1 << 20, metadata=world.metadata(clip)).upload()
    created, made_ready = events.get(timeout=90), events.get(timeout=90)
    listener.join(10)
    assert (created.kind, made_ready.kind) == ("item-created", "item-ready")
    assert created.data["id"] == made_ready.data["id"]
    assert world.container.evidence.get(str(created.data["id"])).sha256 == sha256_file(clip)


def test_a_session_begun_on_one_server_works_and_ends_on_the_other(world: World) -> None:
    """GIVEN the owner signed in on server A WHEN the same cookie is used on server B THEN B knows them
    and accepts their CSRF token; signing out on B ends the session on A too."""
    collar = PERSONAS["owner"][0]
    with httpx.Client(base_url=world.a.url, timeout=30) as on_a:
        assert on_a.post("/login", data={"username": collar, "password": PASSWORD}).status_code == 303
        me_on_a = on_a.get("/api/v1/me").json()
        with httpx.Client(base_url=world.b.url, cookies=on_a.cookies, timeout=30) as on_b:
            me_on_b = on_b.get("/api/v1/me")
            assert me_on_b.status_code == 200 and me_on_b.json() == me_on_a
            signed_out = on_b.post("/logout", headers={"x-csrf-token": me_on_a["csrf_token"]})
            assert signed_out.status_code == 303
        assert on_a.get("/api/v1/me").status_code == 401


def test_a_job_delivered_again_while_it_runs_is_not_run_twice(container: Container) -> None:
    """GIVEN a job running in one worker WHEN its id is delivered again (the stuck sweep re-sent it
    while it waited behind a backlog) and another worker takes that delivery THEN the second leaves
    it: the handler ran once, and the job succeeded after one attempt."""
    hold_jobs(container)
    started, release, calls = threading.Event(), threading.Event(), []

    def handler(subject_id: str, progress: object) -> str:
        calls.append(subject_id)
        started.set()
        assert release.wait(30)
        return "done"

    container.jobs.register("test.slow", JobKind(handler=handler))  # type: ignore[arg-type]
    with container.db.transaction() as uow:
        job_id = container.jobs.enqueue(uow, "test.slow", "subject").id
    first = threading.Thread(target=container.jobs.run, args=(job_id,))
    first.start()
    assert started.wait(30)
    assert container.jobs.run(job_id) is None  # the second delivery, while the first runs
    release.set()
    first.join(30)
    with container.db.read() as session:
        job = session.get(JobRecord, job_id)
        assert job is not None and job.state == JobState.SUCCEEDED and job.attempts == 1
    assert calls == ["subject"]
