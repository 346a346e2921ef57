"""The system's figures for Prometheus (jobs, storage, audit), read from the database at each scrape.

Jobs run in workers and audit entries come from every instance, so counters kept in one process
would tell only that process's story; the database knows the whole one (decision 0031).
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from witnessbox.reports.system import SystemOverview


class SystemCollector(Collector):
    """Jobs by state and the oldest queued one's age; evidence bytes by kind; audit entries and checkpoint."""

    def __init__(self, system: SystemOverview) -> None:
        self.system = system

    def collect(self) -> Iterator[Metric]:
        """One short database read per scrape."""
        figures = self.system.measures()
        jobs = GaugeMetricFamily("witnessbox_jobs", "Jobs by state", labels=["state"])
        for state, count in sorted(figures.jobs_by_state.items()):
            jobs.add_metric([state], count)
        yield jobs
        yield GaugeMetricFamily(
            "witnessbox_jobs_oldest_queued_age_seconds",
            "How long the oldest queued job has waited (0: none waits)",
            value=figures.oldest_queued_age_s,
        )
        stored = GaugeMetricFamily(
            "witnessbox_storage_bytes", "Evidence bytes stored, by kind", labels=["kind"]
        )
        stored.add_metric(["originals"], figures.storage.originals_bytes)
        stored.add_metric(["derivatives"], figures.storage.derivatives_bytes)
        yield stored
        if figures.storage.disk_free_bytes is not None:
            yield GaugeMetricFamily(
                "witnessbox_data_disk_free_bytes",
                "Free space where the data directory lives",
                value=figures.storage.disk_free_bytes,
            )
        yield GaugeMetricFamily(
            "witnessbox_audit_entries", "Entries in the audit trail", value=figures.audit_entries
        )
        checkpoint = figures.last_checkpoint_at.timestamp() if figures.last_checkpoint_at else 0.0
        yield GaugeMetricFamily(
            "witnessbox_audit_last_checkpoint_timestamp_seconds",
            "When the last signed checkpoint was made (0: none yet)",
            value=checkpoint,
        )


def system_registry(system: SystemOverview) -> CollectorRegistry:
    """A registry of its own per app, so several apps in one process (tests) never clash."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(system))
    return registry
