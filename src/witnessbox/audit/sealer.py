"""Sealing every N entries, anchored at once: a thread beside the job workers.

The write that makes `audit_seal_entries` entries unsealed signs their checkpoint itself
(`AuditLog.record`), so no entry waits behind more than N others. This thread then time-stamps and
copies each new checkpoint out as soon as that write commits (a round trip to the authority never
runs inside a write). It also looks every `poll_s` for entries that went unsealed some other way (a
rolled-back seal, a write from a process whose count was stale) and seals them. The once-a-minute
housekeeping seal bounds the wait of every entry in time.
"""

import logging
import threading

from witnessbox.audit.anchoring import AuditAnchoring
from witnessbox.core.actor import SYSTEM

log = logging.getLogger(__name__)


class AuditSealer:
    """Anchors checkpoints as soon as they are signed; seals whatever reaches N entries unnoticed."""

    def __init__(self, anchoring: AuditAnchoring, *, entries: int, poll_s: float = 1.0) -> None:
        self.anchoring, self.entries, self.poll_s = anchoring, entries, poll_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="witnessbox-audit-sealer", daemon=True)

    def start(self) -> "AuditSealer":
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (after the anchoring in progress, if any)."""
        self._stopped.set()
        self.anchoring.audit.signed.set()
        self._thread.join(timeout=30)

    def tick(self, *, signed: bool) -> None:
        """Seal if N entries are unsealed, and anchor what was signed; errors are logged and tried again
        at the next tick (the minute's housekeeping still seals and anchors everything)."""
        try:
            if self.anchoring.audit.unsealed() >= self.entries:
                signed = self.anchoring.audit.seal(actor=SYSTEM) is not None or signed
            if signed:
                self.anchoring.anchor_pending()
        except Exception:
            log.exception("could not seal or anchor the audit trail; trying again in %s s", self.poll_s)

    def _loop(self) -> None:
        signed = self.anchoring.audit.signed
        while not self._stopped.is_set():
            woken = signed.wait(self.poll_s)
            signed.clear()
            self.tick(signed=woken)
