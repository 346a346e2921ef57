"""Shared pieces of the benchmarks: recordings, a real server, tus uploads, polling, figures.

Everything listens on 127.0.0.1 only; every wait has a deadline; every process
and temporary directory made here is removed by the context managers below.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

warnings.filterwarnings("ignore", category=DeprecationWarning)  # third-party noise; stdout is the table

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
MB = 1_000_000  # throughput is in MB/s = 10^6 bytes per second
MiB = 1024 * 1024
GiB = 1024 * MiB
# Loopback-only throwaway servers; both pass the password policy (12+ chars, not the person's name).
ADMIN_PASSWORD = "Quartz-lantern-7391-bench"
OFFICER, OFFICER_NAME, OFFICER_PASSWORD = "BWV1001", "PC Bench", "Quartz-lantern-7391-river"
CAMERA = "WBX00001"
STARTED = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
ISSUED = datetime(2020, 1, 1, tzinfo=UTC)  # the camera is the officer's from long before STARTED
# The recording every benchmark uses: 1080p25 H.264 at 8 Mbit/s, one-second GOPs,
# 10 unique seconds repeated (seconds to make, the same bytes on a given FFmpeg build).
WIDTH, HEIGHT, FPS, VIDEO_BITRATE, UNIQUE_S = 1920, 1080, 25, 8_000_000, 10
PROXY_TEST_SECONDS = 600


def status(message: str) -> None:
    """Progress on stderr, only when it is a terminal (stdout keeps just the final table)."""
    if sys.stderr.isatty():
        print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


def clear_status() -> None:
    """Erase the progress line."""
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def load_average() -> float:
    """The 1-minute load average: other work on this 2-core machine moves every figure."""
    return os.getloadavg()[0]


def mbps(size: int, seconds: float) -> float:
    """Throughput in MB/s."""
    return size / MB / seconds if seconds > 0 else math.inf


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    return statistics.median(values)


# --------------------------------------------------------------------------
# Recordings (cached in bench/out, made by the project's own simulator)
# --------------------------------------------------------------------------


def recording(seconds: int) -> Path:
    """A cached 1080p recording of `seconds`, simulated on first use."""
    from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording

    folder = OUT / f"rec-1080p-{seconds}s"
    done = folder / ".complete"
    if done.exists():
        return Path(done.read_text().strip())
    shutil.rmtree(folder, ignore_errors=True)
    status(f"simulating a {seconds} s 1080p recording (cached in {folder})")
    spec = RecordingSpec(started_at=STARTED, seconds=seconds, width=WIDTH, height=HEIGHT, fps=FPS,
                         video_bitrate=VIDEO_BITRATE, unique_seconds=UNIQUE_S)
    path = write_recording(folder, CameraSpec(CAMERA), spec)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # its writeback must not run into the measurements that follow
    finally:
        os.close(fd)
    done.write_text(str(path))
    return path


def recording_of_size(size_gb: float) -> Path:
    """A cached recording of about `size_gb` GiB (its length is derived from the 10-minute one)."""
    reference = recording(PROXY_TEST_SECONDS)
    bytes_per_second = reference.stat().st_size / PROXY_TEST_SECONDS
    return recording(max(10, math.ceil(size_gb * GiB / bytes_per_second)))


def sha256_at_source(path: Path) -> tuple[str, float]:
    """The file's SHA-256 computed the way the dock does, and the seconds it took."""
    from witnessbox.dock.agent import sha256_of

    start = time.perf_counter()
    digest = sha256_of(path)
    return digest, time.perf_counter() - start


def sha256_plain(path: Path) -> str:
    """SHA-256 of a file (no timing)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Processes and temporary directories
# --------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port nobody is listening on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A directory under bench/out (same filesystem as the recordings), removed afterwards."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=OUT))
    try:
        yield path
    finally:
        _make_writable(path)
        shutil.rmtree(path, ignore_errors=True)


def _make_writable(root: Path) -> None:
    # The evidence store makes blobs and their folders read-only; rmtree needs write bits.
    for folder, _dirs, _files in os.walk(root):
        Path(folder).chmod(0o700)


def clean_env() -> dict[str, str]:
    """This process's environment without any WITNESSBOX_* setting that could leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WITNESSBOX_")}


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; only this one process."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    """Wait until `url` answers (any status below 500), or fail with the log's tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s:\n{log.read_text(errors='replace')[-3000:]}")


# --------------------------------------------------------------------------
# A real Witnessbox server
# --------------------------------------------------------------------------


