"""Faults on purpose: a loopback fault proxy, and a local store whose disk fails.

The proxy stands in front of a real server (the S3 server, Redis, PostgreSQL) and, for a while
when told, answers HTTP requests with 500/503, stalls past the client's timeout, or cuts
connections; otherwise it passes bytes through untouched.

    with fault_proxy(("127.0.0.1", s3_port)) as proxy:
        store = S3BlobStore(endpoint=proxy.url, ...)
        proxy.fail("error", seconds=5, status=503)  # every request for 5 s gets a 503
        proxy.fail("stall", seconds=5)             # requests go unanswered for 5 s, then are cut
        proxy.fail("cut", seconds=5)               # connections are reset, new ones too, for 5 s

A mode applies to connections already open as well as to new ones: a pooled keep-alive connection
meets the fault at its next request, as it would if the server itself failed.
"""

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from witnessbox.core.errors import io_failure
from witnessbox.ingest.service import PROCESS_ITEM
from witnessbox.storage.base import BlobInfo, BlobKind, StoredObject

MODES = ("error", "stall", "cut")
REASONS = {500: ("Internal Server Error", "InternalError"), 503: ("Service Unavailable", "SlowDown")}
TICK_S = 0.05


@dataclass
class FaultProxy:
    """The proxy's listening address, its current fault and what it did (`faults` counts requests it spoilt)."""

    upstream: tuple[str, int]
    port: int = 0
    mode: str | None = None
    status: int = 503
    until: float = 0.0
    faults: int = 0
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>, for an HTTP client's endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def fail(self, mode: str, seconds: float, status: int = 503) -> None:
        """Misbehave in `mode` for `seconds` from now (status: the HTTP answer in "error" mode)."""
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {MODES}")
        with self._lock:
            self.mode, self.status, self.until = mode, status, time.monotonic() + seconds

    def heal(self) -> None:
        """Pass everything through again now."""
        with self._lock:
            self.mode, self.until = None, 0.0

    def current(self) -> str | None:
        """The fault in force now, if any."""
        with self._lock:
            if self.mode is not None and time.monotonic() >= self.until:
                self.mode = None
            return self.mode

    def _count(self) -> None:
        with self._lock:
            self.faults += 1


@contextlib.contextmanager
def fault_proxy(upstream: tuple[str, int]) -> Iterator[FaultProxy]:
    """Run a fault proxy to `upstream` on a free loopback port until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TICK_S)
    proxy = FaultProxy(upstream=upstream, port=listener.getsockname()[1])
    acceptor = threading.Thread(target=_accept, args=(proxy, listener), daemon=True, name="fault-proxy")
    acceptor.start()
    try:
        yield proxy
    finally:
        proxy._stopping.set()
        acceptor.join(5)
        listener.close()


def _accept(proxy: FaultProxy, listener: socket.socket) -> None:
    while not proxy._stopping.is_set():
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        proxy.connections += 1
        threading.Thread(target=_serve, args=(proxy, client), daemon=True, name="fault-proxy-conn").start()


def _serve(proxy: FaultProxy, client: socket.socket) -> None:
    """Carry one client connection: forward while healthy, hand it to the fault when one is in force."""
    client.settimeout(TICK_S)
    upstream: socket.socket | None = None
    closed = threading.Event()
    try:
        pending = b""
        while not proxy._stopping.is_set() and not closed.is_set():
            mode = proxy.current()
            if mode is not None:
                _misbehave(proxy, mode, client, pending)
                return
            if pending:
                if upstream is None:
                    upstream = socket.create_connection(proxy.upstream, timeout=5)
                    threading.Thread(
                        target=_back, args=(proxy, upstream, client, closed), daemon=True
                    ).start()
                upstream.sendall(pending)
                pending = b""
            try:
                pending = client.recv(65536)
            except TimeoutError:
                continue
            if not pending:
                return
    except OSError:
        return
    finally:
        closed.set()
        for end in (client, upstream):
            if end is not None:
                with contextlib.suppress(OSError):
                    end.close()


def _back(proxy: FaultProxy, upstream: socket.socket, client: socket.socket, closed: threading.Event) -> None:
    """Carry the server's answers back to the client."""
    upstream.settimeout(TICK_S)
    while not closed.is_set() and not proxy._stopping.is_set():
        try:
            data = upstream.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not data:
            break
        try:
            client.sendall(data)
        except OSError:
            break
    closed.set()


