"""Choose a BlobStore from a URL: file:///path, s3://bucket/prefix, or memory:// for tests."""

from pathlib import Path
from urllib.parse import unquote, urlparse

from witnessbox.storage.base import BlobStore
from witnessbox.storage.local import LocalBlobStore
from witnessbox.storage.memory import MemoryBlobStore
from witnessbox.storage.s3_options import S3Options


def blob_store_from_url(url: str, *, s3: S3Options | None = None, staging: Path | None = None) -> BlobStore:
    """Build the store a storage URL names; ValueError for schemes not supported.

    `s3` carries the endpoint, credentials, retries and Object Lock settings of an s3:// store;
    `staging` is where it spools a stream before upload.
    """
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "memory":
        return MemoryBlobStore()
    if parsed.scheme == "s3":
        from witnessbox.storage.s3 import S3BlobStore  # noqa: PLC0415  boto3 loads only when it is used

        return S3BlobStore.from_url(url, s3 or S3Options(), staging=staging)
    raise ValueError(f"unsupported storage URL scheme {parsed.scheme!r}; use file:// or s3://")
