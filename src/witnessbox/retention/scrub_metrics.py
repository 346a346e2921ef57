"""The integrity scrub's figures for Prometheus, read from the database at each scrape.

Read at scrape time rather than counted in memory: the scrub runs in whichever worker took the
tick, while /metrics is answered by the web server, so only the database knows the whole story.
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from witnessbox.retention.scrub import ScrubService


class ScrubCollector(Collector):
    """Open findings by kind, the last whole pass, and what all passes have re-read."""

    def __init__(self, scrub: ScrubService) -> None:
        self.scrub = scrub

    def collect(self) -> Iterator[Metric]:
        """One database read per scrape."""
        summary = self.scrub.measures()
        objects, read, passes = self.scrub.totals()
        open_findings = GaugeMetricFamily(
            "witnessbox_scrub_open_findings",
            "Integrity findings not acknowledged nor cleared",
            labels=["kind"],
        )
        for kind, count in sorted(summary.open_by_kind.items()):
            open_findings.add_metric([kind], count)
        yield open_findings
        yield GaugeMetricFamily(
            "witnessbox_scrub_acknowledged_findings",
            "Findings an administrator answered",
            value=summary.acknowledged,
        )
        last = summary.last_complete
        finished = last.finished_at.timestamp() if last and last.finished_at else 0.0
        yield GaugeMetricFamily(
            "witnessbox_scrub_last_complete_pass_timestamp_seconds",
            "When the last whole pass ended",
            value=finished,
        )
        rate = last.bytes_read / last.read_seconds if last and last.read_seconds else 0.0
        yield GaugeMetricFamily(
            "witnessbox_scrub_read_rate_bytes_per_second", "Re-read rate of the last whole pass", value=rate
        )
        yield CounterMetricFamily("witnessbox_scrub_objects_checked", "Stored objects re-read", value=objects)
        yield CounterMetricFamily("witnessbox_scrub_bytes_read", "Bytes re-read by the scrub", value=read)
        yield CounterMetricFamily("witnessbox_scrub_passes_completed", "Whole scrub passes", value=passes)


def scrub_registry(scrub: ScrubService) -> CollectorRegistry:
    """A registry of its own per app, so several apps in one process (tests) never clash."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrubCollector(scrub))
    return registry