@dataclass
class Server:
    """A `python -m witnessbox serve` process on loopback with its own data directory.

    `token` is the dock's bearer token (upload, confirm); the officer the camera is
    issued to signs in with OFFICER / OFFICER_PASSWORD to see and play the footage
    (administrators see no footage).
    """

    data_dir: Path
    port: int
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (uvicorn runs in it: one process)."""
        return self.process.pid


def _urls(data_dir: Path) -> dict[str, str]:
    return {
        "database_url": f"sqlite:///{data_dir / 'witnessbox.db'}",
        "storage_url": (data_dir / "blobs").as_uri(),
        "queue_url": f"sqlite:///{data_dir / 'queue.db'}",
    }


def _register_devices(data_dir: Path) -> str:
    """Before the server starts: an officer, the camera issued to them, a dock; return its token."""
    from witnessbox.accounts.roles import Role
    from witnessbox.accounts.service import NewUser
    from witnessbox.bootstrap import build
    from witnessbox.config import load_settings
    from witnessbox.core.actor import SYSTEM

    container = build(load_settings(data_dir=data_dir, **_urls(data_dir)))
    try:
        container.users.create_user(NewUser(collar_number=OFFICER, name=OFFICER_NAME,
                                            roles=frozenset({Role.OFFICER}), password=OFFICER_PASSWORD),
                                    actor=SYSTEM)
        container.devices.register_camera(CAMERA, model="RS2-RX", actor=SYSTEM)
        container.devices.assign(CAMERA, OFFICER, actor=SYSTEM, starts_at=ISSUED)
        _dock, token = container.devices.register_dock("bench-dock", cameras=[CAMERA], actor=SYSTEM)
    finally:
        container.close()
    return token


@contextmanager
def witnessbox_server(workers: int = 2, grace_s: float = 10.0) -> Iterator[Server]:
    """A fresh server (fresh data directory, camera and dock registered); removed afterwards.

    On the way out it gets SIGTERM and, after `grace_s`, SIGKILL (a job still running is
    of no interest once the figures are taken).
    """
    with temp_dir("wbx-") as data_dir:
        token = _register_devices(data_dir)
        port = free_port()
        env = clean_env()
        env.update({f"WITNESSBOX_{k.upper()}": v for k, v in _urls(data_dir).items()})
        env.update({"WITNESSBOX_DATA_DIR": str(data_dir), "WITNESSBOX_ADMIN_PASSWORD": ADMIN_PASSWORD,
                    "WITNESSBOX_WORKERS": str(workers)})
        log = data_dir / "server.log"
        with log.open("ab") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "witnessbox", "serve", "--port", str(port)],
                env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=data_dir,
            )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", process, log)
            yield Server(data_dir, port, token, process, log)
        except BaseException:
            clear_status()
            tail = log.read_text(errors="replace")[-4000:]
            print(f"--- tail of the server's log ---\n{tail}", file=sys.stderr)
            raise
        finally:
            stop_process(process, grace_s)


@contextmanager
def bare_server(directory: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """bench/_bare_upload.py under uvicorn; yields (tus creation URL, process)."""
    port = free_port()
    log = directory / "bare.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, str(BENCH / "_bare_upload.py"), "--port", str(port), "--dir", str(directory)],
            env=clean_env(), stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, log)
        yield f"http://127.0.0.1:{port}/files/", process
    finally:
        stop_process(process)


def session_cookie(base_url: str) -> str:
    """Sign in once as the camera's officer (POST /login) and return the `wbx_session` cookie value."""
    response = httpx.post(f"{base_url}/login", data={"username": OFFICER, "password": OFFICER_PASSWORD},
                          timeout=30, follow_redirects=False)
    cookie = response.cookies.get("wbx_session")
    if response.status_code != 303 or not cookie:
        raise RuntimeError(f"login failed: {response.status_code} {response.text[:200]}")
    return cookie


# --------------------------------------------------------------------------
# Uploading with the real tus client, and watching the server's memory
# --------------------------------------------------------------------------


@dataclass
class UploadResult:
    """One tus upload, timed from the creation request to the last PATCH's answer."""

    seconds: float
    started: float  # time.perf_counter() at the first request
    item_id: str | None


