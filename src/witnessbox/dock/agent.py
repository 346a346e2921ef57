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
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.fingerprint.interface import Fingerprint
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader.uploader import Uploader

from witnessbox.dock.recordings import Recording, find_recordings

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


@dataclass
class Outcome:
    """What happened to one recording."""

    recording: Recording
    ok: bool
    message: str


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
        """Upload everything found; with `watch`, keep looking. Returns the number that failed."""
        folders = list(folders)
        while True:
            outcomes = self.upload_all(find_recordings(folders))
            failed = sum(not o.ok for o in outcomes)
            if not watch:
                return failed
            time.sleep(poll_s)

    def upload_all(self, recordings: list[Recording]) -> list[Outcome]:
        """Upload a batch, showing progress per file and overall."""
        total = sum(r.size for r in recordings)
        columns = ("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=self.console, transient=False) as progress:
            overall = progress.add_task("all recordings", total=total)
            return [self._one(r, progress, overall) for r in recordings]

    def _one(self, recording: Recording, progress: Progress, overall: Any) -> Outcome:
        task = progress.add_task(recording.path.name, total=recording.size * 2)
        try:

            def advance(n: int) -> None:
                progress.advance(task, n)
                progress.advance(overall, n / 2)

            message = self.deliver(recording, advance)
        except (Refused, TusCommunicationError, httpx.HTTPError, OSError) as error:
            self.console.print(f"[red]kept {recording.path}[/red]: {error}")
            return Outcome(recording, False, str(error))
        self.console.print(f"[green]{message}[/green] {recording.path.name}")
        return Outcome(recording, True, message)

    def deliver(self, recording: Recording, advance: Any = None) -> str:
        """Hash, upload (resuming), confirm, and wipe one recording; raise if anything fails."""
        advance = advance or (lambda _n: None)
        sha256 = sha256_of(recording.path, advance)
        if not self._held(sha256):
            self._upload_with_retries(recording, sha256, advance)
        self._wait_until_held(sha256)
        if self.wipe:
            recording.wipe()
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
    """SHA-256 of a file, computed at the source before anything is sent."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            if advance:
                advance(len(chunk))
    return digest.hexdigest()


def _reason(error: TusCommunicationError) -> str:
    content = error.response_content or b""
    try:
        return str(json.loads(content)["error"])
    except (ValueError, KeyError, TypeError):
        return f"server answered {error.status_code}"
