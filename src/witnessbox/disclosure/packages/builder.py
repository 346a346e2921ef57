"""Writing a package's ZIP: originals streamed from the store, hashed on the way, in constant memory.

zipstream-ng writes the ZIP as one forward stream (data descriptors, ZIP64 where a file or the
archive passes 4 GiB), so the whole ZIP is hashed as it is written, with no second read.
Originals are stored, not compressed: video does not compress, and storing is fastest.
"""

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import zipstream

from witnessbox.core.errors import InsufficientStorage, IntegrityFailure, io_failure

ReadBlob = Callable[[str], Iterator[bytes]]
Progress = Callable[[float], None]
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class Original:
    """An original to stream into the ZIP under a readable name."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Written:
    """The finished ZIP: its hash, size and how many files it holds."""

    sha256: str
    size: int
    file_count: int


def write_zip(
    target: Path, originals: list[Original], small: dict[str, bytes], read: ReadBlob, progress: Progress
) -> Written:
    """Write the ZIP to `target` (via a .part file, fsynced then renamed), reporting progress 0..1.

    Too little free space, or a disk that fills on the way, is a TemporaryFailure: the job waits
    for space without using up an attempt, and nothing half-written is left.
    """
    stream = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    for original in originals:
        stream.add(_checked(original, read), original.path, size=original.size)
    for path, data in small.items():
        stream.add(data, path)
    total = len(stream)
    _require_space(target.parent, total)
    partial = target.with_name(target.name + ".part")
    try:
        digest = _stream_to(partial, stream, total, progress)
        partial.rename(target)
    except OSError as error:
        raise io_failure(error, "writing the disclosure package") from error
    finally:
        partial.unlink(missing_ok=True)
    return Written(sha256=digest, size=total, file_count=len(originals) + len(small))


def _require_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise InsufficientStorage(
            f"the package needs {needed} bytes and the packages disk has {free} free; "
            "it will be built once there is space"
        )


def _stream_to(partial: Path, stream: zipstream.ZipStream, total: int, progress: Progress) -> str:
    """Write and hash the stream; the SHA-256 of what was written."""
    digest, written, reported = hashlib.sha256(), 0, 0.0
    with partial.open("wb") as out:
        for chunk in stream:
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            if time.monotonic() - reported >= PROGRESS_EVERY_S:
                progress(written / total)
                reported = time.monotonic()
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _checked(original: Original, read: ReadBlob) -> Iterator[bytes]:
    """An original's bytes from the store; a mismatch with its recorded hash stops the build."""
    digest, size = hashlib.sha256(), 0
    for chunk in read(original.sha256):
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if digest.hexdigest() != original.sha256 or size != original.size:
        raise IntegrityFailure(
            f"the stored original of {original.path} no longer matches its recorded SHA-256; "
            "the package was not built"
        )
