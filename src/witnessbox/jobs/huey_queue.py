"""The huey transport: SQLite storage on one machine, Redis across many."""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException

from witnessbox.jobs.runner import JobRunner

log = logging.getLogger(__name__)
# An idle huey worker backs off to polling every 10 s by default; a docked recording
# should become playable in seconds, so idle workers look at least twice a second.
POLL_S = 0.5


def make_huey(url: str, *, name: str = "witnessbox") -> Huey:
    """Build a huey instance from a queue URL (sqlite:///path or redis://host:port/db)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = Path(parsed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name=name, filename=str(path), results=False, utc=True)
    if parsed.scheme in ("redis", "rediss"):
        return RedisHuey(name=name, url=url, results=False, utc=True)
    if parsed.scheme == "memory":
        return Huey(name=name, results=False, immediate=True)
    raise ValueError(f"unsupported queue URL scheme {parsed.scheme!r}; use sqlite:/// or redis://")


class HueyQueue:
    """Carries job ids to huey consumers, which hand them back to the JobRunner."""

    def __init__(self, huey: Huey, runner: JobRunner) -> None:
        self.huey = huey
        self._task = huey.task(retries=0, name="witnessbox.run_job")(runner.run)
        runner.queue = self

    def send(self, job_id: str, delay_s: float = 0) -> None:
        """Enqueue a job id, optionally delayed."""
        if delay_s > 0 and not self.huey.immediate:
            self._task.schedule(args=(job_id,), delay=delay_s)
        else:
            self._task(job_id)

    def every(self, minutes: int, name: str, action: Callable[[], Any]) -> None:
        """Run `action` periodically: once a period, however many consumers schedule it."""
        schedule = crontab(minute=f"*/{minutes}") if minutes < 60 else crontab(minute="0")
        self.huey.periodic_task(schedule, name=name)(once_a_period(self.huey, name, minutes, action))


def once_a_period(huey: Huey, name: str, minutes: int, action: Callable[[], Any]) -> Callable[[], None]:
    """Wrap a periodic action so that only the first consumer to run it in a period does.

    Every consumer's scheduler enqueues the periodic tasks; with several workers each would
    run. A lock in the queue's storage (SQLite or Redis) and the last period it ran in make
    the others skip.
    """
    period_s = minutes * 60

    def run() -> None:
        period = int(time.time() // period_s)
        try:
            with huey.lock_task(f"{name}:lock"):
                if huey.get(f"{name}:period", peek=True) == period:
                    log.debug("%s already ran in this period", name)
                    return
                action()
                huey.put(f"{name}:period", period)
        except TaskLockedException:
            log.debug("%s is running in another consumer", name)

    return run


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer that runs inside another program (the web server) and leaves its signals alone."""

    def _set_signal_handlers(self) -> None:
        """The host process owns SIGINT/SIGTERM; it calls stop() itself."""


def start_embedded_consumer(huey: Huey, workers: int) -> Consumer:
    """Start consumer threads inside this process; the caller stops them."""
    consumer = EmbeddedConsumer(huey, workers=workers, worker_type="thread", periodic=True, max_delay=POLL_S)
    consumer.start()
    return consumer
