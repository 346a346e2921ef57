"""The periodic retention sweep: a thin handler over the service (scheduled in bootstrap)."""

from witnessbox.retention.schemas import SweepOutcome
from witnessbox.retention.service import RetentionService


def run_sweep(retention: RetentionService) -> SweepOutcome:
    """Compute due dates, warn, recycle, rescue held items and purge; idempotent, safe to rerun."""
    return retention.sweep()
