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


def slow_recording(folder: Path, seconds: int = 40, width: int = 640, height: int = 360) -> Path:
    """A recording whose proxy takes seconds to make: MPEG-4 Part 2 video, which browsers need transcoded.

    For tests that must catch a job while it runs (its worker killed mid-job).
    """
    import av
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "slow.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = width, height, "yuv420p", 1_000_000
        for index in range(seconds * 25):
            picture = np.zeros((height, width, 3), np.uint8)
            picture[:, :, 0] = index * 3 % 255
            picture[index * 5 % height :, index * 7 % width :, 1] = 200
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode())
    return path
