"""The ingest pipeline: small idempotent steps that take a stored original to a playable item.

Each step looks at the item, does nothing if its work is already recorded, and
otherwise does it and records it. Running the pipeline twice, or resuming it
after a crash at any point, ends in the same state.
"""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from witnessbox import __version__
from witnessbox.core.actor import SYSTEM
from witnessbox.core.errors import TemporaryFailure, io_failure
from witnessbox.evidence.models import DerivativeKind, Item, ItemState
from witnessbox.evidence.service import DerivativeDraft, EvidenceService
from witnessbox.media.errors import MediaError
from witnessbox.media.probe import MediaFacts, probe
from witnessbox.media.proxy import make_proxy, software_versions
from witnessbox.media.thumbnails import thumbnail_strip
from witnessbox.storage import BlobStore
from witnessbox.storage.base import BlobKind, readable_path, rehash, store_file

Progress = Callable[[float], None]
WAITING = "waiting for storage"  # the reason a processing item shows while its job waits for the store


class Quarantine(Exception):
    """The original is kept as uploaded but cannot be processed; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Work:
    """What the steps share while processing one item."""

    item: Item
    original: Path
    scratch: Path
    facts: MediaFacts | None = None


def software() -> str:
    """The versions that made a derivative, recorded beside it."""
    media = software_versions()
    return f"witnessbox {__version__}; PyAV {media['pyav']}; FFmpeg {media['ffmpeg']}"


class Pipeline:
    """Runs the ingest steps for one item."""

    def __init__(self, evidence: EvidenceService, blobs: BlobStore, scratch_root: Path) -> None:
        self.evidence = evidence
        self.blobs = blobs
        self.scratch_root = scratch_root
        scratch_root.mkdir(parents=True, exist_ok=True)

    def process(self, item_id: str, progress: Progress) -> str:
        """Run every step; return the outcome recorded on the job."""
        item = self.evidence.get(item_id)
        if item.state != ItemState.PROCESSING:
            return f"nothing to do: item is {item.state}"
        try:
            self._verify_stored(item)
            with self._workspace(item) as work:
                self._steps(work, progress)
        except Quarantine as stop:
            self.evidence.set_state(item_id, ItemState.QUARANTINED, actor=SYSTEM, reason=stop.reason)
            return f"quarantined: {stop.reason}"
        except TemporaryFailure as wait:
            # The evidence store failed (full, erroring, unreachable): the job waits and runs again.
            self.evidence.note_waiting(item_id, f"{WAITING}: {wait.reason}")
            raise
        except OSError as error:
            # Media errors about the file are MediaError by now: this is our disk (full, failing).
            # The job waits and runs again; the recording is not quarantined for it.
            failure = io_failure(error, "making the item's thumbnails and playable copy")
            self.evidence.note_waiting(item_id, f"{WAITING}: {failure.reason}")
            raise failure from error
        self.evidence.set_state(item_id, ItemState.READY, actor=SYSTEM)
        return "ready"

    def give_up(self, item_id: str, error: str) -> None:
        """After the last failed attempt, show the item to administrators with the reason."""
        self.evidence.set_state(
            item_id, ItemState.QUARANTINED, actor=SYSTEM, reason=f"processing failed after retries: {error}"
        )

    def _steps(self, work: Work, progress: Progress) -> None:
        work.facts = self._probe(work)
        progress(0.2)
        self._thumbnails(work)
        progress(0.4)
        self._proxy(work, lambda f: progress(0.4 + 0.6 * f))

    def _verify_stored(self, item: Item) -> None:
        # Never trust a storage "success": re-read what the store returns.
        if item.verified_at is not None:
            return
        actual = rehash(self.blobs, item.sha256)
        if actual != item.sha256:
            raise Quarantine(f"stored original reads back as {actual}, not {item.sha256}")
        self.evidence.mark_verified(item.id, actor=SYSTEM)

    def _probe(self, work: Work) -> MediaFacts:
        try:
            facts = probe(work.original)
        except MediaError as bad:
            raise Quarantine(bad.reason) from bad
        if work.item.media_facts is None:
            self.evidence.record_media_facts(work.item.id, facts.as_dict(), actor=SYSTEM)
        return facts

    def _thumbnails(self, work: Work) -> None:
        # Sound alone (a call recording) has no pictures to show: the page plays it with an audio player.
        facts = work.facts
        if (
            work.item.derivative(DerivativeKind.THUMBNAIL_STRIP) is not None
            or facts is None
            or not facts.has_video
        ):
            return
        out = work.scratch / "thumbnails.jpg"
        try:
            strip = thumbnail_strip(
                work.original, out, rotation=facts.rotation, keyframe_interval_s=facts.max_keyframe_interval_s
            )
        except MediaError as bad:
            raise Quarantine(f"thumbnails: {bad.reason}") from bad
        self._store(
            work, out, DerivativeKind.THUMBNAIL_STRIP, "image/jpeg", "thumbnail_strip", strip.as_dict()
        )

    def _proxy(self, work: Work, progress: Progress) -> None:
        if work.item.derivative(DerivativeKind.PROXY) is not None or work.facts is None:
            return
        out = work.scratch / "proxy.mp4"
        try:
            made = make_proxy(work.original, out, work.facts, progress=progress)
        except MediaError as bad:
            raise Quarantine(f"proxy: {bad.reason}") from bad
        media_type = "video/mp4" if work.facts.has_video else "audio/mp4"
        self._store(work, out, DerivativeKind.PROXY, media_type, f"proxy:{made.method}", made.parameters)

    def _store(
        self,
        work: Work,
        path: Path,
        kind: DerivativeKind,
        media_type: str,
        operation: str,
        parameters: dict[str, object],
    ) -> None:
        stored = store_file(self.blobs, path, kind=BlobKind.DERIVATIVE)
        self.evidence.add_derivative(
            work.item.id,
            DerivativeDraft(
                kind=kind,
                sha256=stored.sha256,
                size=stored.size,
                media_type=media_type,
                operation=operation,
                parameters=dict(parameters),
                software_version=software(),
            ),
            actor=SYSTEM,
        )

    def discard_scratch(self, item_id: str) -> None:
        """Remove the work files an earlier attempt on this item left here (its worker was killed)."""
        for leftover in self.scratch_root.glob(f"{item_id}-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    @contextmanager
    def _workspace(self, item: Item) -> Iterator[Work]:
        self.discard_scratch(item.id)
        scratch = Path(tempfile.mkdtemp(prefix=f"{item.id}-", dir=self.scratch_root))
        try:
            yield Work(item=item, original=self._local_original(item, scratch), scratch=scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _local_original(self, item: Item, scratch: Path) -> Path:
        return readable_path(self.blobs, item.sha256, scratch / "original.mp4")
