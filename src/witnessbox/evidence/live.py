"""Live updates: what happened since a point in the audit trail that a person may be told of."""

from witnessbox.core.clock import Clock
from witnessbox.db.session import Database


class LiveFeed:
    """Reads new uploads, finished proxies and shares from the audit trail, filtered per person."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
