"""A shift change on loopback: many docks uploading at once to two servers and two workers, with faults.

    python bench/burst.py [--docks 50] [--seconds 8] [--deadline 900]

nginx (`witnessbox nginx-config`) in front of two `witnessbox serve` (no job threads), two `witnessbox
worker`, PostgreSQL (a throwaway schema on $WITNESSBOX_TEST_DATABASE_URL or the local server), Redis
(a queue name of its own) and SeaweedFS with an Object Lock bucket behind a fault proxy. Each dock is a
thread uploading its own recording with the real tus client (tuspy), resuming from the server's offset
after any failure, as dock/agent.py does. Two phases in one run:

- baseline: every dock uploads once, nothing goes wrong;
- faults: every dock uploads a new recording while the benchmark cuts the docks' connections, kills one
  server and one worker with SIGKILL and restarts them, and makes the S3 server answer 503 for a while.

Then every recording must be one item (0 lost, 0 duplicated), ready, its original re-read from the
bucket (not through the proxy) with the hash the dock computed. Prints aggregate MB/s, p95 from the end
of an upload to a playable item, the ratio of the faulted phase to the baseline, and the peak RSS of
every server and worker process (sampled). Everything listens on 127.0.0.1; every wait has a deadline.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    MB,
    clear_status,
    fmt,
    free_port,
    load_average,
    percentile,
    proc_status_kb,
    status,
    temp_dir,
)

PG_URL = os.environ.get("WITNESSBOX_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("WITNESSBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_PASSWORD = "Quartz-lantern-7391-bench"
OFFICER = "BWV2001"
STARTED = datetime(2026, 11, 26, 6, 55, tzinfo=UTC)
ISSUED = datetime(2020, 1, 1, tzinfo=UTC)
RSS_LIMIT_MB = 300
CHUNK = 1024 * 1024


@dataclass
class Clip:
    """One dock's recording: where it is, its hash, and what happened to it."""

    dock: int
    path: Path
    sha256: str
    size: int
    upload_start: float = 0.0
    upload_end: float = 0.0
    ready_at: float = 0.0
    attempts: int = 0
    error: str = ""


@dataclass
class Processes:
    """Every server and worker process ever started, by role, with its sampled peak RSS."""

    peaks: dict[str, float] = field(default_factory=dict)
    live: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, process: subprocess.Popen[bytes]) -> None:
        """Track a process under a name (a restart gets a new name: name+restarted)."""
        with self.lock:
            self.live[name] = process

    def sample(self) -> None:
        """Record each live process's resident memory."""
        with self.lock:
            for name, process in self.live.items():
                if process.poll() is None:
                    mb = proc_status_kb(process.pid, "VmRSS") / 1024
                    self.peaks[name] = max(self.peaks.get(name, 0.0), mb)


# ---- the recordings ------------------------------------------------------------------------------

def make_clips(folder: Path, docks: int, seconds: float, phase: str) -> list[Clip]:
    """One distinct recording per dock: a few simulated recordings, each dock's copy made unique by
    an MP4 `free` box at the end naming the dock (players skip it; the bytes, so the hash, differ)."""
    from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording

    bases = []
    for seed in range(min(4, docks)):
        spec = RecordingSpec(started_at=STARTED, seconds=seconds, width=640, height=360, fps=25,
                             video_bitrate=3_000_000, unique_seconds=min(seconds, 4))
        bases.append(write_recording(folder / f"base-{seed}", CameraSpec(f"BASE{seed:04d}"), spec,
                                     seed=seed).read_bytes())
    clips = []
    for dock in range(docks):
        payload = f"witnessbox burst {phase} dock {dock} {secrets.token_hex(8)}".encode()
        data = bases[dock % len(bases)] + struct.pack(">I4s", 8 + len(payload), b"free") + payload
        path = folder / f"{phase}-{dock:03d}.mp4"
        path.write_bytes(data)
        clips.append(Clip(dock, path, hashlib.sha256(data).hexdigest(), len(data)))
    return clips


# ---- the system ----------------------------------------------------------------------------------

