"""Job handlers for ingest: thin wrappers over the pipeline and the upload service."""

from witnessbox.ingest.pipeline import Pipeline
from witnessbox.ingest.service import PROCESS_ITEM
from witnessbox.jobs.runner import JobKind, JobRunner


def register_ingest_jobs(runner: JobRunner, pipeline: Pipeline) -> None:
    """Make the ingest pipeline runnable as a job."""
    runner.register(
        PROCESS_ITEM,
        JobKind(
            handler=pipeline.process,
            max_attempts=3,
            on_give_up=pipeline.give_up,
            on_reclaim=pipeline.discard_scratch,
        ),
    )