def tus_upload(creation_url: str, path: Path, sha256: str, chunk_size: int,
               headers: dict[str, str] | None = None) -> UploadResult:
    """Upload with tuspy as documented (`TusClient(...).uploader(...).upload()`)."""
    from tusclient.client import TusClient

    client = TusClient(creation_url, headers=headers or {})
    metadata = {"filename": path.name, "sha256": sha256, "camera": CAMERA,
                "started_at": STARTED.isoformat().replace("+00:00", "Z")}
    uploader = client.uploader(str(path), chunk_size=chunk_size, metadata=metadata, retries=0)
    start = time.perf_counter()
    uploader.upload()
    elapsed = time.perf_counter() - start
    response_headers: dict[str, str] = uploader.request.response_headers if uploader.request else {}
    if int(response_headers.get("upload-offset", -1)) != path.stat().st_size:
        raise RuntimeError(f"upload ended at {response_headers.get('upload-offset')}, not at the size")
    return UploadResult(elapsed, start, response_headers.get("witnessbox-item"))


@dataclass
class RssSampler:
    """Samples a process's VmRSS every `interval_s` in a thread; `peak_mb` is the largest seen."""

    pid: int
    interval_s: float = 0.05
    peak_kb: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmRSS"))

    @property
    def peak_mb(self) -> float:
        """Largest resident set seen, in MB (10^6 bytes)."""
        return self.peak_kb * 1024 / MB


def proc_status_kb(pid: int, key: str) -> int:
    """A `kB` field of /proc/PID/status (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


# --------------------------------------------------------------------------
# Polling the API
# --------------------------------------------------------------------------


def poll(check: Callable[[], Any], timeout_s: float, interval_s: float = 0.05) -> tuple[Any, float]:
    """Call `check` until it returns something truthy; return it and time.perf_counter() then."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found, time.perf_counter()
        time.sleep(interval_s)
    raise TimeoutError(f"not done within {timeout_s} s")


def wait_verified(client: httpx.Client, sha256: str, timeout_s: float) -> tuple[dict[str, Any], float]:
    """Poll `GET /api/v1/held/{sha256}` (as the dock does) until `verified: true`."""
    def check() -> dict[str, Any] | None:
        answer: dict[str, Any] = client.get(f"/api/v1/held/{sha256}").raise_for_status().json()
        return answer if answer["verified"] else None
    found, at = poll(check, timeout_s)
    return dict(found), at


def wait_ready(client: httpx.Client, item_id: str, timeout_s: float) -> tuple[dict[str, Any], float]:
    """Poll the officer's item list (read-only, not audited) until the item is ready with a proxy."""
    def check() -> dict[str, Any] | None:
        items = client.get("/api/v1/items", params={"limit": 20}).raise_for_status().json()
        item = next((i for i in items if i["id"] == item_id), None)
        if item and item["state"] == "quarantined":
            raise RuntimeError(f"item quarantined: {item['reason']}")
        return item if item and item["state"] == "ready" and item["proxy"] else None
    found, at = poll(check, timeout_s)
    return dict(found), at


@dataclass(frozen=True)
class PipelineTimes:
    """Where the time between upload end and playable proxy went, from the server's own rows."""

    queue_wait_s: float  # job created (in the upload's transaction) -> a worker started it
    verify_s: float  # started -> original re-read and marked verified
    probe_thumbs_s: float  # verified -> thumbnail strip stored (probe demuxes every packet)
    proxy_s: float  # thumbnail stored -> proxy stored (remux + faststart + store)
    finish_s: float  # proxy stored -> job finished (state ready)


def pipeline_times(data_dir: Path, item_id: str) -> PipelineTimes:
    """Read the job, item and derivative timestamps (read-only) from the server's database."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from witnessbox.evidence.models import Derivative, DerivativeKind, Item
    from witnessbox.jobs.models import JobRecord

    engine = create_engine(f"sqlite:///file:{data_dir / 'witnessbox.db'}?mode=ro&uri=true")
    try:
        with Session(engine) as session:
            job = session.scalars(select(JobRecord).where(JobRecord.subject_id == item_id)).one()
            item = session.get(Item, item_id)
            made = {d.kind: d.created_at for d in session.scalars(
                select(Derivative).where(Derivative.item_id == item_id))}
    finally:
        engine.dispose()
    assert item is not None and item.verified_at and job.started_at and job.finished_at
    thumbs, proxy = made[DerivativeKind.THUMBNAIL_STRIP], made[DerivativeKind.PROXY]

    def gap(a: datetime, b: datetime) -> float:
        return (b - a).total_seconds()
    return PipelineTimes(gap(job.created_at, job.started_at), gap(job.started_at, item.verified_at),
                         gap(item.verified_at, thumbs), gap(thumbs, proxy), gap(proxy, job.finished_at))


def fmt(value: float, digits: int = 1) -> str:
    """A number with thousands separators."""
    return f"{value:,.{digits}f}"
