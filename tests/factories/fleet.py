"""Several processes, one system: `witnessbox serve` instances and `witnessbox worker` processes on loopback.

Every process gets the same settings (database, queue, data directory), as the operations guide asks of a
larger deployment; the servers run no job threads of their own, the workers do the jobs.
"""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import LiveServer, free_port
from witnessbox.config import Settings


@dataclass
class FleetServer(LiveServer):
    """A `witnessbox serve` of the fleet: no job threads inside (the workers run the jobs)."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The shared settings, with the server's own job threads turned off."""
        return {**super().env(), **self.extra_env, "WITNESSBOX_WORKERS": "0"}


@dataclass
class Fleet:
    """N servers and M workers sharing one database, one queue and one data directory."""

    settings: Settings
    folder: Path
    servers: list[FleetServer] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment every process of the fleet runs with."""
        return {**self.servers[0].env(), **self.extra_env} if self.servers else dict(os.environ)

    def start_servers(self, count: int) -> None:
        """Start `count` servers at the same moment (they migrate and set up the first administrator
        together), each on its own port, and wait until every one answers."""
        self.servers = [
            # Servers starting together on a busy machine take longer than one alone.
            FleetServer(settings=self.settings, port=free_port(), log=self.folder / f"server-{index}.log",
                        start_timeout_s=90, extra_env=self.extra_env)
            for index in range(count)
        ]
        failures: list[BaseException] = []
        threads = [threading.Thread(target=_start, args=(server, failures)) for server in self.servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    def start_worker(self, index: int | None = None, threads: int = 1) -> int:
        """Start a `witnessbox worker` process (in slot `index`, replacing a dead one); its slot."""
        log = (self.folder / f"worker-{index if index is not None else len(self.workers)}.log").open("ab")
        with log:
            process = subprocess.Popen(
                [sys.executable, "-m", "witnessbox", "worker", "--threads", str(threads)],
                env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            )
        if index is None:
            self.workers.append(process)
            return len(self.workers) - 1
        self.workers[index] = process
        return index

    def kill_worker(self, index: int) -> None:
        """SIGKILL a worker: no clean-up, as when its machine loses power."""
        process = self.workers[index]
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def stop(self) -> None:
        """Stop every process (workers with SIGTERM, then SIGKILL if they linger)."""
        for process in self.workers:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.workers:
            if process is not None:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        for server in self.servers:
            server.stop()

    def pids(self) -> list[int]:
        """The process ids of every live server and worker."""
        processes = [server.process for server in self.servers] + list(self.workers)
        return [p.pid for p in processes if p is not None and p.poll() is None]


def _start(server: LiveServer, failures: list[BaseException]) -> None:
    try:
        server.start()
    except BaseException as error:  # noqa: BLE001 - handed to the starting thread
        failures.append(error)


@contextmanager
def running_fleet(settings: Settings, folder: Path, *, servers: int = 2, workers: int = 2,
                  extra_env: dict[str, str] | None = None) -> Iterator[Fleet]:
    """Start the servers together on a fresh database, then the workers; stop them all afterwards."""
    fleet = Fleet(settings=settings, folder=folder, extra_env=dict(extra_env or {}))
    try:
        fleet.start_servers(servers)
        for _ in range(workers):
            fleet.start_worker()
        yield fleet
    finally:
        fleet.stop()
