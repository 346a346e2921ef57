"""People's bookmarks and notes at a timecode of an item."""

from witnessbox.audit.service import AuditLog
from witnessbox.core.clock import Clock
from witnessbox.db.session import Database
from witnessbox.evidence.service import EvidenceService


class AnnotationService:
    """Add, list and remove bookmarks and notes; every change audited."""

    def __init__(self, db: Database, audit: AuditLog, clock: Clock, evidence: EvidenceService) -> None:
        self.db, self.audit, self.clock, self.evidence = db, audit, clock, evidence