@contextmanager
def postgres_schema() -> Iterator[str]:
    """A schema of our own in the PostgreSQL database, dropped afterwards; its URL."""
    from sqlalchemy import create_engine, text

    schema = f"burst_{secrets.token_hex(5)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def system_env(folder: Path, database_url: str, s3: dict[str, str]) -> dict[str, str]:
    """The settings every server and worker of this system shares."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WITNESSBOX_")}
    env.update(s3)
    env.update({
        "WITNESSBOX_DATA_DIR": str(folder / "data"),
        "WITNESSBOX_DATABASE_URL": database_url,
        "WITNESSBOX_QUEUE_URL": REDIS_URL,
        "WITNESSBOX_QUEUE_NAME": f"wbx-burst-{secrets.token_hex(4)}",
        "WITNESSBOX_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "WITNESSBOX_WORKERS": "0",
        # A killed worker's job comes back within seconds, not the production 45 s.
        "WITNESSBOX_JOB_HEARTBEAT_S": "2",
        "WITNESSBOX_JOB_LEASE_S": "8",
        "WITNESSBOX_S3_CONNECT_TIMEOUT_S": "2",
        "WITNESSBOX_S3_READ_TIMEOUT_S": "10",
        "WITNESSBOX_SCRUB_EVERY_MINUTES": "0",
    })
    return env


def register(env: dict[str, str], docks: int) -> list[str]:
    """An officer holding one camera per dock, each dock registered for its camera; the dock tokens."""
    from witnessbox.accounts.roles import Role
    from witnessbox.accounts.service import NewUser
    from witnessbox.bootstrap import build
    from witnessbox.config import Settings
    from witnessbox.core.actor import SYSTEM

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        container = build(Settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        officer = NewUser(collar_number=OFFICER, name="PC Burst", roles=frozenset({Role.OFFICER}),
                          password="Quartz-lantern-7391-river")
        container.users.create_user(officer, actor=SYSTEM)
        tokens = []
        for dock in range(docks):
            serial = f"WBX{dock:05d}"
            container.devices.register_camera(serial, model="RS2-RX", actor=SYSTEM)
            container.devices.assign(serial, OFFICER, actor=SYSTEM, starts_at=ISSUED)
            _dock, token = container.devices.register_dock(f"dock-{dock:03d}", cameras=[serial], actor=SYSTEM)
            tokens.append(token)
        return tokens
    finally:
        container.close()


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A witnessbox process with this system's settings."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "witnessbox", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    """Until the process answers /healthz."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s")


# ---- docks ---------------------------------------------------------------------------------------

def dock_upload(url: str, token: str, clip: Clip, deadline: float) -> None:
    """Upload one recording with tuspy, resuming from the server's offset after any failure."""
    from tusclient.client import TusClient

    client = TusClient(url, headers={"Authorization": f"Bearer {token}"})
    metadata = {"filename": clip.path.name, "sha256": clip.sha256, "camera": f"WBX{clip.dock:05d}",
                "started_at": STARTED.isoformat().replace("+00:00", "Z")}
    upload_url: str | None = None
    clip.upload_start = time.monotonic()
    while time.monotonic() < deadline:
        clip.attempts += 1
        try:
            uploader = client.uploader(str(clip.path), chunk_size=CHUNK, metadata=metadata, url=upload_url)
            upload_url = uploader.url
            uploader.upload()
            clip.upload_end = time.monotonic()
            return
        except Exception as error:  # noqa: BLE001 - any failure: wait, then resume as a dock does
            clip.error = f"{type(error).__name__}: {error}"[:200]
            time.sleep(0.5)
    clip.error = f"gave up at the deadline after {clip.attempts} attempts; last: {clip.error}"


def run_docks(url: str, tokens: list[str], clips: list[Clip], deadline: float) -> None:
    """Every dock at once, each in its own thread."""
    threads = [
        threading.Thread(target=dock_upload, args=(url, tokens[clip.dock], clip, deadline), daemon=True)
        for clip in clips
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic()))


def watch_ready(database_url: str, clips: list[Clip], deadline: float) -> None:
    """Note when each recording's item became ready (playable), polling the database."""
    from sqlalchemy import create_engine, select

    from witnessbox.evidence.models import Item, ItemState

    engine = create_engine(database_url)
    waiting = {clip.sha256: clip for clip in clips}
    try:
        while waiting and time.monotonic() < deadline:
            with engine.connect() as connection:
                query = select(Item.sha256, Item.state).where(Item.sha256.in_(list(waiting)))
                rows = connection.execute(query)
                now = time.monotonic()
                for sha256, state in rows:
                    if state == ItemState.READY:
                        waiting.pop(sha256).ready_at = now
            status(f"{len(clips) - len(waiting)}/{len(clips)} ready")
            time.sleep(0.25)
    finally:
        engine.dispose()


# ---- faults --------------------------------------------------------------------------------------

