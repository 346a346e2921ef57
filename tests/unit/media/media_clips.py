"""Small media files and readers shared by the media tests (and integration tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import av.container
import numpy as np

STARTED = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)


def encode_test_clip(path: Path, *, codec: str, gop: int, seconds: float = 3.0, fps: int = 25) -> Path:
    """A 160x120 clip with the given video codec and GOP plus PCM/AAC audio."""
    container_format = "mov" if codec == "mpeg4" else "mp4"
    with av.open(str(path), "w", format=container_format) as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        video.codec_context.gop_size = gop
        if codec == "libx264":
            video.codec_context.options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        audio = out.add_stream(
            "pcm_s16le" if container_format == "mov" else "aac", rate=44_100, layout="stereo"
        )
        frames = int(seconds * fps)
        for index in range(frames):
            _mux(out, video.encode(_test_frame(index, fps)))
        _mux_audio(out, audio, seconds)
        _mux(out, video.encode(None))
    return path


def _test_frame(index: int, fps: int) -> av.VideoFrame:
    """A moving ramp: changes every frame but never like a scene cut."""
    ramp = (np.arange(160, dtype=np.uint16)[None, :] + index * 3 + np.arange(120)[:, None]) % 256
    rgb = np.repeat(ramp.astype(np.uint8)[:, :, None], 3, axis=2)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    frame.pts, frame.time_base = index, Fraction(1, fps)
    return frame


def _mux_audio(out: av.container.OutputContainer, audio: av.AudioStream, seconds: float) -> None:
    """Quiet noise in 1024-sample frames (the AAC encoder's frame size)."""
    rng = np.random.default_rng(0)
    total = int(seconds * 44_100)
    s16 = audio.codec_context.name.startswith("pcm")
    for start in range(0, total, 1024):
        count = min(1024, total - start)
        if s16:
            frame = av.AudioFrame.from_ndarray(
                rng.integers(-300, 300, (1, 2 * count), dtype=np.int16), format="s16", layout="stereo"
            )
        else:
            frame = av.AudioFrame.from_ndarray(
                rng.normal(0, 0.01, (2, count)).astype(np.float32), format="fltp", layout="stereo"
            )
        frame.sample_rate, frame.pts, frame.time_base = 44_100, start, Fraction(1, 44_100)
        _mux(out, audio.encode(frame))
    _mux(out, audio.encode(None))


def _mux(out: av.container.OutputContainer, packets: list[av.Packet]) -> None:
    """Write encoder output."""
    for packet in packets:
        out.mux(packet)


def top_level_box_types(path: Path) -> list[str]:
    """Top-level ISO box types in file order, read from the size+type headers."""
    kinds: list[str] = []
    with path.open("rb") as handle:
        size_total = handle.seek(0, 2)
        offset = 0
        while offset + 8 <= size_total:
            handle.seek(offset)
            header = handle.read(16)
            size = int.from_bytes(header[:4], "big")
            kinds.append(header[4:8].decode("ascii"))
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            offset = size_total if size == 0 else offset + size
    return kinds
