"""The dock agent: upload each recording with tus, confirm the server holds it, then wipe it.

A recording leaves the camera only after the server has answered, for the exact
SHA-256 computed here at the source, that it holds an item whose stored bytes
were re-read and matched. Any failure leaves the recording where it is.
"""

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.fingerprint.interface import Fingerprint
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader.uploader import Uploader

from witnessbox.dock.recordings import Recording, find_recordings, missing_folders, why_unsendable

CHUNK = 64 * 1024 * 1024  # one PATCH per 64 MiB: resumes lose little, requests stay few
HASH_CHUNK = 8 * 1024 * 1024
CONFIRM_TIMEOUT_S = 300.0
METADATA_LIMIT = 48 * 1024


class Sha256Uploader(Uploader):
    """tuspy's uploader, sending each chunk's Upload-Checksum as SHA-256."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


class KnownDigest(Fingerprint):
    """Resume key for tuspy's URL store: the file's SHA-256, computed once already."""

    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256

    def get_fingerprint(self, fs: IO[bytes]) -> str:
        """The precomputed digest (tuspy would otherwise re-read the file)."""
        return f"sha256:{self.sha256}"


class Refused(Exception):
    """The server refused a recording; it stays on the camera."""


class Unreadable(Exception):
    """The recording cannot be read on the camera; it stays there and is not retried until it changes."""


class NotWiped(Exception):
    """The server holds the recording, but the camera would not let it be deleted."""


class DockStopped(Exception):
    """The dock cannot work at all (no such folder, token refused, server out of reach); says why."""


@dataclass
class Outcome:
    """What happened to one recording."""

    recording: Recording
    ok: bool
    message: str
    unsendable: bool = False  # empty or unreadable: reported once, not retried until the file changes


class DockAgent:
    """Uploads recordings from camera folders to one server."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        wipe: bool = True,
        console: Console | None = None,
        state_dir: Path | None = None,
        retries: int = 5,
        retry_delay_s: float = 2.0,
        chunk_size: int = CHUNK,
    ) -> None:
        self.server = server.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.wipe = wipe
        self.console = console or Console(stderr=True)
        self.state_dir = state_dir or Path.home() / ".witnessbox-dock"
        self.retries, self.retry_delay_s, self.chunk_size = retries, retry_delay_s, chunk_size

    def run(self, folders: Iterable[Path], *, watch: bool = False, poll_s: float = 5.0) -> int:
        """Upload everything found; with `watch`, keep looking. Returns the number that failed.

        Raises DockStopped before touching any recording when a folder is missing or the
        server refuses the token.
        """
        folders = list(folders)
        if missing := missing_folders(folders):
            raise DockStopped(f"no such folder: {', '.join(map(str, missing))}")
        self.check_token()
        reported: dict[Path, tuple[int, int]] = {}
        while True:
            recordings = [r for r in find_recordings(folders) if not _already_reported(r, reported)]
            outcomes = self.upload_all(recordings)
            reported.update({o.recording.path: _signature(o.recording) for o in outcomes if o.unsendable})
            failed = sum(not o.ok for o in outcomes)
            if not watch:
                return failed
            time.sleep(poll_s)

    def check_token(self) -> None:
        """Ask the server who this token belongs to; DockStopped when it cannot or will not say."""
        try:
            response = httpx.get(f"{self.server}/api/v1/me", headers=self.headers, timeout=30)
        except httpx.HTTPError as error:
            raise DockStopped(f"cannot reach the server at {self.server} ({error})") from error
        # 401: nobody recognised. A dock's valid token is recognised and then refused (403) here,
        # since docks only upload and confirm; a person's API token is answered (200).
        if response.status_code == 401:
            raise DockStopped(
                f"{self.server} refused this dock's token (wrong or revoked): "
                "ask an administrator for the dock's current token"
            )
        if response.status_code != 403 and response.is_error:
            raise DockStopped(f"{self.server} answered {response.status_code} when the dock signed in")

    def progress(self) -> Progress:
        """Bars in true sizes: one per recording (hashed, then sent) and one for the whole batch."""
        columns = (
            "{task.description}",
            TextColumn("{task.fields[phase]}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
        )
        return Progress(*columns, console=self.console, transient=False)

    def upload_all(self, recordings: list[Recording], progress: Progress | None = None) -> list[Outcome]:
        """Upload a batch, showing progress per file and overall."""
        if progress is None:
            with self.progress() as own:
                return self.upload_all(recordings, own)
        bars = _Bars(progress, recordings)
        return [self._one(r, bars) for r in recordings]

    def _one(self, recording: Recording, bars: "_Bars") -> Outcome:
        if reason := why_unsendable(recording.path):
            bars.skip(recording)
            return self._kept(recording, reason, unsendable=True)
        bars.start(recording)
        try:
            message = self.deliver(recording, bars.advance, bars.sending)
        except Unreadable as error:
            bars.finish(recording, sent=False)
            return self._kept(recording, str(error), unsendable=True)
        except (Refused, NotWiped, TusCommunicationError, httpx.HTTPError, OSError) as error:
            bars.finish(recording, sent=False)
            return self._kept(recording, str(error))
        bars.finish(recording, sent=True)
        self.console.print(f"[green]{message}[/green] {recording.path.name}")
        return Outcome(recording, True, message)

    def _kept(self, recording: Recording, reason: str, *, unsendable: bool = False) -> Outcome:
        self.console.print(f"[red]kept {recording.path}[/red]: {reason}", highlight=False)
        return Outcome(recording, False, reason, unsendable)

    def deliver(self, recording: Recording, advance: Any = None, sending: Any = None) -> str:
        """Hash, upload (resuming), confirm, and wipe one recording; raise if anything fails.

        `advance(n)` is told of every n bytes hashed or sent; `sending()` when hashing is over.
        """
        advance = advance or (lambda _n: None)
        sha256 = sha256_of(recording.path, advance)
        if sending is not None:
            sending()
        if not self._held(sha256):
            self._upload_with_retries(recording, sha256, advance)
        self._wait_until_held(sha256)
        if self.wipe:
            try:
                recording.wipe()
            except OSError as error:
                raise NotWiped(f"uploaded and confirmed, but not wiped ({_os_reason(error)})") from error
            return "uploaded, confirmed and wiped"
        return "uploaded and confirmed"

    def _upload_with_retries(self, recording: Recording, sha256: str, advance: Any) -> None:
        for attempt in range(1, self.retries + 2):
            try:
                self._upload(recording, sha256, advance)
                return
            except TusCommunicationError as error:
                if (
                    error.status_code is not None
                    and 400 <= error.status_code < 500
                    and error.status_code not in (404, 409, 410, 423)
                ):
                    raise Refused(_reason(error)) from error
                if attempt > self.retries:
                    raise
                time.sleep(self.retry_delay_s * attempt)

    def _upload(self, recording: Recording, sha256: str, advance: Any) -> None:
        store = self._url_store()
        try:
            uploader = self._uploader(recording, sha256, store)
            advance(uploader.offset)
            while uploader.offset < uploader.stop_at:
                before = uploader.offset
                uploader.upload_chunk()
                advance(uploader.offset - before)
            store.remove_item(f"sha256:{sha256}")
        finally:
            store.close()

    def _uploader(self, recording: Recording, sha256: str, store: FileStorage) -> Uploader:
        client = TusClient(f"{self.server}/api/v1/uploads/", headers=self.headers)
        options: dict[str, Any] = {
            "file_path": str(recording.path),
            "chunk_size": self.chunk_size,
            "client": client,
            "metadata": recording.upload_metadata(sha256, METADATA_LIMIT),
            "retries": 3,
            "retry_delay": 1,
            "store_url": True,
            "url_storage": store,
            "fingerprinter": KnownDigest(sha256),
            "upload_checksum": True,
        }
        try:
            return Sha256Uploader(**options)
        except TusCommunicationError:
            # The stored upload is gone (expired, refused, finished elsewhere): start afresh.
            store.remove_item(f"sha256:{sha256}")
            return Sha256Uploader(**options)

    def _url_store(self) -> FileStorage:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return FileStorage(str(self.state_dir / "uploads.json"))

    def _held(self, sha256: str) -> bool:
        response = httpx.get(f"{self.server}/api/v1/held/{sha256}", headers=self.headers, timeout=30)
        response.raise_for_status()
        answer = response.json()
        return bool(answer["sha256"] == sha256 and answer["verified"])

    def _wait_until_held(self, sha256: str) -> None:
        deadline, pause = time.monotonic() + CONFIRM_TIMEOUT_S, 0.25
        while not self._held(sha256):
            if time.monotonic() > deadline:
                raise Refused("the server has not confirmed the stored copy; recording kept")
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)  # each answer is an audited access: ask less often as time goes


