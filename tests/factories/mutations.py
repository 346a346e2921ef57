"""Real container files in many formats, and deterministic ways of damaging them (for fuzzing the media layer).

Used by bench/fuzz_media.py (thousands of cases) and by an integration test that sends a few
damaged files of every format through the real ingest pipeline.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import av.container
import numpy as np

from tests.factories.media import STARTED, audio_recording, phone_clip, sparse_keyframe_clip
from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording

# Sizes are 32-bit big-endian before these ISO box types; corrupting them is the "box-size" mutation.
BOX_TYPES = (b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl",
             b"stsd", b"avc1", b"avcC", b"mp4a", b"esds", b"stts", b"stss", b"stsc", b"stsz", b"stco",
             b"co64", b"ctts", b"edts", b"elst", b"mdat", b"udta", b"meta", b"free")
# EBML IDs (Matroska/WebM) whose size field follows them.
EBML_IDS = (b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67", b"\x16\x54\xae\x6b", b"\x1f\x43\xb6\x75",
            b"\xa3", b"\xae", b"\x63\xa2", b"\x1c\x53\xbb\x6b", b"\x11\x4d\x9b\x74")

# --- seeds -----------------------------------------------------------------------------------------


def other_format_clip(path: Path, container: str, video: str | None, audio: str | None) -> Path:
    """Two seconds of 160x120 pictures and/or a tone in the given container and codecs."""
    with av.open(str(path), "w", format=container) as out:
        v = out.add_stream(video, rate=25) if video else None
        if v is not None:
            v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
            v.codec_context.gop_size = 25
        a = out.add_stream(audio, rate=48_000, layout="stereo") if audio else None
        if a is not None:
            a.codec_context.open(strict=False)
        for index in range(50 if v else 0):
            rgb = np.full((120, 160, 3), (index * 5) % 256, np.uint8)
            rgb[: 10 + index, :, 0] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            for packet in v.encode(frame):
                out.mux(packet)
        if a is not None:
            _tone(out, a)
        for stream in (s for s in (v, a) if s is not None):
            for packet in stream.encode(None):
                out.mux(packet)
    return path


def _tone(out: av.container.OutputContainer, audio: av.AudioStream) -> None:
    ctx = audio.codec_context
    size = ctx.frame_size or 1024
    sample_format = ctx.format
    for start in range(0, 2 * 48_000, size):
        samples = 0.1 * np.sin(2 * np.pi * 440 * (start + np.arange(size)) / 48_000)
        planar = sample_format.is_planar
        dtype = {"s16": np.int16, "s32": np.int32, "flt": np.float32}[sample_format.name.rstrip("p")]
        scale = {np.int16: 32_767, np.int32: 2**31 - 1, np.float32: 1.0}[dtype]
        data = (np.stack([samples, samples]) * scale).astype(dtype)
        frame = av.AudioFrame.from_ndarray(data if planar else data.T.reshape(1, -1),
                                           format=sample_format.name, layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, start, Fraction(1, 48_000)
        for packet in audio.encode(frame):
            out.mux(packet)


SEED_MAKERS: dict[str, Callable[[Path], Path]] = {
    "camera.mp4": lambda folder: write_recording(
        folder, CameraSpec("WBX00001"), RecordingSpec(STARTED, 2.0, width=320, height=240, bookmarks=1),
        seed=1,
    ),
    "phone.mp4": lambda folder: phone_clip(folder / "phone.mp4"),
    "cctv.mp4": lambda folder: sparse_keyframe_clip(folder / "cctv.mp4", seconds=4.0),
    "clip.mkv": lambda folder: other_format_clip(folder / "clip.mkv", "matroska", "libx264", "aac"),
    "clip.webm": lambda folder: other_format_clip(folder / "clip.webm", "webm", "libvpx", "libopus"),
    "clip.mov": lambda folder: other_format_clip(folder / "clip.mov", "mov", "mpeg4", "pcm_s16le"),
    "clip.avi": lambda folder: other_format_clip(folder / "clip.avi", "avi", "mpeg4", "libmp3lame"),
    "clip.ts": lambda folder: other_format_clip(folder / "clip.ts", "mpegts", "libx264", "aac"),
    "call.m4a": lambda folder: audio_recording(folder / "call.m4a"),
    "call.mp3": lambda folder: audio_recording(folder / "call.mp3"),
    "call.wav": lambda folder: audio_recording(folder / "call.wav"),
}


def make_seeds(folder: Path) -> list[Path]:
    """Write every seed file once (each must pass the pipeline's media steps unmutated)."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    for name, make in SEED_MAKERS.items():
        sub = folder / name.replace(".", "-")
        sub.mkdir(exist_ok=True)
        seeds.append(make(sub))
    return seeds


# --- mutations -------------------------------------------------------------------------------------


def _flip_bytes(data: bytearray, rng: random.Random) -> str:
    for _ in range(rng.choice((1, 2, 4, 16, 64))):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return "byte flips"


def _truncate(data: bytearray, rng: random.Random) -> str:
    del data[rng.randrange(1, len(data)):]
    return "truncation"


def _duplicate_chunk(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    chunk = data[start:start + rng.choice((1, 16, 188, 1024, 8192))]
    at = rng.randrange(len(data))
    data[at:at] = chunk
    return "chunk duplicated"


def _remove_chunk(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    del data[start:start + rng.choice((1, 16, 188, 1024, 8192))]
    return "chunk removed"


def _corrupt_size(data: bytearray, rng: random.Random) -> str:
    """An ISO box's 32-bit size or an EBML element's size byte set to something else."""
    iso = [i - 4 for kind in BOX_TYPES for i in _find_all(data, kind) if i >= 4]
    if iso:
        at = rng.choice(iso)
        value = rng.choice((0, 1, 7, 8, 0xFFFFFFFF, rng.randrange(2**32),
                            int.from_bytes(data[at:at + 4], "big") + rng.choice((-1, 1, 4096))))
        data[at:at + 4] = (value % 2**32).to_bytes(4, "big")
        return "box size"
    ebml = [i + len(key) for key in EBML_IDS for i in _find_all(data, key) if i + len(key) < len(data)]
    if ebml:
        data[rng.choice(ebml)] = rng.choice((0x00, 0x01, 0x80, 0xFF, rng.randrange(256)))
        return "element size"
    for _ in range(4):  # no sizes to find: damage the header instead
        data[rng.randrange(min(len(data), 64))] = rng.randrange(256)
    return "header bytes"


def _find_all(data: bytearray, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0 and len(found) < 200:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


MUTATIONS = (_flip_bytes, _truncate, _duplicate_chunk, _remove_chunk, _corrupt_size)


def mutate(seed: bytes, case: int, run_seed: int) -> tuple[bytes, str]:
    """The bytes of one case: one or two mutations, chosen from the case number alone."""
    rng = random.Random(run_seed * 1_000_003 + case)
    data = bytearray(seed)
    names = [rng.choice(MUTATIONS)(data, rng) for _ in range(rng.choice((1, 1, 1, 2)))]
    return bytes(data or b"\0"), " + ".join(names)
