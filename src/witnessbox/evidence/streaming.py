"""Sending stored bytes with HTTP Range, a content-addressed ETag and the right lengths."""

import os
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from witnessbox.evidence.service import BlobAccess


class EvidenceFileResponse(FileResponse):
    """A FileResponse that sends in 1 MiB pieces (64 KiB halves throughput on large files)."""

    chunk_size = 1024 * 1024


def is_first_request(request: Request) -> bool:
    """Whether this request starts a play or download (no Range, or a Range from byte 0).

    A player issues many Range requests while seeking; only the first is audited as
    a play or download, the rest are the same viewing.
    """
    header = request.headers.get("range", "")
    return not header or header.replace(" ", "").startswith("bytes=0-")


def single_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a one-part `bytes=a-b` / `bytes=a-` header inside the file, else None.

    Anything else (suffix ranges, several parts, past the end) is left to FileResponse,
    which answers it in full (416, multipart).
    """
    unit, _, spec = header.replace(" ", "").partition("=")
    if unit != "bytes" or "," in spec:
        return None
    first, _, last = spec.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return None
    return start, end


class RangeResponse(Response):
    """A 206 read with os.pread from an open-per-request descriptor: no stat, no thread for small parts.

    FileResponse stats the file and reads every chunk in a worker thread; for a player's
    4 KiB-64 KiB ranges that overhead is most of the request. Parts above one chunk are
    read in a thread, one chunk at a time, so a slow disk never stalls the event loop.
    """

    chunk_size = 1024 * 1024
    inline_limit = 256 * 1024

    def __init__(
        self, path: str, start: int, end: int, size: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.path, self.start, self.end = path, start, end
        self.status_code = 206
        self.background = None
        self.raw_headers = [
            *headers,
            (b"content-range", f"bytes {start}-{end - 1}/{size}".encode()),
            (b"content-length", str(end - start).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            await send({"type": "http.response.start", "status": 206, "headers": self.raw_headers})
            if scope.get("method") == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            offset = self.start
            while offset < self.end:
                length = min(self.chunk_size, self.end - offset)
                if self.end - self.start <= self.inline_limit:
                    chunk = os.pread(fd, length, offset)
                else:
                    chunk = await anyio.to_thread.run_sync(os.pread, fd, length, offset)
                if not chunk:
                    raise OSError(f"{self.path} is shorter than its recorded size")
                offset += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": offset < self.end})
        finally:
            os.close(fd)


def byte_headers(access: BlobAccess, *, attachment: bool, cache_control: str) -> list[tuple[bytes, bytes]]:
    """The headers every answer with these bytes carries (ETag = SHA-256, decision 0003)."""
    disposition = "inline"
    if attachment:  # as FileResponse writes it
        quoted = quote(access.filename)
        disposition = (f'attachment; filename="{access.filename}"' if quoted == access.filename
                       else f"attachment; filename*=utf-8''{quoted}")
    return [
        (b"content-type", access.media_type.encode()),
        (b"accept-ranges", b"bytes"),
        (b"etag", f'"{access.sha256}"'.encode()),
        (b"cache-control", cache_control.encode()),
        (b"x-content-sha256", access.sha256.encode()),
        (b"content-disposition", disposition.encode("latin-1", "replace")),
    ]
