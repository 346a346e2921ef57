"""The lease keeper: a thread beside the job consumers of a process (server or worker).

Every heartbeat it renews the leases of the jobs this process runs, and takes back
jobs whose worker went silent for longer than the lease (killed, frozen, its machine
lost power). Any process that keeps leases takes back any worker's jobs, so a killed
worker's job runs again within heartbeat + lease seconds, whoever is left.
"""

import logging
import threading

from witnessbox.jobs.runner import JobRunner

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews this process's job leases and reclaims expired ones, every `runner.lease.heartbeat_s`."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="witnessbox-leases", daemon=True)

    def start(self) -> "LeaseKeeper":
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (at its next tick at the latest)."""
        self._stopped.set()
        self._thread.join(timeout=self.runner.lease.heartbeat_s + 5)

    def tick(self) -> None:
        """Renew, then reclaim; a database hiccup is logged and tried again next tick."""
        try:
            self.runner.heartbeat()
            self.runner.reclaim_expired()
        except Exception:
            log.exception("could not renew or reclaim job leases; trying again in %s s",
                          self.runner.lease.heartbeat_s)

    def _loop(self) -> None:
        while True:
            self.tick()
            if self._stopped.wait(self.runner.lease.heartbeat_s):
                return
