"""Content-addressed files on a local filesystem.

Layout: <root>/sha256/ab/cd/<hex>. Writes go to <root>/tmp, are fsynced, renamed
into place and the directory fsynced, then made read-only: a blob is either
absent or whole, even across a power cut. A full disk or an I/O error removes the
temporary file and raises InsufficientStorage or StorageUnavailable (core.errors).
"""

import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from witnessbox.core.errors import io_failure
from witnessbox.storage.base import (
    READ_CHUNK,
    BlobInfo,
    BlobKind,
    BlobNotFound,
    StoredObject,
    check_sha256,
    is_sha256,
)

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP


def fsync_directory(path: Path) -> None:
    """Make a rename or unlink inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(fd: int, chunks: Iterable[bytes]) -> str:
    """Write the chunks to fd, fsync, close; return their SHA-256."""
    digest = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


class LocalBlobStore:
    """A BlobStore on a local directory (not WORM: the filesystem's owner can delete anything)."""

    worm = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / "tmp"
        self.staging.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        """Where a blob with this hash lives."""
        digest = check_sha256(sha256)
        return self.root / "sha256" / digest[:2] / digest[2:4] / digest

    def put(self, chunks: Iterable[bytes], *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Stream bytes to a temporary file while hashing, then move it into place."""
        try:
            fd, name = tempfile.mkstemp(dir=self.staging, suffix=".part")
        except OSError as error:
            raise io_failure(error, "storing a file in the evidence store") from error
        temp = Path(name)
        try:
            digest = _write_durably(fd, chunks)
            return self.adopt(temp, digest)
        except OSError as error:
            raise io_failure(error, "storing a file in the evidence store") from error
        finally:
            temp.unlink(missing_ok=True)

    def adopt(self, path: Path, sha256: str, *, kind: BlobKind = BlobKind.ORIGINAL) -> BlobInfo:
        """Rename a complete, fsynced file into its content address (it must be on this filesystem)."""
        target = self.path_for(sha256)
        if target.exists():
            path.unlink(missing_ok=True)
            return BlobInfo(sha256=check_sha256(sha256), size=target.stat().st_size)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            path.chmod(READ_ONLY)
            path.replace(target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise io_failure(error, "moving a file into the evidence store") from error
            return self._copy_in(path)
        try:
            fsync_directory(target.parent)
        except OSError as error:
            raise io_failure(error, "making a stored file durable") from error
        return BlobInfo(sha256=check_sha256(sha256), size=target.stat().st_size)

    def _copy_in(self, path: Path) -> BlobInfo:
        """A file on another filesystem cannot be renamed in: copy it (hashing again) and remove it."""
        with path.open("rb") as handle:
            info = self.put(iter(lambda: handle.read(READ_CHUNK), b""))
        path.unlink()
        return info

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        try:
            return self.path_for(sha256).is_file()
        except OSError as error:
            raise io_failure(error, "looking for a file in the evidence store") from error

    def size(self, sha256: str) -> int:
        """The blob's size in bytes."""
        try:
            return self.path_for(sha256).stat().st_size
        except FileNotFoundError as error:
            raise BlobNotFound(sha256) from error
        except OSError as error:
            raise io_failure(error, "reading a file's size in the evidence store") from error

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes in [start, end); a failing disk is StorageUnavailable, even halfway through."""
        try:
            yield from self._read(sha256, start, end)
        except BlobNotFound:
            raise
        except OSError as error:
            raise io_failure(error, "reading a file from the evidence store") from error

    def _read(self, sha256: str, start: int, end: int | None) -> Iterator[bytes]:
        try:
            handle = self.path_for(sha256).open("rb")
        except FileNotFoundError as error:
            raise BlobNotFound(sha256) from error
        with handle:
            handle.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = handle.read(READ_CHUNK if remaining is None else min(READ_CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def local_path(self, sha256: str) -> Path | None:
        """The blob's path, for zero-copy serving."""
        path = self.path_for(sha256)
        return path if path.is_file() else None

    def delete(self, sha256: str) -> None:
        """Remove a blob and make the removal durable."""
        path = self.path_for(sha256)
        try:
            if path.exists():
                path.unlink()
                fsync_directory(path.parent)
        except OSError as error:
            raise io_failure(error, "removing a file from the evidence store") from error

    def set_legal_hold(self, sha256: str, on: bool) -> None:
        """Files have no legal hold: the application's holds are the only ones (nothing to record)."""
        check_sha256(sha256)

    def signed_url(
        self, sha256: str, *, expires_s: int, filename: str | None, media_type: str, attachment: bool
    ) -> str | None:
        """Files cannot be fetched by a signed URL."""
        return None

    def listing(self, after: str = "") -> Iterator[StoredObject]:
        """Every file under the root but the staging folder, keyed by its path from the root."""
        for key, size in _walk(self.root, "", after):
            if key.split("/", 1)[0] != self.staging.name:
                yield StoredObject(key, self._address(key), size)

    def _address(self, key: str) -> str | None:
        """The hash a key stands for when the file sits exactly where that hash's blob belongs."""
        name = PurePosixPath(key).name
        if is_sha256(name) and self.path_for(name) == self.root / key:
            return name
        return None


def _walk(folder: Path, prefix: str, after: str) -> Iterator[tuple[str, int]]:
    """(key, size) of the files below `folder` in key order, skipping folders wholly before `after`."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    entries.sort(key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name)
    for entry in entries:
        key = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            if after[: len(key) + 1] <= key + "/":  # else every key below sorts before `after`
                yield from _walk(Path(entry.path), key + "/", after)
        elif key > after:
            try:
                yield key, entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue  # removed while we walked
