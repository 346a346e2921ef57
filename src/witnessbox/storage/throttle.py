"""Reading stored bytes at a limited rate, so a background re-read leaves the disks to ingest."""

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from witnessbox.storage.base import BlobStore

MEGABYTE = 1_000_000


class Throttle:
    """Paces a reader to at most `bytes_per_s` on average since it started (None: no limit).

    A plain pacing rule rather than a token bucket library: one reader, one rate, and the
    sleeps are the whole of it.
    """

    def __init__(
        self,
        bytes_per_s: float | None,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bytes_per_s = bytes_per_s if bytes_per_s and bytes_per_s > 0 else None
        self.now, self.sleep = now, sleep
        self.started = now()
        self.spent = 0

    @classmethod
    def megabytes(cls, rate_mbps: float | None) -> "Throttle":
        """A throttle at a rate in megabytes (10^6 bytes) a second; 0 or None for none."""
        return cls(rate_mbps * MEGABYTE if rate_mbps else None)

    def take(self, n: int) -> None:
        """Account for `n` bytes read, sleeping until the average is back under the rate."""
        self.spent += n
        if self.bytes_per_s is None:
            return
        ahead = self.spent / self.bytes_per_s - (self.now() - self.started)
        if ahead > 0:
            self.sleep(ahead)

    def elapsed(self) -> float:
        """Seconds since the throttle started."""
        return self.now() - self.started


@dataclass(frozen=True)
class Rehash:
    """What re-reading a stored blob gave back."""

    sha256: str
    size: int


def rehash_throttled(store: BlobStore, sha256: str, throttle: Throttle) -> Rehash:
    """Re-read a blob through the throttle; BlobNotFound when it is gone."""
    digest, size = hashlib.sha256(), 0
    chunks: Iterator[bytes] = store.read(sha256)
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        throttle.take(len(chunk))
    return Rehash(digest.hexdigest(), size)
