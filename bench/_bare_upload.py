"""The in-run baseline for uploads: the least a tus endpoint can do under uvicorn.

A raw ASGI app (no framework, no database, no auth) that speaks just enough tus
1.0 for tuspy: POST creates a file, each PATCH streams its body into the file
while hashing it, then fsyncs and answers the new offset; the last PATCH checks
the whole-file SHA-256 against the declared one. Hashing and writing happen
inline as each body message arrives.

Run by bench/ingest.py: `python bench/_bare_upload.py --port P --dir D`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass
class Upload:
    """One upload in progress: its file, declared length, running hash and offset."""

    path: Path
    length: int
    declared_sha256: str
    digest: Any
    offset: int = 0


class BareTus:
    """ASGI app: POST /files/, PATCH /files/{id}, GET /healthz."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.uploads: dict[str, Upload] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/healthz":
            await _answer(send, 200, {})
        elif method == "POST" and path.rstrip("/") == "/files":
            await self._create(headers, send)
        elif method == "PATCH" and path.startswith("/files/"):
            await self._patch(path.rsplit("/", 1)[-1], headers, receive, send)
        else:
            await _answer(send, 404, {})

    async def _create(self, headers: dict[str, str], send: Any) -> None:
        metadata = dict(part.strip().split(" ", 1) for part in headers.get("upload-metadata", "").split(","))
        upload_id = uuid.uuid4().hex
        path = self.directory / f"{upload_id}.part"
        path.touch()
        self.uploads[upload_id] = Upload(path, int(headers["upload-length"]),
                                         base64.b64decode(metadata["sha256"]).decode(), hashlib.sha256())
        await _answer(send, 201, {"Location": f"/files/{upload_id}", "Upload-Offset": "0"})

    async def _patch(self, upload_id: str, headers: dict[str, str], receive: Any, send: Any) -> None:
        upload = self.uploads[upload_id]
        if int(headers["upload-offset"]) != upload.offset:
            await _answer(send, 409, {"Upload-Offset": str(upload.offset)})
            return
        fd = os.open(upload.path, os.O_WRONLY)
        try:
            os.lseek(fd, upload.offset, os.SEEK_SET)
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body = message.get("body", b"")
                more = message.get("more_body", False)
                upload.digest.update(body)
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view):]
                upload.offset += len(body)
            os.fsync(fd)
        finally:
            os.close(fd)
        if upload.offset == upload.length and upload.digest.hexdigest() != upload.declared_sha256:
            await _answer(send, 460, {"Upload-Offset": str(upload.offset)})
            return
        await _answer(send, 204, {"Upload-Offset": str(upload.offset)})


async def _answer(send: Any, status_code: int, headers: dict[str, str]) -> None:
    raw = [(b"tus-resumable", b"1.0.0"), *((k.lower().encode(), v.encode()) for k, v in headers.items())]
    await send({"type": "http.response.start", "status": status_code, "headers": raw})
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    """Serve the bare endpoint on 127.0.0.1 until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="where uploaded files go")
    args = parser.parse_args()
    # Same uvicorn defaults as `witnessbox serve` (uvloop + httptools when installed).
    uvicorn.run(BareTus(args.dir), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