def sha256_of(path: Path, advance: Any = None) -> str:
    """SHA-256 of a file, computed at the source before anything is sent; Unreadable if reading fails."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
                if advance:
                    advance(len(chunk))
    except OSError as error:
        raise Unreadable(f"cannot be read ({_os_reason(error)})") from error
    return digest.hexdigest()


class _Bars:
    """Progress in true sizes: each recording's bar counts its bytes hashed, then its bytes sent;
    the batch bar counts bytes sent (a recording the server already holds counts whole)."""

    def __init__(self, progress: Progress, recordings: list[Recording]) -> None:
        self.progress = progress
        self.sizes = {r.path: _size(r.path) for r in recordings}
        self.total = sum(self.sizes.values())
        self.overall = progress.add_task("all recordings", total=self.total, phase="")
        self.done = 0
        self.task: TaskID | None = None
        self.phase = "hash"

    def skip(self, recording: Recording) -> None:
        """A recording that will not be sent: the batch total no longer counts it."""
        self.total -= self.sizes[recording.path]
        self.progress.update(self.overall, total=self.total)

    def start(self, recording: Recording) -> None:
        """A bar for this recording, hashing first."""
        self.phase = "hash"
        size = self.sizes[recording.path]
        self.task = self.progress.add_task(recording.path.name, total=size, phase="hash")

    def sending(self) -> None:
        """Hashing is over: the same bar now counts bytes sent."""
        if self.task is not None:
            self.phase = "send"
            self.progress.reset(self.task, phase="send")

    def advance(self, n: int) -> None:
        """`n` more bytes hashed or sent."""
        if self.task is None:
            return
        self.progress.advance(self.task, n)
        if self.phase == "send":
            self.progress.advance(self.overall, n)

    def finish(self, recording: Recording, *, sent: bool) -> None:
        """Done with this recording: the batch bar moves past it; a sent one's bar shows it whole."""
        self.done += self.sizes[recording.path]
        self.progress.update(self.overall, completed=self.done)
        if self.task is not None and sent:
            self.progress.update(self.task, completed=self.sizes[recording.path], phase="held")
        self.task = None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _signature(recording: Recording) -> tuple[int, int]:
    try:
        info = recording.path.stat()
    except OSError:
        return (-1, -1)
    return (info.st_size, info.st_mtime_ns)


def _already_reported(recording: Recording, reported: dict[Path, tuple[int, int]]) -> bool:
    # An empty or unreadable file is reported once; it is looked at again only when it changes.
    return reported.get(recording.path) == _signature(recording)


def _os_reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def _reason(error: TusCommunicationError) -> str:
    content = error.response_content or b""
    try:
        return str(json.loads(content)["error"])
    except (ValueError, KeyError, TypeError):
        return f"server answered {error.status_code}"
