"""The BlobStore protocol: content-addressed, write-once storage of evidence bytes.

Blobs are named by the SHA-256 of their content. A blob, once stored, is never
modified; `put`/`adopt` of bytes already present is a no-op that returns the same
BlobInfo, which makes every ingest step safe to repeat.
"""

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from witnessbox.core.errors import StorageUnavailable

HASH_ALGORITHM = "sha256"
READ_CHUNK = 1024 * 1024


class StorageError(Exception):
    """The store could not do what was asked; the reason is in the message."""


class BlobNotFound(StorageError):
    """No blob with that hash is stored."""


class StoreUnreachable(StorageError, StorageUnavailable):
    """The object store did not answer (timeouts, 5xx, throttling) after every retry: try again later."""


class BlobLocked(StorageError):
    """The store refuses to delete a blob: its retention lock has not expired, or a legal hold is on it.

    `until` is when the retention lock ends (None under a legal hold, which lasts until released).
    """

    def __init__(self, message: str, until: datetime | None = None) -> None:
        super().__init__(message)
        self.until = until


class BlobKind(StrEnum):
    """What a blob is, which decides how long and how strictly a WORM store locks it."""

    ORIGINAL = "original"  # the evidence as uploaded
    DERIVATIVE = "derivative"  # made from an original (proxy, thumbnails): can be made again


@dataclass(frozen=True)
class BlobInfo:
    """What the store knows about one blob."""

    sha256: str
    size: int


@dataclass(frozen=True)
class StoredObject:
    """One object the store holds, as its listing names it (the integrity scrub reconciles these).

    `key` is the store's own name for the object (a path under the store's root, an object key);
    `sha256` is the content address the key stands for, or None when the key is no content
    address at all (a file someone put there by hand under another name).
    """

    key: str
    sha256: str | None
    size: int


class BlobStore(Protocol):
    """Content-addressed, write-once storage.

    `worm` is True when the store itself refuses to delete or change a blob before its retention
    lock ends (S3 Object Lock); the application's own rules are then not the only protection.
    """

    worm: bool

    def put(self, chunks: Iterable[bytes], *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Store a stream of bytes, hashing while writing; durable when this returns."""
        ...

    def adopt(self, path: Path, sha256: str, *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Take ownership of a complete, fsynced local file whose hash the caller computed."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored."""
        ...

    def size(self, sha256: str) -> int:
        """The stored size in bytes; BlobNotFound if absent."""
        ...

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes in [start, end) (end exclusive, None for the end of the blob)."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """A read-only path to the blob when the store keeps it on a local filesystem."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove a blob (retention only); no error if absent; BlobLocked while the store keeps it."""
        ...

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """Put a legal hold on a blob or take it off (a WORM store refuses to delete a held blob)."""
        ...

    def signed_url(
        self, sha256: str, *, expires_s: int, filename: str | None, media_type: str, attachment: bool
    ) -> str | None:
        """A URL that serves the blob without us for `expires_s` seconds; None if the store cannot sign."""
        ...

    def listing(self, after: str = "") -> Iterator[StoredObject]:
        """Every stored object whose key sorts after `after`, in key order (S3's StartAfter order).

        A blob's key sorts where its hash does, so a walk can stop and continue where it stopped.
        """
        ...


class WriteOnceObjects(Protocol):
    """Small named objects a store keeps write-once and locked beside the blobs (audit anchor copies)."""

    def names(self) -> set[str]:
        """Every name stored."""
        ...

    def write_once(self, name: str, data: bytes) -> bool:
        """Store and lock `data` under `name`; False (nothing written) if the name is taken."""
        ...

    def read_if_present(self, name: str) -> bytes | None:
        """The bytes under `name`, or None."""
        ...


@runtime_checkable
class KeepsAnchors(Protocol):
    """A store that can keep the audit trail's anchor copies under its own lock (S3 Object Lock)."""

    def anchor_objects(self) -> WriteOnceObjects:
        """Where the anchor copies go in this store."""
        ...


def is_sha256(value: str) -> bool:
    """Whether a string is a lower-case SHA-256 hex digest."""
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def check_sha256(value: str) -> str:
    """Return a lower-case SHA-256 hex digest or raise ValueError."""
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a SHA-256 hex digest: {value[:80]!r}")
    return digest


def store_file(store: BlobStore, path: Path, *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
    """Hash a finished local file, make it durable, and hand it over (a rename, for a local store)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * READ_CHUNK):
            digest.update(chunk)
        os.fsync(handle.fileno())
    return store.adopt(path, digest.hexdigest(), kind=kind)


def rehash(store: BlobStore, sha256: str) -> str:
    """Re-read a stored blob from the store and return the SHA-256 of what came back."""
    digest = hashlib.sha256()
    for chunk in store.read(sha256):
        digest.update(chunk)
    return digest.hexdigest()


def readable_path(store: BlobStore, sha256: str, copy: Path) -> Path:
    """A path media tools can open: the store's own file, or the blob copied to `copy` (an object store)."""
    local = store.local_path(sha256)
    if local is not None:
        return local
    with copy.open("wb") as out:
        for chunk in store.read(sha256):
            out.write(chunk)
    return copy
