"""An in-memory BlobStore for unit tests."""

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from witnessbox.storage.base import BlobInfo, BlobKind, BlobNotFound, StoredObject, check_sha256, is_sha256


class MemoryBlobStore:
    """Keeps blobs in a dict; behaves like the real stores otherwise."""

    worm = False

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.held: set[str] = set()  # blobs under a legal hold, for tests to look at

    def put(self, chunks: Iterable[bytes], *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Store the bytes under their hash."""
        data = b"".join(chunks)
        digest = hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(digest, data)
        return BlobInfo(sha256=digest, size=len(data))

    def adopt(self, path: Path, sha256: str, *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Read a local file in and delete it, as the real store's rename would."""
        data = path.read_bytes()
        path.unlink()
        self.blobs.setdefault(check_sha256(sha256), data)
        return BlobInfo(sha256=sha256, size=len(data))

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return sha256 in self.blobs

    def size(self, sha256: str) -> int:
        """The blob's size."""
        return len(self._get(sha256))

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the requested range in one piece."""
        yield self._get(sha256)[start:end]

    def local_path(self, sha256: str) -> Path | None:
        """Memory blobs have no path."""
        return None

    def delete(self, sha256: str) -> None:
        """Forget the blob."""
        self.blobs.pop(sha256, None)

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """Remember which blobs are held."""
        if on:
            self.held.add(check_sha256(sha256))
        else:
            self.held.discard(sha256)

    def signed_url(
        self, sha256: str, *, expires_s: int, filename: str | None, media_type: str, attachment: bool
    ) -> str | None:
        """Memory blobs cannot be fetched by URL."""
        return None

    def listing(self, after: str = "") -> Iterator[StoredObject]:
        """The blobs in key order; a key that is no digest stands for a blob stored under another name."""
        for key in sorted(k for k in self.blobs if k > after):
            yield StoredObject(key, key if is_sha256(key) else None, len(self.blobs[key]))

    def _get(self, sha256: str) -> bytes:
        try:
            return self.blobs[sha256]
        except KeyError as error:
            raise BlobNotFound(sha256) from error
