"""Job handlers for redaction: finding faces and rendering, with their give-ups and clean-ups."""

from witnessbox.jobs.runner import JobKind, JobRunner
from witnessbox.redaction.service import DETECT_FACES, RENDER_REDACTED, RedactionService


def register_redaction_jobs(runner: JobRunner, redaction: RedactionService) -> None:
    """Make face detection and rendering runnable as jobs."""
    runner.register(
        DETECT_FACES,
        JobKind(
            handler=redaction.detect,
            max_attempts=2,
            on_give_up=redaction.give_up_detection,
            on_reclaim=redaction.discard_scratch,
        ),
    )
    runner.register(
        RENDER_REDACTED,
        JobKind(
            handler=redaction.render,
            max_attempts=3,
            on_give_up=redaction.give_up_render,
            on_reclaim=redaction.discard_scratch,
        ),
    )
