"""Liveness, readiness and Prometheus metrics for the operations team."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from witnessbox.db.session import Database
from witnessbox.storage.base import BlobStore

router = APIRouter(tags=["operations"])
PROBE_BLOB = "0" * 64  # asked whether it exists: the cheapest question a store answers


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    """Alive and able to reach the database."""
    with request.app.state.evidence.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/health/ready", include_in_schema=False)
def ready(request: Request) -> Response:
    """Ready for traffic: the database, the job queue and the evidence store each answered in time.

    503 names the part that did not, so a load balancer takes this instance out and a person can see why.
    """
    readiness: Readiness = request.app.state.readiness
    failures = readiness.check()
    checks = {name: failures.get(name, "ok") for name in readiness.checks}
    status = 503 if failures else 200
    return JSONResponse({"status": "unready" if failures else "ready", "checks": checks}, status_code=status)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, and the app's own registries (figures read from the database)."""
    body = generate_latest()
    for registry in getattr(request.app.state, "metric_registries", ()):
        body += generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@dataclass
class Readiness:
    """Named cheap checks, each given `timeout_s` in a thread of its own; a check passes by returning."""

    checks: dict[str, Callable[[], object]]
    timeout_s: float

    def check(self) -> dict[str, str]:
        """The failed checks and why (empty when all passed); all run at once, so the wait is one timeout."""
        outcomes: dict[str, str] = {}
        threads = {name: _start(name, probe, outcomes) for name, probe in self.checks.items()}
        for thread in threads.values():
            thread.join(self.timeout_s)
        failures = {}
        for name in threads:
            outcome = outcomes.get(name)
            if outcome is None:
                failures[name] = f"no answer within {self.timeout_s:g} s"
            elif outcome != "ok":
                failures[name] = outcome
        return failures


def _start(name: str, probe: Callable[[], object], outcomes: dict[str, str]) -> threading.Thread:
    def run() -> None:
        try:
            probe()
        except Exception as error:  # noqa: BLE001 - any failure of the part is the answer we report
            outcomes[name] = f"{type(error).__name__}: {str(error)[:200]}"
            return
        outcomes[name] = "ok"

    thread = threading.Thread(target=run, name=f"witnessbox-ready-{name}", daemon=True)
    thread.start()
    return thread


def readiness_checks(
    db: Database, queue_size: Callable[[], object], blobs: BlobStore
) -> dict[str, Callable[[], object]]:
    """The three parts an instance needs: a SELECT 1, the queue's length, whether one blob exists."""

    def database() -> None:
        with db.read() as session:
            session.execute(text("SELECT 1"))

    return {"database": database, "queue": queue_size, "store": lambda: blobs.exists(PROBE_BLOB)}
