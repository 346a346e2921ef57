"""Liveness, readiness and Prometheus metrics for the operations team."""

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import Response

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    """Alive and able to reach the database."""
    with request.app.state.evidence.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, and the app's own registries (figures read from the database)."""
    body = generate_latest()
    for registry in getattr(request.app.state, "metric_registries", ()):
        body += generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
