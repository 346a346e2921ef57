"""The anchor directory: append-only copies of every checkpoint, outside the data directory.

Files are created with O_EXCL (never overwritten), fsynced and made read-only. Run the server
as a user who may create files in the directory but not delete or rename them (a sticky
directory owned by another user, see docs/operations.md), and not even the server can
withdraw a checkpoint it once published there.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


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


class AnchorDirectory:
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
