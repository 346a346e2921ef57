"""The store listings the scrub reconciles with, and the throttle it reads through."""

import hashlib
from pathlib import Path

import pytest

from witnessbox.storage.local import LocalBlobStore
from witnessbox.storage.memory import MemoryBlobStore
from witnessbox.storage.throttle import Throttle, rehash_throttled

pytestmark = pytest.mark.backend_free


def test_local_listing_is_in_key_order_resumes_after_a_key_and_names_strays(tmp_path: Path) -> None:
    """GIVEN blobs, a stray file by hand, a stray folder and a half-written upload WHEN the store is listed,
    whole and after a key THEN keys come in order, blobs carry their hash, strays none, staging never."""
    store = LocalBlobStore(tmp_path)
    blobs = sorted(store.put([bytes([n]) * (n + 1)]).sha256 for n in range(30))
    (tmp_path / "tmp" / "upload.part").write_bytes(b"half")
    (tmp_path / "sha256" / blobs[0][:2] / "copy.mp4").write_bytes(b"stray")
    (tmp_path / "sha256" / "ab.txt").write_bytes(b"sorts before the folder ab/")
    (tmp_path / "sha256" / "ab").mkdir(exist_ok=True)
    (tmp_path / "sha256" / "ab" / "zz").write_bytes(b"deep stray")

    listed = list(store.listing())

    keys = [o.key for o in listed]
    assert keys == sorted(keys) and len(keys) == 33
    assert [o.sha256 for o in listed if o.sha256] == blobs
    strays = {o.key: o.size for o in listed if o.sha256 is None}
    assert strays == {f"sha256/{blobs[0][:2]}/copy.mp4": 5, "sha256/ab.txt": 27, "sha256/ab/zz": 10}
    middle = keys[16]
    assert [o.key for o in store.listing(middle)] == keys[17:]


def test_a_blob_in_the_wrong_folder_is_no_content_address(tmp_path: Path) -> None:
    """GIVEN a file named like a hash but put in another hash's folder WHEN listed THEN it has no hash."""
    store = LocalBlobStore(tmp_path)
    digest = hashlib.sha256(b"x").hexdigest()
    wrong = tmp_path / "sha256" / "00" / "00" / digest
    wrong.parent.mkdir(parents=True)
    wrong.write_bytes(b"x")
    assert [(o.key, o.sha256) for o in store.listing()] == [(f"sha256/00/00/{digest}", None)]


def test_memory_listing_and_a_rehash_that_finds_changed_bytes() -> None:
    """GIVEN a memory store whose blob was altered WHEN re-hashed THEN the new hash comes back."""
    store = MemoryBlobStore()
    info = store.put([b"original bytes"])
    store.blobs[info.sha256] = b"original bytez"
    assert [o.sha256 for o in store.listing()] == [info.sha256]
    assert list(store.listing(info.sha256)) == []
    again = rehash_throttled(store, info.sha256, Throttle(None))
    assert again.sha256 == hashlib.sha256(b"original bytez").hexdigest() and again.size == 14


def test_the_throttle_paces_reads_to_the_rate() -> None:
    """GIVEN 1000 bytes a second WHEN 3000 bytes are read at once THEN the reader sleeps 3 s;
    after the time has passed it does not sleep again; no rate never sleeps."""
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = Throttle(1000, now=lambda: now[0], sleep=sleep)
    throttle.take(3000)
    assert slept == [3.0]
    now[0] += 2.0
    throttle.take(1000)
    assert slept == [3.0]
    unlimited = Throttle.megabytes(0)
    unlimited.take(10**12)
    assert unlimited.bytes_per_s is None
