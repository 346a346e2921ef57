"""Where bytes go once the app has authorised and audited a play or download (decision 0029).

Three byte paths, chosen by the `byte_path` setting:

* "app" (the embedded default): the app sends the bytes itself. The answer leaves a short-lived
  grant in this process (`ByteGrants`), so the same caller's next range requests are served by
  web/offload.py without authenticating, deciding or touching the database again.
* "nginx": the app answers with `X-Accel-Redirect` into nginx's internal location (the local
  store), or to nginx proxying the object store's signed URL. A play is redirected to a signed
  `/bytes/` grant that nginx checks itself (`secure_link`), so the player's ranges never reach
  Python; when the grant expires nginx sends the player back here to be authorised again.
* "signed": a redirect to the object store's own signed URL.

Every grant lives at most `byte_grant_seconds`: an ended session or a revoked share stops
bytes within that bound, whichever path is in use.
"""

import base64
import hashlib
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from witnessbox.config import Settings
from witnessbox.core.actor import Actor
from witnessbox.core.errors import Conflict, NotFound
from witnessbox.evidence.service import BlobAccess
from witnessbox.evidence.streaming import EvidenceFileResponse, RangeResponse, byte_headers, single_range
from witnessbox.storage import BlobStore

INTERNAL_BLOBS = "/_witnessbox/blobs/"  # nginx's internal location aliased to the store root
INTERNAL_OBJECTS = "/_witnessbox/objects/"  # nginx's internal location proxying the object store
GRANTS = "/bytes/"  # signed grants nginx checks with secure_link
PRIVATE = "private, max-age=3600"
NO_STORE = "no-store"
_PLAIN_PATH = re.compile(r"^/[A-Za-z0-9/_.-]{1,300}$")
GrantKey = tuple[str, bytes, bytes]


@runtime_checkable
class SignsUrls(Protocol):
    """A store that can hand out a time-limited URL for one object (the S3 store)."""

    def signed_url(
        self, sha256: str, *, expires_s: int, filename: str | None, media_type: str, attachment: bool
    ) -> str | None: ...


@dataclass(frozen=True)
class Grant:
    """What a repeat range request by the same caller may be served without asking again."""

    path: str
    size: int
    headers: list[tuple[bytes, bytes]]
    deadline: float  # time.monotonic()