def _misbehave(proxy: FaultProxy, mode: str, client: socket.socket, pending: bytes) -> None:
    if mode == "cut":
        proxy._count()
        client.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )  # a reset, not a close
        return
    if mode == "stall":
        proxy._count()
        while proxy.current() == "stall" and not proxy._stopping.is_set():
            time.sleep(TICK_S)
        return
    _answer_error(proxy, client, pending)


def _answer_error(proxy: FaultProxy, client: socket.socket, pending: bytes) -> None:
    """Read one HTTP request (its body too, unless it waits for 100-continue) and answer it with the error."""
    head = _read_head(proxy, client, pending)
    if head is None:
        return
    header_block, body_start = head
    headers = _headers(header_block)
    if "100-continue" not in headers.get("expect", "").lower():
        _drain(proxy, client, int(headers.get("content-length", "0") or 0) - len(body_start))
    status = proxy.status
    reason, code = REASONS.get(status, ("Error", "InternalError"))
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>fault injected by the test proxy</Message></Error>"
    ).encode()
    answer = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n"
    ).encode()
    proxy._count()
    with contextlib.suppress(OSError):
        client.sendall(answer + body)


def _read_head(proxy: FaultProxy, client: socket.socket, data: bytes) -> tuple[bytes, bytes] | None:
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in data:
        if time.monotonic() > deadline or proxy._stopping.is_set():
            return None
        try:
            more = client.recv(65536)
        except TimeoutError:
            continue
        if not more:
            return None
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _headers(block: bytes) -> dict[str, str]:
    lines = block.decode("latin-1").split("\r\n")[1:]
    return {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}


def _drain(proxy: FaultProxy, client: socket.socket, remaining: int) -> None:
    deadline = time.monotonic() + 10
    while remaining > 0 and time.monotonic() < deadline and not proxy._stopping.is_set():
        try:
            data = client.recv(min(remaining, 65536))
        except TimeoutError:
            continue
        if not data:
            return
        remaining -= len(data)


# --- a local store whose disk fails --------------------------------------------------------------


class FailingStore:
    """A real BlobStore whose disk fails, for a while, under the operations named.

    Every call goes to the real store; a failing one raises what that store raises at its seam
    when the filesystem returns `error` (ENOSPC, EIO) to the call: `io_failure(OSError)`, i.e.
    InsufficientStorage or StorageUnavailable. A failing read yields the real first chunk and
    then fails, as a bad sector halfway through a file does. Used where no real disk can be made
    to fail (EIO); a full disk is made for real with a small tmpfs (tests/integration/test_full_disk.py).
    """

    def __init__(self, inner: Any, error: int, operations: frozenset[str]) -> None:
        self.inner, self.error, self.operations = inner, error, set(operations)
        self.failures = 0

    def heal(self) -> None:
        """The disk works again."""
        self.operations.clear()

    def _fails(self, operation: str) -> None:
        if operation in self.operations:
            self.failures += 1
            raise io_failure(OSError(self.error, os.strerror(self.error)), f"{operation} in the evidence store")

    def put(self, chunks: Iterable[bytes], *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        self._fails("put")
        return cast(BlobInfo, self.inner.put(chunks, kind=kind))

    def adopt(self, path: Path, sha256: str, *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        self._fails("adopt")
        return cast(BlobInfo, self.inner.adopt(path, sha256, kind=kind))

    def exists(self, sha256: str) -> bool:
        self._fails("exists")
        return bool(self.inner.exists(sha256))

    def size(self, sha256: str) -> int:
        self._fails("size")
        return int(self.inner.size(sha256))

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        chunks = self.inner.read(sha256, start, end)
        if "read" in self.operations:
            yield next(chunks, b"")
        self._fails("read")
        yield from chunks

    def local_path(self, sha256: str) -> Path | None:
        self._fails("local_path")
        return cast(Path | None, self.inner.local_path(sha256))

    def delete(self, sha256: str) -> None:
        self._fails("delete")
        self.inner.delete(sha256)

    def listing(self, after: str = "") -> Iterator[StoredObject]:
        self._fails("listing")
        yield from self.inner.listing(after)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # what later stores add (legal holds, signed URLs, worm)


def use_store(container: Any, store: Any) -> None:
    """Put `store` under every service of a built system that reaches the evidence store."""
    pipeline = container.jobs.kinds[PROCESS_ITEM].handler.__self__
    for holder in (container.evidence, container.ingest, pipeline, container.packages, container.retention,
                   container.scrub):
        holder.blobs = store
