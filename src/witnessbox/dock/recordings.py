"""Recordings on a docked camera: an MP4 and, beside it, the camera's metadata file."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from witnessbox.media.errors import MediaError
from witnessbox.media.simulate import read_sidecar

FILENAME = re.compile(r"^(?P<serial>[A-Za-z0-9-]+)_(?P<date>\d{8})_(?P<time>\d{6})\.mp4$", re.I)


@dataclass(frozen=True)
class Recording:
    """One file to upload and what the camera says about it."""

    path: Path
    camera: str
    started_at: datetime
    sidecar: Path | None
    camera_metadata: dict[str, Any] | None

    @property
    def size(self) -> int:
        """Bytes on the camera."""
        return self.path.stat().st_size

    def upload_metadata(self, sha256: str, limit: int) -> dict[str, str]:
        """tus Upload-Metadata: the required keys plus the camera's metadata (thinned to fit)."""
        metadata = {
            "filename": self.path.name,
            "sha256": sha256,
            "camera": self.camera,
            "started_at": self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if self.camera_metadata is not None:
            metadata["camera_metadata"] = _fit(self.camera_metadata, limit)
        return metadata

    def wipe(self) -> None:
        """Delete the recording (and its metadata file) from the camera."""
        self.path.unlink()
        if self.sidecar is not None:
            self.sidecar.unlink(missing_ok=True)


def find_recordings(folders: list[Path]) -> list[Recording]:
    """Every recording in the camera folders (searched recursively), oldest first."""
    found = [
        _recording(p)
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() == ".mp4"
    ]
    return sorted((r for r in found if r is not None), key=lambda r: r.started_at)


def _recording(path: Path) -> Recording | None:
    try:
        sidecar = read_sidecar(path)
    except MediaError:
        sidecar = None
    if sidecar is not None:
        started = datetime.fromisoformat(str(sidecar["started_at"]).replace("Z", "+00:00"))
        return Recording(
            path, str(sidecar["camera"]), started.astimezone(UTC), path.with_suffix(".json"), sidecar
        )
    match = FILENAME.match(path.name)
    if match is None:
        return None
    started = datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return Recording(path, match["serial"], started, None, None)


def _fit(camera_metadata: dict[str, Any], limit: int) -> str:
    # Long recordings carry long GPS tracks: keep every other point until the header fits.
    data = dict(camera_metadata)
    text = json.dumps(data, separators=(",", ":"))
    while len(text) * 4 // 3 > limit and len(data.get("gps") or []) > 2:
        data["gps"] = data["gps"][::2]
        text = json.dumps(data, separators=(",", ":"))
    return text


def missing_folders(folders: list[Path]) -> list[Path]:
    """The camera folders that do not exist (or are not folders)."""
    return [folder for folder in folders if not folder.is_dir()]


def why_unsendable(path: Path) -> str | None:
    """Why a recording cannot be sent as it is (empty or unreadable), or None when it can."""
    try:
        with path.open("rb") as handle:
            first = handle.read(1)
    except OSError as error:
        return f"cannot be read ({(error.strerror or str(error)).lower()})"
    return None if first else "empty file (0 bytes)"