@dataclass
class Chaos:
    """What the faulted phase does, and when (seconds after the docks start)."""

    log: list[str] = field(default_factory=list)

    def note(self, t0: float, what: str) -> None:
        """Remember one fault with its time."""
        self.log.append(f"t+{time.monotonic() - t0:4.1f}s {what}")


def run_chaos(system: System, t0: float, chaos: Chaos, stop: threading.Event) -> None:
    """Cut the docks' connections, kill a server and a worker and restart them, fail S3 for a while."""
    steps = [
        (1.0, lambda: (system.dock_proxy.fail("cut", 2.0), "docks' connections cut for 2 s")),
        (3.0, lambda: (system.kill_server(0), "server A killed with SIGKILL")),
        (4.0, lambda: (system.kill_worker(0), "worker 1 killed with SIGKILL")),
        (5.0, lambda: (system.s3_proxy.fail("error", 6.0, 503), "S3 answers 503 for 6 s")),
        (8.0, lambda: (system.restart_server(0), "server A restarted")),
        (9.0, lambda: (system.restart_worker(0), "worker 1 restarted")),
        (12.0, lambda: (system.dock_proxy.fail("cut", 1.0), "docks' connections cut for 1 s")),
    ]
    for at, step in steps:
        while time.monotonic() - t0 < at:
            if stop.wait(0.05):
                return
        _done, what = step()
        chaos.note(t0, what)


@dataclass
class System:
    """nginx, two servers, two workers, the S3 server behind a proxy, the docks behind another."""

    env: dict[str, str]
    folder: Path
    processes: Processes
    ports: list[int]
    s3_proxy: object
    dock_proxy: object = None
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarts: int = 0

    def start_server(self, index: int) -> subprocess.Popen[bytes]:
        """`witnessbox serve` on its port; waits until it answers."""
        log = self.folder / f"server-{index}.log"
        process = start(["serve", "--port", str(self.ports[index])], self.env, log)
        wait_healthy(f"http://127.0.0.1:{self.ports[index]}", process)
        return process

    def start_worker(self, index: int) -> subprocess.Popen[bytes]:
        """`witnessbox worker` with two job threads."""
        return start(["worker", "--threads", "2"], self.env, self.folder / f"worker-{index}.log")

    def kill_server(self, index: int) -> None:
        """SIGKILL one server."""
        os.kill(self.servers[index].pid, signal.SIGKILL)
        self.servers[index].wait(10)

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker."""
        os.kill(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait(10)

    def restart_server(self, index: int) -> None:
        """Start the killed server again (in a thread: the chaos goes on meanwhile)."""
        self.restarts += 1
        name = f"server {'AB'[index]} (restarted)"

        def again() -> None:
            self.servers[index] = self.start_server(index)
            self.processes.add(name, self.servers[index])

        threading.Thread(target=again, daemon=True).start()

    def restart_worker(self, index: int) -> None:
        """Start the killed worker again."""
        self.restarts += 1
        self.workers[index] = self.start_worker(index)
        self.processes.add(f"worker {index + 1} (restarted)", self.workers[index])

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL)."""
        for process in [*self.workers, *self.servers]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *self.servers]:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def running_system(folder: Path, docks: int) -> Iterator[tuple[System, list[str], str, object, str]]:
    """Everything started; yields the system, the dock tokens, the docks' URL and the S3 endpoint."""
    from tests.factories.faults import fault_proxy
    from tests.factories.nginx import nginx_server
    from tests.factories.s3 import seaweed_server

    with ExitStack() as stack:
        endpoint = stack.enter_context(seaweed_server(folder))
        bucket = endpoint.make_bucket(object_lock=True)
        s3_port = int(endpoint.url.rsplit(":", 1)[1])
        s3_proxy = stack.enter_context(fault_proxy(("127.0.0.1", s3_port)))
        database_url = stack.enter_context(postgres_schema())
        env = system_env(folder, database_url, {**endpoint.environment(bucket), "WITNESSBOX_S3_ENDPOINT_URL":
                                                s3_proxy.url})
        tokens = register(env, docks)
        processes = Processes()
        system = System(env, folder, processes, [free_port(), free_port()], s3_proxy)
        stack.callback(system.stop)
        for index in range(2):
            system.servers.append(system.start_server(index))
            processes.add(f"server {'AB'[index]}", system.servers[index])
            system.workers.append(system.start_worker(index))
            processes.add(f"worker {index + 1}", system.workers[index])
        listen = free_port()
        config = subprocess.run(
            [sys.executable, "-m", "witnessbox", "nginx-config", "--plain-http",
             "--listen", f"127.0.0.1:{listen}", "--log-dir", str(folder),
             *(f"--upstream=127.0.0.1:{port}" for port in system.ports)],
            env=env, capture_output=True, text=True, check=True).stdout
        nginx = stack.enter_context(nginx_server(config, folder))
        system.dock_proxy = stack.enter_context(fault_proxy(("127.0.0.1", listen)))
        del nginx
        yield system, tokens, database_url, endpoint, bucket


