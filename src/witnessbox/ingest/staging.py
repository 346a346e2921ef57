"""Partial uploads on disk: append with hashing overlapped with writing, resume after restarts.

Each upload has one staging file. Bytes are appended, fsynced, and only then is
the offset recorded; so after any crash the recorded offset never exceeds what
is on disk, and extra bytes past it are cut off before resuming. A write that
fails (a full disk, an I/O error) is cut back to the recorded offset and becomes
a 507 or 503 with the reason: the client resumes from HEAD's offset later.
"""

import asyncio
import fcntl
import hashlib
import hmac
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from witnessbox.core.errors import ChecksumMismatch, Conflict, io_failure

log = logging.getLogger(__name__)
BLOCK = 8 * 1024 * 1024  # large blocks: few thread hand-offs, hashing and writing stay busy
REHASH_CHUNK = 8 * 1024 * 1024


@dataclass
class RunningHash:
    """A SHA-256 over the first `offset` bytes of an upload."""

    digest: Any
    offset: int


class Staging:
    """The directory of partial uploads, and the running hashes of those in flight here."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._hashes: dict[str, RunningHash] = {}

    def path(self, upload_id: str) -> Path:
        """The staging file of an upload."""
        return self.root / f"{upload_id}.part"

    def create(self, upload_id: str) -> None:
        """Create the empty staging file."""
        try:
            self.path(upload_id).touch(exist_ok=False)
        except OSError as error:
            raise io_failure(error, "starting the upload") from error
        self._hashes[upload_id] = RunningHash(hashlib.sha256(), 0)

    def discard(self, upload_id: str) -> None:
        """Delete a staging file and forget its hash."""
        self._hashes.pop(upload_id, None)
        self.path(upload_id).unlink(missing_ok=True)

    def forget(self, upload_id: str) -> None:
        """Drop the running hash (the file was moved into the evidence store)."""
        self._hashes.pop(upload_id, None)

    def running_hash(self, upload_id: str, offset: int) -> RunningHash:
        """The hash state at `offset`, rebuilt from disk after a restart or on another server."""
        known = self._hashes.get(upload_id)
        if known is not None and known.offset == offset:
            return known
        try:
            rebuilt = self._rehash(upload_id, offset)
        except OSError as error:
            raise io_failure(error, "reading the upload back") from error
        self._hashes[upload_id] = rebuilt
        return rebuilt

    def _rehash(self, upload_id: str, offset: int) -> RunningHash:
        rebuilt = RunningHash(hashlib.sha256(), 0)
        with self.path(upload_id).open("rb") as handle:
            while rebuilt.offset < offset:
                chunk = handle.read(min(REHASH_CHUNK, offset - rebuilt.offset))
                if not chunk:
                    raise Conflict(f"staging file holds fewer than {offset} bytes")
                rebuilt.digest.update(chunk)
                rebuilt.offset += len(chunk)
        return rebuilt


@dataclass(frozen=True)
class ChunkChecksum:
    """A tus Upload-Checksum: the algorithm and the digest the client computed over the body."""

    algorithm: str
    expected: bytes


class Appender:
    """Appends one request's body to a staging file under an exclusive lock."""

    def __init__(self, staging: Staging, upload_id: str, offset: int, limit: int) -> None:
        self.staging, self.upload_id = staging, upload_id
        self.start, self.limit = offset, limit
        self.received = 0
        self.running: RunningHash | None = None
        self._checksum: ChunkChecksum | None = None
        self._chunk_digests: list[Any] = []

    async def append(
        self,
        body: AsyncIterator[bytes],
        checksum: ChunkChecksum | None,
        on_synced: Callable[[int], Awaitable[None]],
    ) -> int:
        """Write the body at the offset, fsync, and record the new offset before unlocking.

        A body cut short by a disconnect is kept (the client resumes after it) unless
        a checksum was given, in which case it is cut back: tus discards such chunks.
        """
        self._checksum = checksum
        self._chunk_digests = [hashlib.new(checksum.algorithm)] if checksum else []
        fd = self._open()
        try:
            _lock(fd)
            self.running = await asyncio.to_thread(self.staging.running_hash, self.upload_id, self.start)
            os.ftruncate(fd, self.start)
            os.lseek(fd, self.start, os.SEEK_SET)
            await self._pump(body, fd, self.running)
            self._check_chunk(fd)
            await asyncio.to_thread(os.fsync, fd)
            await on_synced(self.start + self.received)
        except OSError as error:
            # Disk full or an I/O error: give the space back and keep the file as the recorded
            # offset says, so HEAD stays true and the client resumes from there.
            self.staging.forget(self.upload_id)
            _cut_back(fd, self.start)
            raise io_failure(error, "writing the upload") from error
        except BaseException:
            self.staging.forget(self.upload_id)
            raise
        finally:
            os.close(fd)
        return self.received

    def _open(self) -> int:
        # O_CREAT: a staging file lost after creation (a full disk then) is started again here.
        try:
            return os.open(self.staging.path(self.upload_id), os.O_WRONLY | os.O_CREAT, 0o640)
        except OSError as error:
            raise io_failure(error, "opening the upload") from error

    def _check_chunk(self, fd: int) -> None:
        if self._checksum is None:
            return
        if not hmac.compare_digest(self._chunk_digests[0].digest(), self._checksum.expected):
            os.ftruncate(fd, self.start)
            self.received = 0
            raise ChecksumMismatch("Upload-Checksum does not match the bytes received; chunk discarded")

    async def _pump(self, body: AsyncIterator[bytes], fd: int, running: RunningHash) -> None:
        # Two stages: the event loop receives the next block while a thread pool
        # hashes and writes the previous one (both release the GIL).
        pending: asyncio.Future[Any] | None = None
        parts: list[bytes] = []
        size = 0
        async for chunk in body:
            if self.received + size + len(chunk) > self.limit:
                raise Conflict("body runs past the declared Upload-Length")
            parts.append(chunk)
            size += len(chunk)
            if size >= BLOCK:
                pending = await self._flush(pending, parts, fd, running)
                parts, size = [], 0
        pending = await self._flush(pending, parts, fd, running)
        if pending is not None:
            await pending

    async def _flush(
        self, pending: "asyncio.Future[Any] | None", parts: list[bytes], fd: int, running: RunningHash
    ) -> "asyncio.Future[Any] | None":
        if pending is not None:
            await pending
        if not parts:
            return None
        block = parts[0] if len(parts) == 1 else b"".join(parts)
        self.received += len(block)
        running.offset += len(block)
        digests = [running.digest, *self._chunk_digests]
        return asyncio.gather(
            asyncio.to_thread(_update_all, digests, block),
            asyncio.to_thread(_write_all, fd, block),
        )


def _update_all(digests: list[Any], block: bytes) -> None:
    for digest in digests:
        digest.update(block)


def _write_all(fd: int, block: bytes) -> None:
    view = memoryview(block)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _cut_back(fd: int, offset: int) -> None:
    try:
        os.ftruncate(fd, offset)
    except OSError:
        log.warning("could not cut a staging file back to %s bytes; the next append will", offset)


def _lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        raise Conflict("another request is already appending to this upload") from error
