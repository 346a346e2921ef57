"""Plain ASGI middleware: a request id on every request, security headers on every response.

Plain ASGI rather than Starlette's @app.middleware("http"), whose wrapper costs a
task group per body message: uploads stream thousands of them.
"""

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from witnessbox.core import logs

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000"
# A caller's id is kept only when it is short and plain: it goes into every log line of the request.
SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,64}")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID when present and sane (a proxy's id ties its log to ours), else a new one."""
    given = dict(headers).get(b"x-request-id", b"")
    if SANE_REQUEST_ID.fullmatch(given):
        return given.decode("ascii")
    return uuid.uuid4().hex


class RequestContext:
    """Tags each request with an id (the caller's X-Request-ID or a new one) and secures responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if secure:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        token = logs.request_id.set(request_id)  # every line logged for this request carries it
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            logs.request_id.reset(token)