# ---- one phase, and the check at the end ---------------------------------------------------------

@dataclass
class Phase:
    """The figures of one phase."""

    name: str
    clips: list[Clip]
    wall_s: float
    chaos: list[str]

    @property
    def uploaded(self) -> list[Clip]:
        """The recordings whose upload finished."""
        return [clip for clip in self.clips if clip.upload_end]

    @property
    def mbps(self) -> float:
        """Aggregate upload rate: all bytes over the time from the first start to the last end."""
        done = self.uploaded
        if not done:
            return 0.0
        span = max(c.upload_end for c in done) - min(c.upload_start for c in done)
        return sum(c.size for c in done) / MB / max(span, 1e-9)

    @property
    def p95_playable_s(self) -> float:
        """95th percentile of upload end to playable item."""
        gaps = [c.ready_at - c.upload_end for c in self.clips if c.ready_at and c.upload_end]
        return percentile(gaps, 0.95) if gaps else float("nan")


def run_phase(name: str, system: System, tokens: list[str], database_url: str, clips: list[Clip],
              deadline: float, faults: bool) -> Phase:
    """All docks upload at once (with the chaos alongside when `faults`); until every item is ready."""
    url = f"{system.dock_proxy.url}/api/v1/uploads/"  # type: ignore[attr-defined]
    chaos, stop = Chaos(), threading.Event()
    t0 = time.monotonic()
    watcher = threading.Thread(target=watch_ready, args=(database_url, clips, deadline), daemon=True)
    watcher.start()
    agitator = threading.Thread(target=run_chaos, args=(system, t0, chaos, stop), daemon=True)
    if faults:
        agitator.start()
    run_docks(url, tokens, clips, deadline)
    watcher.join(max(1.0, deadline - time.monotonic()))
    stop.set()
    if faults:
        agitator.join(30)
    clear_status()
    return Phase(name, clips, time.monotonic() - t0, chaos.log)


def check(
    database_url: str, endpoint: object, bucket: str, clips: list[Clip], scratch: Path
) -> dict[str, int]:
    """Lost, duplicated, ready and verified-in-the-bucket counts, from the database and the bucket itself."""
    from sqlalchemy import create_engine, func, select

    from witnessbox.evidence.models import Derivative, Item, ItemState
    from witnessbox.storage.factory import blob_store_from_url
    from witnessbox.storage.s3_options import S3Options

    engine = create_engine(database_url)
    shas = [clip.sha256 for clip in clips]
    with engine.connect() as connection:
        items = {sha: (item_id, state, verified) for item_id, sha, state, verified in connection.execute(
            select(Item.id, Item.sha256, Item.state, Item.verified_at).where(Item.sha256.in_(shas)))}
        doubled = connection.execute(
            select(func.count()).select_from(
                select(Derivative.item_id, Derivative.kind).group_by(Derivative.item_id, Derivative.kind)
                .having(func.count() > 1).subquery())).scalar_one()
    engine.dispose()
    store = blob_store_from_url(f"s3://{bucket}/blobs", staging=scratch, s3=S3Options(
        endpoint_url=endpoint.url, region=endpoint.region,  # type: ignore[attr-defined]
        access_key_id=endpoint.access_key, secret_access_key=endpoint.secret_key))  # type: ignore[attr-defined]
    in_bucket = 0
    for sha in shas:
        if sha in items:
            digest = hashlib.sha256()
            for chunk in store.read(sha):
                digest.update(chunk)
            in_bucket += digest.hexdigest() == sha
    return {
        "recordings": len(shas),
        "lost": sum(1 for sha in shas if sha not in items),
        "duplicated": doubled,  # items are unique by hash; a derivative made twice would show here
        "ready": sum(1 for sha in shas if sha in items and items[sha][1] == ItemState.READY),
        "verified": sum(1 for sha in shas if sha in items and items[sha][2] is not None),
        "hash re-read from the bucket": in_bucket,
    }


