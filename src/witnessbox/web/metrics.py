"""This process's request and upload figures for Prometheus, kept by a plain ASGI middleware.

Requests are timed by route template (`/api/v1/items/{item_id}`), never by raw path, so the
number of series stays bounded. Upload bytes and failures are counted as they pass this process;
Prometheus sums them over instances. What other processes change (jobs, storage, audit) is read
from the database at scrape time instead (reports/metrics.py).
"""

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_ROUTE = "/api/v1/uploads/{upload_id}"
UNMATCHED = "unmatched"  # a path no route answers: one series for all of them
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class RequestMetrics:
    """The figures one app keeps, in a registry of its own (several apps in one test process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(
            "witnessbox_http_request_duration_seconds",
            "Time to answer a request, by route template",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upload_bytes = Counter(
            "witnessbox_upload_bytes_received",
            "Upload bytes received by this process",
            registry=self.registry,
        )
        self.uploads_active = Gauge(
            "witnessbox_uploads_active",
            "Upload requests sending bytes to this process now",
            registry=self.registry,
        )
        self.upload_failures = Counter(
            "witnessbox_upload_failures",
            "Upload requests refused or failed, by status",
            ["status"],
            registry=self.registry,
        )


class MeasureRequests:
    """ASGI middleware: times each request by its route and counts the bytes and failures of uploads."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500
        uploading = scope["method"] == "PATCH" and scope["path"].startswith("/api/v1/uploads/")

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.metrics.upload_bytes.inc(len(message.get("body", b"")))
            return message

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        if uploading:
            self.metrics.uploads_active.inc()
        try:
            await self.app(scope, counting_receive if uploading else receive, noting_send)
        finally:
            route = route_template(scope)
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )
            if uploading:
                self.metrics.uploads_active.dec()
            if route.startswith("/api/v1/uploads") and status >= 400:
                self.metrics.upload_failures.labels(str(status)).inc()


def route_template(scope: Scope) -> str:
    """The template of the route that answered (the router leaves it in the scope), not the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
