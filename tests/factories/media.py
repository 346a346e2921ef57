"""Tiny simulated recordings, made once per test session and copied where needed."""

import hashlib
import shutil
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import av.container
import numpy as np

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


# --- footage that is not from our cameras: phones, CCTV, call recordings ----------------------------

WIDTH, HEIGHT, FPS, RATE = 96, 64, 25, 44_100
AUDIO_CODECS = {".m4a": ("mp4", "aac"), ".mp3": ("mp3", "libmp3lame"), ".wav": ("wav", "pcm_s16le")}


def marked_picture(index: int) -> np.ndarray:
    """A grey picture with a red band along its top edge (so the way up can be checked) that changes a little."""
    rgb = np.full((HEIGHT, WIDTH, 3), 80 + index % 50, np.uint8)
    rgb[:12, :] = (230, 20, 20)
    return rgb


def phone_clip(path: Path, *, rotation: int = 90, codec: str = "libx264", gop: int = FPS,
               seconds: float = 2.0) -> Path:
    """A clip shot holding the phone on its side: landscape pixels plus a display matrix turning them by `rotation`.

    With H.264 and a short GOP the proxy is a remux; another codec or a long GOP makes it a transcode.
    """
    with av.open(str(path), "w", format="mov" if path.suffix == ".mov" else "mp4") as out:
        video = out.add_stream(codec, rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.gop_size = gop
        if codec == "libx264":
            video.codec_context.options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        video.set_display_rotation(rotation)
        _encode_video(out, video, seconds)
    return path


def sparse_keyframe_clip(path: Path, *, seconds: float = 8.0) -> Path:
    """CCTV-like H.264 with one keyframe for the whole file (no audio)."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.gop_size = 100_000
        video.codec_context.options = {"x264-params": "keyint=infinite:scenecut=0"}
        _encode_video(out, video, seconds)
    return path


def cut_before_keyframe_clip(path: Path, *, lead_s: float = 70.0, fps: int = 5) -> Path:
    """CCTV exported mid-minute: the file starts `lead_s` seconds before its first keyframe, then 10 s more.

    Written as a whole minute-keyframe recording, then copied from a point between keyframes.
    """
    whole = path.with_name(f"whole-{path.name}")
    skipped = 10 * fps
    with av.open(str(whole), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.codec_context.options = {"x264-params": "keyint=infinite:scenecut=0"}
        for index in range(skipped + int((lead_s + 10) * fps)):
            frame = av.VideoFrame.from_ndarray(marked_picture(index), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            if index == skipped + int(lead_s * fps):
                frame.pict_type = av.video.frame.PictureType.I
            _mux(out, video.encode(frame))
        _mux(out, video.encode(None))
    with av.open(str(whole)) as src, av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None and packet.pts is not None and packet.pts >= _pts_at(src, skipped):
                packet.stream = stream
                out.mux(packet)
    whole.unlink()
    return path


def _pts_at(container: av.container.InputContainer, frame_index: int) -> int:
    stream = container.streams.video[0]
    return round(frame_index / stream.average_rate / stream.time_base)


def audio_recording(path: Path, *, seconds: float = 2.0) -> Path:
    """A call recording: a tone, no picture; the suffix (.m4a, .mp3 or .wav) picks container and codec."""
    container_format, codec = AUDIO_CODECS[path.suffix]
    with av.open(str(path), "w", format=container_format) as out:
        audio = out.add_stream(codec, rate=RATE, layout="mono")
        audio.codec_context.open(strict=False)
        size = audio.codec_context.frame_size or 1024
        sample_format = audio.codec_context.format.name
        for start in range(0, int(seconds * RATE), size):
            tone = 0.2 * np.sin(2 * np.pi * 440 * (start + np.arange(size)) / RATE)
            frame = av.AudioFrame.from_ndarray(_samples(tone, sample_format), format=sample_format, layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            _mux(out, audio.encode(frame))
        _mux(out, audio.encode(None))
    return path


def _samples(tone: np.ndarray, sample_format: str) -> np.ndarray:
    if sample_format.startswith("s16"):
        return (tone * 32_767).astype(np.int16)[None, :]
    if sample_format.startswith("s32"):
        return (tone * 2_147_483_647).astype(np.int32)[None, :]
    return tone.astype(np.float32)[None, :]


def _encode_video(out: av.container.OutputContainer, video: av.VideoStream, seconds: float) -> None:
    for index in range(int(seconds * FPS)):
        frame = av.VideoFrame.from_ndarray(marked_picture(index), format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, FPS)
        _mux(out, video.encode(frame))
    _mux(out, video.encode(None))


def _mux(out: av.container.OutputContainer, packets: list[av.Packet]) -> None:
    for packet in packets:
        out.mux(packet)
