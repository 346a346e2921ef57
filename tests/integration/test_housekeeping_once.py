"""Periodic housekeeping runs once a period however many consumers schedule it (SQLite or Redis queue)."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from witnessbox.config import Settings
from witnessbox.jobs import huey_queue
from witnessbox.jobs.huey_queue import make_huey, once_a_period


def test_a_periodic_action_runs_once_a_period_across_consumers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN one action scheduled by three consumers on the real queue storage WHEN all three run it,
    two at the same moment and one just after THEN it ran once; in the next period it runs again."""
    huey = make_huey(settings.resolved_queue_url(), name=settings.queue_name)
    runs: list[float] = []

    def slow_action() -> None:
        runs.append(time.time())
        time.sleep(0.3)

    consumers = [once_a_period(huey, "witnessbox.test_sweep", 5, slow_action) for _ in range(3)]
    together = [threading.Thread(target=run) for run in consumers[:2]]
    for thread in together:
        thread.start()
    for thread in together:
        thread.join()
    consumers[2]()
    assert len(runs) == 1

    later = time.time() + 5 * 60
    monkeypatch.setattr(huey_queue.time, "time", lambda: later)
    consumers[0]()
    consumers[1]()
    assert len(runs) == 2


CONSUMER = """
import sys, time
from pathlib import Path
from witnessbox.jobs.huey_queue import make_huey, once_a_period

url, name, record, start = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])

def sweep():
    with record.open("a") as out:
        out.write(f"{time.time()}\\n")
    time.sleep(0.5)

run = once_a_period(make_huey(url, name=name), "witnessbox.test_sweep", 5, sweep)
time.sleep(max(0.0, start - time.time()))
run()
"""


def test_a_periodic_action_runs_once_across_worker_processes(settings: Settings, tmp_path: Path) -> None:
    """GIVEN three worker processes on the real queue storage (huey's SQLite file, or Redis) WHEN each
    runs the same periodic action at the same moment THEN the action ran once."""
    record = tmp_path / "runs.txt"
    start = time.time() + 3  # after every process has imported and connected
    args = [settings.resolved_queue_url(), settings.queue_name, str(record), str(start)]
    processes = [subprocess.Popen([sys.executable, "-c", CONSUMER, *args]) for _ in range(3)]
    assert [process.wait(60) for process in processes] == [0, 0, 0]
    assert len(record.read_text().splitlines()) == 1
