"""Choose a BlobStore from a URL (file:///path today; s3:// when that store lands)."""

from pathlib import Path
from urllib.parse import unquote, urlparse

from witnessbox.storage.base import BlobStore
from witnessbox.storage.local import LocalBlobStore
from witnessbox.storage.memory import MemoryBlobStore


def blob_store_from_url(url: str) -> BlobStore:
    """Build the store a storage URL names; ValueError for schemes not supported."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "memory":
        return MemoryBlobStore()
    raise ValueError(f"unsupported storage URL scheme {parsed.scheme!r}; use file://")