class ByteGrants:
    """This process's short-lived grants, keyed by (path, Authorization, Cookie) of the request.

    A grant is made only by a request the app authorised; it is found only by a request with
    exactly the same credentials for exactly the same path. It lives `seconds` at most (the
    revocation bound), less when the access itself ends sooner (a share's end). Any state change
    in this process (web/offload.py) forgets them all, so a revocation made here applies at once.
    """

    def __init__(self, seconds: float, limit: int = 10_000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._grants: dict[GrantKey, Grant] = {}
        self._lock = threading.Lock()

    def remember(
        self, key: GrantKey, path: Path, access: BlobAccess, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Grant the caller repeat ranges of these bytes until the bound (or the access's end)."""
        lifetime = float(self.seconds)
        if access.until is not None:
            until = access.until if access.until.tzinfo else access.until.replace(tzinfo=UTC)
            lifetime = min(lifetime, (until - datetime.now(UTC)).total_seconds())
        if lifetime <= 0:
            return
        grant = Grant(str(path), access.size, headers, time.monotonic() + lifetime)
        with self._lock:
            if len(self._grants) >= self.limit:
                self._drop_expired()
            if len(self._grants) < self.limit:
                self._grants[key] = grant

    def find(self, key: GrantKey) -> Grant | None:
        """The live grant for these credentials and path, if any."""
        grant = self._grants.get(key)
        if grant is None:
            return None
        if grant.deadline <= time.monotonic():
            with self._lock:
                self._grants.pop(key, None)
            return None
        return grant

    def forget_all(self) -> None:
        """Drop every grant (something changed: a sign-out, a revoked share, a restriction)."""
        with self._lock:
            self._grants.clear()

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [key for key, grant in self._grants.items() if grant.deadline <= now]:
            del self._grants[key]


def grant_key(scope: Any) -> GrantKey:
    """The key of a request: its path and its exact credentials."""
    authorization = cookie = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
        elif name == b"cookie":
            cookie = value
    return scope["path"], authorization, cookie


def grant_secret(settings: Settings) -> str:
    """The key shared with nginx for /bytes/ grants: the setting, or one made once in the data directory."""
    if settings.byte_grant_secret is not None:
        return settings.byte_grant_secret.get_secret_value()
    path = settings.data_dir.resolve() / "byte-grant-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
    for _ in range(50):  # the process that made it may not have written it yet
        secret = path.read_text().strip()
        if secret:
            return secret
        time.sleep(0.01)
    raise Conflict(f"{path} is empty: delete it and start again")


def store_root(settings: Settings) -> Path | None:
    """The local store's root directory (None for an object store)."""
    url = urlparse(settings.resolved_storage_url())
    return Path(unquote(url.path)) if url.scheme == "file" else None


def grant_mac(secret: str, expires: int, cache: str, binding: str, sha256: str, origin: str) -> str:
    """What nginx's `secure_link_md5 "$expires$cache$binding$sha256$arg_from <secret>"` computes."""
    text = f"{expires}{cache}{binding}{sha256}{origin} {secret}".encode()
    digest = hashlib.md5(text, usedforsecurity=False).digest()  # nginx's secure_link has only MD5
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def grant_url(settings: Settings, access: BlobAccess, *, binding: str, private: bool, origin: str) -> str:
    """A /bytes/ URL nginx serves until `byte_grant_seconds` from now, then sends back to `origin`."""
    expires = int(time.time()) + settings.byte_grant_seconds
    cache = "private" if private else "nostore"
    bound = hashlib.sha256(binding.encode()).hexdigest()[:16]
    mac = grant_mac(grant_secret(settings), expires, cache, bound, access.sha256, origin)
    return f"{GRANTS}{expires}/{mac}/{cache}/{bound}/{access.sha256}.mp4?from={origin}"


def send_blob(request: Request, blobs: BlobStore, access: BlobAccess, *, actor: Actor, attachment: bool,
              private: bool = True) -> Response:
    """The answer to an authorised (and, when it starts a viewing, audited) byte request."""
    settings: Settings = request.app.state.settings
    cache_control = PRIVATE if private else NO_STORE
    if settings.byte_path == "signed":
        return _redirect(_signed(blobs, access, settings, attachment=attachment))
    path = blobs.local_path(access.sha256)
    if settings.byte_path == "nginx":
        return _to_nginx(request, settings, blobs, access, path, actor=actor, attachment=attachment,
                         private=private)
    if path is None:
        raise NotFound("this store sends bytes through signed URLs: set byte_path to signed or nginx")
    headers = byte_headers(access, attachment=attachment, cache_control=cache_control)
    grants: ByteGrants | None = getattr(request.app.state, "byte_grants", None)
    if grants is not None:
        grants.remember(grant_key(request.scope), path, access, headers)
    wanted = "" if "if-range" in request.headers else request.headers.get("range", "")
    part = single_range(wanted, access.size)
    if part is not None:
        return RangeResponse(str(path), part[0], part[1], access.size, headers)
    return EvidenceFileResponse(
        path, media_type=access.media_type, filename=access.filename if attachment else None,
        content_disposition_type="attachment" if attachment else "inline",
        headers={"ETag": f'"{access.sha256}"', "Cache-Control": cache_control,
                 "X-Content-SHA256": access.sha256},
    )


def _to_nginx(
    request: Request, settings: Settings, blobs: BlobStore, access: BlobAccess, path: Path | None,
    *, actor: Actor, attachment: bool, private: bool,
) -> Response:
    origin = request.url.path
    if path is None:  # an object store: nginx fetches the signed URL for the client
        target = urlparse(_signed(blobs, access, settings, attachment=attachment))
        query = f"?{target.query}" if target.query else ""
        location = INTERNAL_OBJECTS + target.path.lstrip("/") + query
        return _accel(location, access, attachment=attachment, private=private)
    root = store_root(settings)
    if root is None or not path.is_relative_to(root):
        raise Conflict(f"the byte path is nginx but {path} is outside the store nginx serves")
    if not attachment and access.media_type == "video/mp4" and _PLAIN_PATH.match(origin):
        binding = actor.session_id or actor.id
        return _redirect(grant_url(settings, access, binding=binding, private=private, origin=origin))
    location = INTERNAL_BLOBS + str(path.relative_to(root))
    return _accel(location, access, attachment=attachment, private=private)


def _accel(location: str, access: BlobAccess, *, attachment: bool, private: bool) -> Response:
    headers = {name.decode(): value.decode("latin-1")
               for name, value in byte_headers(access, attachment=attachment,
                                               cache_control=PRIVATE if private else NO_STORE)}
    headers.pop("accept-ranges")
    return Response(status_code=200, headers={**headers, "X-Accel-Redirect": location})


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": NO_STORE})


def _signed(blobs: BlobStore, access: BlobAccess, settings: Settings, *, attachment: bool) -> str:
    url = None
    if isinstance(blobs, SignsUrls):
        url = blobs.signed_url(access.sha256, expires_s=settings.byte_grant_seconds,
                               filename=access.filename if attachment else None,
                               media_type=access.media_type, attachment=attachment)
    if url is None:
        raise Conflict("this store cannot sign URLs: set byte_path to app or nginx")
    return url
