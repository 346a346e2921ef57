"""The anchor directory: append-only copies of every checkpoint, outside the data directory.

Files are created with O_EXCL (never overwritten), fsynced and made read-only. Run the server
as a user who may create files in the directory but not delete or rename them (a sticky
directory owned by another user, see docs/operations.md), and not even the server can
withdraw a checkpoint it once published there.
"""

import json
import os
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path

from witnessbox.storage.base import WriteOnceObjects


@dataclass(frozen=True)
class AnchoredCheckpoint:
    """What a checkpoint said when it was anchored."""

    checkpoint: int
    seq: int
    entry_hash: str
    signed_at: str
    key_id: str
    signature: str
    first_seq: int | None = None  # v2 checkpoints: the Merkle tree they signed (None in v1 copies)
    merkle_root: str | None = None


class AnchorCopies(ABC):
    """Write-once copies of checkpoints, keys and time-stamps under plain names (a directory, a bucket)."""

    @abstractmethod
    def names(self) -> set[str]:
        """Every name anchored so far."""

    @abstractmethod
    def write_once(self, name: str, data: bytes) -> bool:
        """Create `name` with `data`; False (nothing written) if it already exists."""

    @abstractmethod
    def read_if_present(self, name: str) -> bytes | None:
        """The bytes of one anchored copy, or None if it was never written."""

    def read(self, name: str) -> bytes:
        """The bytes of one anchored copy (FileNotFoundError when absent)."""
        data = self.read_if_present(name)
        if data is None:
            raise FileNotFoundError(name)
        return data

    def put_checkpoint(self, anchored: AnchoredCheckpoint) -> bool:
        """Anchor a checkpoint's statement and signature (once)."""
        text = json.dumps(asdict(anchored), sort_keys=True, indent=1) + "\n"
        return self.write_once(checkpoint_name(anchored.checkpoint), text.encode())

    def checkpoints(self) -> list[AnchoredCheckpoint]:
        """Every anchored checkpoint, in the order of the chain."""
        found = [
            AnchoredCheckpoint(**json.loads(self.read(name)))
            for name in self.names()
            if name.startswith("checkpoint-") and name.endswith(".json")
        ]
        return sorted(found, key=lambda anchored: (anchored.seq, anchored.checkpoint))


class AnchorDirectory(AnchorCopies):
    """Write-once files in one directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def names(self) -> set[str]:
        """Every file anchored so far."""
        return {entry.name for entry in self.path.iterdir()} if self.path.exists() else set()

    def write_once(self, name: str, data: bytes) -> bool:
        """Create `name` with `data`, read-only; False (nothing written) if it already exists."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        _fsync_directory(self.path)
        return True

    def read(self, name: str) -> bytes:
        """The bytes of one anchored file."""
        return (self.path / name).read_bytes()

    def read_if_present(self, name: str) -> bytes | None:
        """The bytes of one anchored file, or None if it was never written."""
        try:
            return self.read(name)
        except FileNotFoundError:
            return None


class ObjectAnchors(AnchorCopies):
    """Copies in the object store under Object Lock (storage: `WriteOnceObjects`), beside the evidence."""

    def __init__(self, objects: WriteOnceObjects) -> None:
        self.objects = objects

    def names(self) -> set[str]:
        """Every copy in the store."""
        return self.objects.names()

    def write_once(self, name: str, data: bytes) -> bool:
        """Store and lock a copy unless it is there already."""
        return self.objects.write_once(name, data)

    def read_if_present(self, name: str) -> bytes | None:
        """A copy's bytes, or None."""
        return self.objects.read_if_present(name)


class BothAnchors(AnchorCopies):
    """The anchor directory and the object store at once: written to both, read from the first.

    A name counts as anchored only when both hold it, so a copy one of them missed (the store was
    out of reach) is written at the next run.
    """

    def __init__(self, first: AnchorCopies, second: AnchorCopies) -> None:
        self.first, self.second = first, second

    def names(self) -> set[str]:
        """Names both copies hold."""
        return self.first.names() & self.second.names()

    def write_once(self, name: str, data: bytes) -> bool:
        """Write to each copy that lacks it."""
        wrote_first = self.first.write_once(name, data)
        return self.second.write_once(name, data) or wrote_first

    def read_if_present(self, name: str) -> bytes | None:
        """Read from the first copy."""
        return self.first.read_if_present(name)


def checkpoint_name(checkpoint_id: int) -> str:
    """The file name of a checkpoint's anchored copy."""
    return f"checkpoint-{checkpoint_id:012d}.json"


def anchored_ids(names: set[str], suffix: str) -> set[int]:
    """The checkpoint ids among anchor file names ending in `suffix` (".json" or ".tsr")."""
    prefix = "checkpoint-"
    return {
        int(name[len(prefix):-len(suffix)])
        for name in names
        if name.startswith(prefix) and name.endswith(suffix) and name[len(prefix):-len(suffix)].isdigit()
    }


def stamp_name(checkpoint_id: int) -> str:
    """The file name of a checkpoint's anchored RFC 3161 time-stamp answer (DER)."""
    return f"checkpoint-{checkpoint_id:012d}.tsr"


def key_name(key_id: str) -> str:
    """The file name of a checkpoint key's anchored public half (PEM), written when first seen."""
    return f"key-{key_id}.pem"


def retirement_name(key_id: str) -> str:
    """The file name holding when a checkpoint key was retired (canonical UTC time), written once."""
    return f"key-{key_id}.retired"


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
