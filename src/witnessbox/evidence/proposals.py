"""Incident proposals: items a person may see that overlap an item in time and place."""

from witnessbox.core.clock import Clock
from witnessbox.db.session import Database
from witnessbox.evidence.incidents import Rule
from witnessbox.evidence.service import EvidenceService


class IncidentFinder:
    """Proposes the recordings of one incident by several cameras (rule: evidence.incidents)."""

    def __init__(self, db: Database, clock: Clock, evidence: EvidenceService, rule: Rule) -> None:
        self.db, self.clock, self.evidence, self.rule = db, clock, evidence, rule
