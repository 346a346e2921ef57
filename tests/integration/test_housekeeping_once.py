"""Periodic housekeeping runs once a period however many consumers schedule it (SQLite or Redis queue)."""

import threading
import time

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
