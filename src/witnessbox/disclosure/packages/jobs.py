"""Job handlers for disclosure packages: the build, its give-up and its clean-up."""

from witnessbox.disclosure.packages.service import BUILD_PACKAGE, PackageService
from witnessbox.jobs.runner import JobKind, JobRunner


def register_package_jobs(runner: JobRunner, packages: PackageService) -> None:
    """Make building a package runnable as a job."""
    runner.register(
        BUILD_PACKAGE,
        JobKind(
            handler=packages.build,
            max_attempts=3,
            on_give_up=packages.give_up,
            on_reclaim=packages.discard_partial,
        ),
    )