def main() -> int:
    """Run both phases and print the figures; exit 1 when a promise is broken."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docks", type=int, default=50, help="docks uploading at once (at least 50)")
    parser.add_argument("--seconds", type=float, default=8, help="length of each recording (360p, 3 Mbit/s)")
    parser.add_argument("--deadline", type=float, default=900, help="seconds the whole run may take")
    args = parser.parse_args()
    end = time.monotonic() + args.deadline
    print(f"load average at start: {load_average():.1f}")
    with temp_dir("burst-") as folder:
        baseline_clips = make_clips(folder / "clips", args.docks, args.seconds, "baseline")
        faulted_clips = make_clips(folder / "clips", args.docks, args.seconds, "faults")
        with running_system(folder, args.docks) as (system, tokens, database_url, endpoint, bucket):
            sampling = threading.Event()
            sampler = threading.Thread(target=_sample, args=(system.processes, sampling), daemon=True)
            sampler.start()
            remaining = (end - time.monotonic()) / 2
            baseline = run_phase("baseline", system, tokens, database_url, baseline_clips,
                                 time.monotonic() + remaining, faults=False)
            faulted = run_phase("faults", system, tokens, database_url, faulted_clips, end, faults=True)
            sampling.set()
            counts = check(database_url, endpoint, bucket, baseline_clips + faulted_clips, folder / "reread")
            s3_faults = system.s3_proxy.faults  # type: ignore[attr-defined]
            dock_faults = system.dock_proxy.faults  # type: ignore[attr-defined]
        report(args, baseline, faulted, counts, system.processes, s3_faults, dock_faults)
    print(f"load average at end: {load_average():.1f}")
    return 0 if _kept(counts, system.processes) else 1


def _sample(processes: Processes, stop: threading.Event) -> None:
    while not stop.wait(0.2):
        processes.sample()


def _kept(counts: dict[str, int], processes: Processes) -> bool:
    whole = counts["lost"] == 0 and counts["duplicated"] == 0
    every = (counts["ready"] == counts["verified"] == counts["hash re-read from the bucket"]
             == counts["recordings"])
    return whole and every and all(peak < RSS_LIMIT_MB for peak in processes.peaks.values())


def report(args: argparse.Namespace, baseline: Phase, faulted: Phase, counts: dict[str, int],
           processes: Processes, s3_faults: int, dock_faults: int) -> None:
    """The tables on stdout."""
    size = sum(c.size for c in baseline.clips) / len(baseline.clips) / MB
    print(f"\n{args.docks} docks at once, one recording each per phase "
          f"({size:.1f} MB, {args.seconds:g} s 360p), "
          "through nginx to 2 servers and 2 workers on PostgreSQL, Redis and SeaweedFS (Object Lock)\n")
    print(f"{'phase':<10} {'uploaded':>9} {'ready':>6} {'MB/s':>7} {'p95 upload end -> playable':>27} "
          f"{'wall s':>7} {'dock retries':>13}")
    for phase in (baseline, faulted):
        ready = sum(1 for c in phase.clips if c.ready_at)
        retries = sum(c.attempts - 1 for c in phase.clips)
        print(f"{phase.name:<10} {len(phase.uploaded):>9} {ready:>6} {fmt(phase.mbps):>7} "
              f"{fmt(phase.p95_playable_s, 2) + ' s':>27} {fmt(phase.wall_s):>7} {retries:>13}")
    print(f"\nratio faults / baseline: MB/s {faulted.mbps / max(baseline.mbps, 1e-9):.2f}, "
          f"p95 to playable {faulted.p95_playable_s / max(baseline.p95_playable_s, 1e-9):.2f}")
    print("\nfaults (faulted phase): " + "; ".join(faulted.chaos))
    print(f"requests the S3 proxy spoilt: {s3_faults}; dock connections cut: {dock_faults}")
    print("\nat the end: " + ", ".join(f"{name} {value}" for name, value in counts.items()))
    print(f"\npeak RSS (sampled every 0.2 s; limit {RSS_LIMIT_MB} MB):")
    for name, peak in sorted(processes.peaks.items()):
        print(f"  {name:<24} {peak:6.1f} MB")
    failed = [c for c in baseline.clips + faulted.clips if not c.ready_at]
    for clip in failed[:5]:
        print(f"  not ready: {clip.path.name}: {clip.error or 'uploaded, item not ready'}")


if __name__ == "__main__":
    sys.exit(main())
