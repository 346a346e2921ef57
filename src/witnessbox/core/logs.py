"""Log lines that say which request or job they belong to, as text or as one JSON object a line.

The request id (web middleware) and the job id (job runner) live in context variables, so every
line logged while a request or job runs carries them, whichever module logs it and whichever
thread the work moved to (Starlette copies the context into its thread pool).
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("witnessbox_request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("witnessbox_job_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class ContextFilter(logging.Filter):
    """Copies the current request and job ids onto each record (attributes request_id, job_id, context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request, job = request_id.get(), job_id.get()
        parts = [f"request={request}"] if request else []
        parts += [f"job={job}"] if job else []
        context = f" [{' '.join(parts)}]" if parts else ""
        record.__dict__.update(request_id=request, job_id=job, context=context)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request and job ids, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "job_id"):
            value = getattr(record, key, None)
            if value:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger's lines (uvicorn's too) to standard error in the chosen format."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()  # their lines reach the root handler, in the same format
        uvicorn_logger.propagate = True


@contextmanager
def job_context(job: str) -> Iterator[None]:
    """Tag the lines logged while a job runs with its id."""
    token = job_id.set(job)
    try:
        yield
    finally:
        job_id.reset(token)
