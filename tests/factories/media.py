"""Tiny simulated recordings, made once per test session and copied where needed."""

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording

STARTED = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)


def tiny_recording(folder: Path, serial: str = "WBX00001", seconds: float = 3.0,
                   started_at: datetime = STARTED, seed: int = 0) -> Path:
    """A few seconds of 320x240 H.264/AAC with its metadata file, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = RecordingSpec(started_at=started_at, seconds=seconds, width=320, height=240, fps=25,
                         video_bitrate=400_000)
    return write_recording(folder, CameraSpec(serial), spec, seed=seed)


def copy_recording(mp4: Path, folder: Path) -> Path:
    """Copy a recording and its metadata file into another camera folder."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / mp4.name
    shutil.copy2(mp4, target)
    if mp4.with_suffix(".json").exists():
        shutil.copy2(mp4.with_suffix(".json"), target.with_suffix(".json"))
    return target


def sha256_file(path: Path) -> str:
    """SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
