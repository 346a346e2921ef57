"""Evidence bytes: the BlobStore seam and its implementations."""

from witnessbox.storage.base import BlobInfo, BlobNotFound, BlobStore, StorageError, StoredObject

__all__ = ["BlobInfo", "BlobNotFound", "BlobStore", "StorageError", "StoredObject"]
