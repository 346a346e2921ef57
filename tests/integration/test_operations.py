"""What the operations team sees of a running server: Prometheus metrics scraped over HTTP and
parsed with prometheus_client's parser, request ids on responses and in JSON log lines, job ids in
the lines of jobs, and readiness naming the part that does not answer.

The figures other processes change (jobs, storage, audit) are compared with the database itself.
"""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import func, select, update
from tusclient.client import TusClient

from tests.conftest import LiveServer, free_port, fresh_database_url, settings_for
from tests.factories.faults import FailingStore, fault_proxy
from tests.factories.ingest import hold_jobs
from tests.factories.media import sha256_file, tiny_recording
from tests.factories.people import make_force
from tests.integration.test_tus_upload import _metadata, _wait_ready
from witnessbox.audit.models import AuditEvent
from witnessbox.bootstrap import Container, build
from witnessbox.core.actor import SYSTEM
from witnessbox.db.session import Database, make_engine
from witnessbox.evidence.models import Derivative, Item
from witnessbox.ingest.service import PROCESS_ITEM
from witnessbox.jobs.huey_queue import make_huey
from witnessbox.jobs.models import JobRecord, JobState
from witnessbox.web.app import create_app
from witnessbox.web.health import Readiness, readiness_checks

CAMERA = "WBX00001"


@dataclass
class JsonLoggingServer(LiveServer):
    """A live server configured for JSON log lines."""

    def env(self) -> dict[str, str]:
        """The usual environment, with log_format=json."""
        return {**super().env(), "WITNESSBOX_LOG_FORMAT": "json"}


@dataclass
class Running:
    """One server with one uploaded, ready recording, and a container on its database."""

    server: JsonLoggingServer
    container: Container
    token: str
    clip: Path
    item_id: str


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Start a server once for the module and dock one recording through tus (building it takes seconds)."""
    folder = tmp_path_factory.mktemp("operations")
    with fresh_database_url(folder) as database_url:
        settings = settings_for(folder, database_url)
        container = build(settings)
        make_force(container, camera=CAMERA)
        token = container.devices.register_dock("station-1", cameras=[CAMERA], actor=SYSTEM)[1]
        server = JsonLoggingServer(settings=settings, port=free_port(), log=folder / "server.log")
        server.start()
        try:
            clip = tiny_recording(folder / "camera", seconds=2)
            client = TusClient(f"{server.url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
            client.uploader(str(clip), chunk_size=64 * 1024, metadata=_metadata(clip)).upload()
            item = _wait_ready(server, token, sha256_file(clip))
            yield Running(server, container, token, clip, str(item["id"]))
        finally:
            server.stop()
            container.close()


def scrape(server: LiveServer) -> dict[str, list[Sample]]:
    """GET /metrics and parse it as Prometheus does: samples by family name."""
    response = httpx.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The one sample called `name` whose labels include `labels`."""
    [sample] = [s for s in samples if s.name == name and labels.items() <= s.labels.items()]
    return float(sample.value)


def test_metrics_tell_the_databases_truth_about_jobs_storage_and_audit(running: Running) -> None:
    """GIVEN a server that ingested one recording WHEN /metrics is scraped THEN jobs by state, evidence
    bytes by kind, audit entries and the last checkpoint match the database, and an old queued job's
    age shows."""
    container = running.container
    hold_jobs(container)  # the job below is never sent: it stays queued, as behind a stopped worker
    with container.db.transaction() as uow:
        waiting = container.jobs.enqueue(uow, PROCESS_ITEM, "no-such-item")
    with container.db.transaction() as uow:
        old = container.clock.now() - timedelta(minutes=5)
        uow.session.execute(update(JobRecord).where(JobRecord.id == waiting.id).values(created_at=old))
    with container.db.read() as session:
        entries_before = session.scalar(select(func.max(AuditEvent.seq)))
        counted = session.execute(select(JobRecord.state, func.count()).group_by(JobRecord.state))
        by_state = {str(state): int(n) for state, n in counted}
        originals = session.scalar(select(func.sum(Item.size)))
        derivatives = session.scalar(select(func.sum(Derivative.size)))
    metrics = scrape(running.server)
    jobs = metrics["witnessbox_jobs"]
    for state in JobState:
        assert value(jobs, "witnessbox_jobs", state=state) == by_state.get(state, 0)
    assert by_state[JobState.SUCCEEDED] >= 1 and by_state[JobState.QUEUED] == 1
    age = value(metrics["witnessbox_jobs_oldest_queued_age_seconds"], "witnessbox_jobs_oldest_queued_age_seconds")
    assert 300 <= age < 600
    stored = metrics["witnessbox_storage_bytes"]
    assert value(stored, "witnessbox_storage_bytes", kind="originals") == originals == running.clip.stat().st_size
    assert value(stored, "witnessbox_storage_bytes", kind="derivatives") == derivatives > 0
    assert value(metrics["witnessbox_audit_entries"], "witnessbox_audit_entries") >= (entries_before or 0) > 0
    assert "witnessbox_audit_last_checkpoint_timestamp_seconds" in metrics
    assert "witnessbox_scrub_open_findings" in metrics and "witnessbox_scrub_bytes_read" in metrics
    with container.db.transaction() as uow:
        uow.session.execute(update(JobRecord).where(JobRecord.id == waiting.id).values(state=JobState.FAILED))


