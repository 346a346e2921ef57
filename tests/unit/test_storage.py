"""The content-addressed store: durable, write-once, ranged reads."""

import hashlib
import stat
from pathlib import Path

import pytest

from witnessbox.storage.base import BlobNotFound, rehash
from witnessbox.storage.local import LocalBlobStore
from witnessbox.storage.memory import MemoryBlobStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LocalBlobStore | MemoryBlobStore:
    return LocalBlobStore(tmp_path / "blobs") if request.param == "local" else MemoryBlobStore()


def test_put_names_blob_by_sha256_and_reads_ranges(store: LocalBlobStore | MemoryBlobStore) -> None:
    """GIVEN bytes streamed in pieces WHEN stored THEN they are named by their SHA-256 and ranges read back exactly."""
    data = bytes(range(256)) * 5000
    info = store.put(data[i : i + 7000] for i in range(0, len(data), 7000))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == len(data) == store.size(info.sha256)
    assert b"".join(store.read(info.sha256, 1000, 2000)) == data[1000:2000]
    assert b"".join(store.read(info.sha256)) == data
    assert rehash(store, info.sha256) == info.sha256


def test_storing_the_same_bytes_twice_is_one_blob(store: LocalBlobStore | MemoryBlobStore) -> None:
    """GIVEN a stored blob WHEN the same bytes are stored again THEN the same blob answers."""
    first = store.put([b"evidence"])
    second = store.put([b"evid", b"ence"])
    assert first == second


def test_missing_blob_is_a_clear_error(store: LocalBlobStore | MemoryBlobStore) -> None:
    """GIVEN an empty store WHEN a blob is read THEN BlobNotFound is raised."""
    with pytest.raises(BlobNotFound):
        store.size("0" * 64)
    with pytest.raises(BlobNotFound):
        list(store.read("0" * 64))


def test_local_blobs_are_read_only_and_leave_no_temp_files(tmp_path: Path) -> None:
    """GIVEN the local store WHEN a blob is stored THEN the file is read-only, at its address, and no temp file remains."""
    store = LocalBlobStore(tmp_path / "blobs")
    info = store.put([b"x" * 10_000])
    path = store.path_for(info.sha256)
    assert path.is_file() and path.parent.parent.parent.name == "sha256"
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert list(store.staging.iterdir()) == []


def test_adopt_moves_a_finished_upload_without_copying(tmp_path: Path) -> None:
    """GIVEN a complete file on the same filesystem WHEN adopted THEN it is renamed into place (same inode)."""
    store = LocalBlobStore(tmp_path / "blobs")
    upload = tmp_path / "blobs" / "tmp" / "u.part"
    upload.write_bytes(b"recording")
    inode = upload.stat().st_ino
    info = store.adopt(upload, hashlib.sha256(b"recording").hexdigest())
    assert store.path_for(info.sha256).stat().st_ino == inode
    assert not upload.exists()


def test_a_bad_digest_is_refused(tmp_path: Path) -> None:
    """GIVEN a malformed digest WHEN used as an address THEN ValueError says so."""
    with pytest.raises(ValueError, match="not a SHA-256"):
        LocalBlobStore(tmp_path).path_for("../../etc/passwd")
