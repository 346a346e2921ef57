"""The embedded byte path's fast lane: a repeat range request answered from this process's grant.

A player asks for many ranges of one recording. The first (and any from byte 0) goes through
the app: authentication, the policy decision, the audit entry (decision 0003). That answer leaves
a grant (evidence/offload.py, `ByteGrants`) keyed by the request's path and exact credentials; a
later range with the same path and credentials, within `byte_grant_seconds`, is read here with
os.pread and sent without routing, dependencies, the database or a worker thread (decision 0029).

Any state-changing request this process answers (a sign-out, a revoked share, a restriction)
forgets every grant at once; other processes honour the bound.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from witnessbox.evidence.offload import ByteGrants
from witnessbox.evidence.streaming import RangeResponse, single_range

SAFE_METHODS = frozenset({"GET", "HEAD"})
UPLOADS = "/api/v1/uploads"  # tus chunks change no one's access


class ByteFastPath:
    """Serves granted repeat ranges directly; forgets grants after any state change."""

    def __init__(self, app: ASGIApp, grants: ByteGrants) -> None:
        self.app = app
        self.grants = grants

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS:
            answer = self._granted(scope)
            if answer is not None:
                await answer(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(UPLOADS):
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.grants.forget_all()

    def _granted(self, scope: Scope) -> RangeResponse | None:
        wanted = authorization = cookie = b""
        for name, value in scope["headers"]:
            if name == b"range":
                wanted = value
            elif name == b"authorization":
                authorization = value
            elif name == b"cookie":
                cookie = value
            elif name == b"if-range":
                return None  # the app compares validators
        if not wanted or wanted.replace(b" ", b"").startswith(b"bytes=0-"):
            return None  # no range, or the start of a viewing: the app authorises and audits it
        grant = self.grants.find((scope["path"], authorization, cookie))
        if grant is None:
            return None
        part = single_range(wanted.decode("latin-1"), grant.size)
        if part is None:
            return None
        return RangeResponse(grant.path, part[0], part[1], grant.size, grant.headers)