def test_request_latency_is_by_route_template_and_uploads_are_counted(running: Running) -> None:
    """GIVEN requests for one item and a refused upload chunk WHEN /metrics is scraped THEN the latency
    histogram names the route template (never the item's id), the upload bytes received cover the
    recording, no upload is active, and the refusal is counted as an upload failure."""
    with running.server.owner() as owner:
        for _ in range(3):
            assert owner.get(f"/api/v1/items/{running.item_id}").status_code == 200
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {running.token}",
               "Content-Type": "application/offset+octet-stream", "Upload-Offset": "5"}
    refused = httpx.patch(f"{running.server.url}/api/v1/uploads/01NOSUCHUPLOAD0000000000000", headers=headers,
                          content=b"12345", timeout=30)
    assert refused.status_code in (404, 409)
    metrics = scrape(running.server)
    latency = metrics["witnessbox_http_request_duration_seconds"]
    routes = {s.labels["route"] for s in latency}
    assert "/api/v1/items/{item_id}" in routes and not any(running.item_id in route for route in routes)
    count = value(latency, "witnessbox_http_request_duration_seconds_count", route="/api/v1/items/{item_id}",
                  method="GET", status="200")
    assert count >= 3
    received = value(metrics["witnessbox_upload_bytes_received"], "witnessbox_upload_bytes_received_total")
    assert received >= running.clip.stat().st_size
    assert value(metrics["witnessbox_uploads_active"], "witnessbox_uploads_active") == 0
    failures = metrics["witnessbox_upload_failures"]
    assert value(failures, "witnessbox_upload_failures_total", status=str(refused.status_code)) >= 1


def test_request_ids_come_back_and_mark_every_json_log_line_of_their_request(running: Running) -> None:
    """GIVEN a sane X-Request-ID and an insane one WHEN requests are made THEN the sane one comes back and
    marks the request's JSON log lines, the insane one is replaced by a fresh id, and the ingest job's
    lines carry its job id."""
    given = "lb-7f3a9c.42"
    answer = httpx.get(f"{running.server.url}/healthz", headers={"X-Request-ID": given}, timeout=30)
    assert answer.headers["x-request-id"] == given
    insane = httpx.get(f"{running.server.url}/healthz", headers={"X-Request-ID": "a b;<script>" + "x" * 80})
    replaced = insane.headers["x-request-id"]
    assert len(replaced) == 32 and all(c in "0123456789abcdef" for c in replaced)
    lines = _json_lines(running.server.log, until=lambda ls: any(line.get("request_id") == given for line in ls))
    mine = [line for line in lines if line.get("request_id") == given]
    assert mine and all("/healthz" in line["message"] for line in mine)
    assert {"time", "level", "logger", "message"} <= mine[0].keys()
    with running.container.db.read() as session:
        job_id = session.scalar(select(JobRecord.id).where(JobRecord.subject_id == running.item_id))
    job_lines = [line for line in lines if line.get("job_id") == job_id]
    assert any("succeeded" in line["message"] for line in job_lines)
    assert all("request_id" not in line for line in job_lines)


def _json_lines(log: Path, until: Callable[[list[dict[str, object]]], bool],
                timeout: float = 10) -> list[dict[str, object]]:
    """The server's log lines that are JSON objects (waiting briefly for the last ones to be written)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [json.loads(raw) for raw in log.read_text().splitlines() if raw.startswith("{")]
        if until(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_ready_answers_200_when_the_database_queue_and_store_answer(running: Running) -> None:
    """GIVEN a healthy server WHEN /health/ready is asked THEN 200 with every check ok."""
    answer = httpx.get(f"{running.server.url}/health/ready", timeout=30)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok", "queue": "ok", "store": "ok"}}


def test_ready_is_503_naming_each_part_that_fails_or_stalls(container: Container) -> None:
    """GIVEN a database behind a stalled connection, a queue whose connections are reset, and a store
    answering EIO WHEN /health/ready is asked THEN 503 within about one timeout, naming all three and why."""
    app = create_app(container)
    with fault_proxy(("127.0.0.1", free_port())) as stalled, fault_proxy(("127.0.0.1", free_port())) as cut:
        stalled.fail("stall", seconds=30)
        cut.fail("cut", seconds=30)
        database = Database(make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{stalled.port}/test"))
        queue = make_huey(f"redis://127.0.0.1:{cut.port}/0", name="ready-test")
        store = FailingStore(container.evidence.blobs, 5, frozenset({"exists"}))
        app.state.readiness = Readiness(readiness_checks(database, queue.storage.queue_size, store), 1.0)
        started = time.monotonic()
        answer = TestClient(app).get("/health/ready")
        took = time.monotonic() - started
        database.engine.dispose()
    assert answer.status_code == 503 and answer.json()["status"] == "unready"
    checks = answer.json()["checks"]
    assert checks["database"] == "no answer within 1 s"
    assert "ConnectionError" in checks["queue"] or "reset" in checks["queue"].lower()
    assert "StorageUnavailable" in checks["store"] and "Input/output error" in checks["store"]
    assert took < 3
