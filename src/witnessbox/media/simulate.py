"""Synthetic body-worn camera recordings for demos, tests and benchmarks.

Each recording is an H.264/AAC MP4 laid out the way a real camera writes it
(``moov`` at the end, a keyframe every second) with a burned-in serial/clock
overlay, plus the camera's JSON metadata sidecar.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import av.stream
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from witnessbox.media.errors import MediaError

SIDECAR_FORMAT = "witnessbox-camera/1"
PRE_RECORD_S = 30
GPS_STEP_S = 5.0
AUDIO_RATE = 48_000
AUDIO_BITRATE = 64_000
_AAC_FRAME = 1024  # FFmpeg's native AAC encoder always takes 1024-sample frames
_MAX_SIDECAR_BYTES = 4 * 1024 * 1024
_GAP_BETWEEN_RECORDINGS = timedelta(minutes=5)
_METRES_PER_DEGREE = 111_320.0

# Centres for simulated GPS tracks: English county towns (lat, lon).
_TOWNS: tuple[tuple[float, float], ...] = (
    (52.6309, 1.2974),  # Norwich
    (52.0567, 1.1482),  # Ipswich
    (51.7356, 0.4685),  # Chelmsford
    (52.1356, -0.4685),  # Bedford
    (51.7520, -1.2577),  # Oxford
    (50.7184, -3.5339),  # Exeter
    (51.0150, -3.1029),  # Taunton
    (50.7154, -2.4367),  # Dorchester
    (51.2704, 0.5227),  # Maidstone
    (50.8739, 0.0088),  # Lewes
    (52.2819, -1.5849),  # Warwick
    (52.7073, -2.7553),  # Shrewsbury
    (53.2307, -0.5406),  # Lincoln
    (50.2632, -5.0510),  # Truro
    (51.0632, -1.3080),  # Winchester
    (52.1920, -2.2200),  # Worcester
)

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont
Plane = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class CameraSpec:
    """Identity of a simulated camera."""

    serial: str
    model: str = "RS2-RX"
    firmware: str = "4.2.1"


@dataclass(frozen=True)
class RecordingSpec:
    """What to record: when, for how long and at which quality."""

    started_at: datetime
    seconds: float
    width: int = 1280
    height: int = 720
    fps: int = 25
    video_bitrate: int = 4_000_000
    gps: bool = True
    bookmarks: int = 1
    unique_seconds: float | None = None

    def __post_init__(self) -> None:
        """Reject specs the encoder cannot honour, before any file is created."""
        if self.started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")
        if self.seconds <= 0 or self.fps < 1 or self.bookmarks < 0:
            raise ValueError("seconds and fps must be positive, bookmarks >= 0")
        # yuv420p needs even dimensions; tiny frames cannot hold the overlay.
        if self.width < 32 or self.height < 32 or self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even and at least 32")
        if self.unique_seconds is not None and self.unique_seconds <= 0:
            raise ValueError("unique_seconds must be positive")


# --------------------------------------------------------------------------
# Picture and sound
# --------------------------------------------------------------------------


def _load_font(size: int) -> Font:
    """Pillow's bundled font at ``size`` px (bitmap fallback without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _render_label(text: str, font: Font, max_width: int) -> Plane:
    """Light text on a dark box as a luma tile with even dimensions."""
    probe_draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = (int(v) for v in probe_draw.textbbox((0, 0), text, font=font))
    pad = 4
    width = min(max_width, (right - left + 2 * pad + 1) & ~1)
    height = (bottom - top + 2 * pad + 1) & ~1
    tile = Image.new("L", (width, height), 16)
    ImageDraw.Draw(tile).text((pad - left, pad - top), text, fill=235, font=font)
    return np.asarray(tile, dtype=np.uint8)


class _Painter:
    """Draws frames straight into yuv420p planes with a few numpy operations.

    The moving bars give the encoder real motion to track and the noise block
    keeps the bit rate realistic; both come from precomputed arrays so a 1080p
    frame costs about a millisecond.
    """

    def __init__(self, serial: str, rec: RecordingSpec, seed: int) -> None:
        rng = np.random.default_rng(seed)
        w, h = rec.width, rec.height
        self._w, self._h = w, h
        self.fps = rec.fps
        self._serial, self._started_at = serial, rec.started_at
        self._ramp_x: Plane = (np.arange(2 * w) * 512 // w % 256).astype(np.uint8)
        self._ramp_y: Plane = (np.arange(h) * 64 // h).astype(np.uint8)
        self._block_w, self._block_h = w // 4 & ~1, h // 4 & ~1
        self._noise: Plane = rng.integers(0, 256, (2 * self._block_h, self._block_w), dtype=np.uint8)
        self._font = _load_font(max(8, h // 22))
        self._buf: Plane = np.empty((h * 3 // 2, w), dtype=np.uint8)
        self._label: Plane = np.zeros((2, 2), dtype=np.uint8)
        self._label_second = -1

    def frame(self, index: int) -> av.VideoFrame:
        """Frame number ``index`` (pts in units of 1/fps)."""
        luma = self._buf[: self._h]
        shift = index * max(1, self._w // 160) % self._w
        np.add(self._ramp_x[shift : shift + self._w][None, :], self._ramp_y[:, None], out=luma)
        self._draw_noise(luma, index)
        self._draw_chroma(index // self.fps)
        self._draw_label(index // self.fps)
        frame = av.VideoFrame.from_ndarray(self._buf, format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, self.fps)
        return frame

    def _draw_noise(self, luma: Plane, index: int) -> None:
        """A noise block that drifts across the picture."""
        bw, bh = self._block_w, self._block_h
        x = (index * 2) % (self._w - bw) & ~1
        y = (self._h - bh) // 2
        row = index * 7919 % bh
        luma[y : y + bh, x : x + bw] = self._noise[row : row + bh]

    def _draw_chroma(self, second: int) -> None:
        """Slowly changing tint: flat chroma planes are nearly free to encode."""
        chroma = self._buf[self._h :]
        chroma[: self._h // 4] = 128 + int(24 * math.sin(second / 3))
        chroma[self._h // 4 :] = 128 + int(24 * math.cos(second / 5))

    def _draw_label(self, second: int) -> None:
        """Burn in '<serial>  <wall clock>'; the tile is rendered once per second."""
        if second != self._label_second:
            clock = self._started_at + timedelta(seconds=second)
            text = f"{self._serial}  {clock:%Y-%m-%d %H:%M:%S}"
            self._label = _render_label(text, self._font, self._w - 8)
            self._label_second = second
        th, tw = self._label.shape
        top = left = 4
        self._buf[top : top + th, left : left + tw] = self._label
        # Neutral chroma under the label so the text reads as white on black.
        chroma_u = self._buf[self._h : self._h + self._h // 4]
        chroma_v = self._buf[self._h + self._h // 4 :]
        for plane in (chroma_u, chroma_v):
            _neutral_chroma(plane, top, left, th, tw, self._w)


def _neutral_chroma(plane: Plane, top: int, left: int, th: int, tw: int, width: int) -> None:
    """Grey out the chroma under a luma rectangle.

    Each quarter-size chroma plane is stored as rows of ``width`` bytes that hold
    two chroma rows of ``width // 2`` samples side by side, hence the reshape.
    """
    rows = plane.reshape(-1, width // 2)
    rows[top // 2 : (top + th) // 2, left // 2 : (left + tw) // 2] = 128


class _Tone:
    """A quiet 440 Hz hum with hiss, periodic over one second so it is precomputed."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed + 1)
        n = np.arange(AUDIO_RATE)
        second = 0.02 * np.sin(2 * np.pi * 440 * n / AUDIO_RATE) + rng.normal(0, 0.004, AUDIO_RATE)
        # Append the first frame again so any 1024-sample window is one slice.
        self._cycle = np.concatenate([second, second[:_AAC_FRAME]]).astype(np.float32)

    def frame(self, start: int, count: int) -> av.AudioFrame:
        """``count`` mono samples beginning at sample ``start``."""
        offset = start % AUDIO_RATE
        samples = self._cycle[offset : offset + count].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        return frame


# --------------------------------------------------------------------------
# Encoding and muxing
# --------------------------------------------------------------------------


def _add_streams(
    out: av.container.OutputContainer, rec: RecordingSpec
) -> tuple[av.VideoStream, av.AudioStream]:
    """H.264 with a fixed one-second GOP (like a camera) and mono AAC."""
    # bframes=0 keeps decode order == display order, which the GOP-repeating
    # fast fill relies on; scenecut=0 keeps keyframes exactly one second apart.
    x264 = f"keyint={rec.fps}:min-keyint={rec.fps}:scenecut=0:bframes=0"
    video = out.add_stream("libx264", rate=rec.fps, options={"preset": "ultrafast", "x264-params": x264})
    video.width, video.height, video.pix_fmt = rec.width, rec.height, "yuv420p"
    video.bit_rate = rec.video_bitrate
    video.codec_context.gop_size = rec.fps
    audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
    audio.bit_rate = AUDIO_BITRATE
    return video, audio


def _encoded_packets(
    video: av.VideoStream, audio: av.AudioStream, painter: _Painter, tone: _Tone, frames: int, samples: int
) -> Iterator[av.Packet[Any]]:
    """Encode second by second so audio and video stay interleaved in the file."""
    audio_pos, rate = 0, painter.fps
    for second in range(math.ceil(frames / rate)):
        for index in range(second * rate, min((second + 1) * rate, frames)):
            yield from video.encode(painter.frame(index))
        # Whole AAC frames only: the encoder accepts a short frame only at the end.
        while audio_pos < min(samples, (second + 1) * AUDIO_RATE):
            count = min(_AAC_FRAME, samples - audio_pos)
            yield from audio.encode(tone.frame(audio_pos, count))
            audio_pos += count
    yield from video.encode(None)
    yield from audio.encode(None)


@dataclass(frozen=True, slots=True)
class _Captured:
    """An encoded packet kept in memory so it can be written again, shifted."""

    is_video: bool
    data: bytes
    pts: int
    dts: int
    duration: int
    keyframe: bool


def _capture(packet: av.Packet[Any], video: av.VideoStream) -> _Captured:
    """Copy the payload and timing out of an encoder packet."""
    pts = packet.pts if packet.pts is not None else 0
    dts = packet.dts if packet.dts is not None else pts
    is_video = packet.stream is video
    return _Captured(is_video, bytes(packet), pts, dts, packet.duration or 0, packet.is_keyframe)


def _mux_repeated(
    out: av.container.OutputContainer,
    streams: tuple[av.VideoStream, av.AudioStream],
    captured: list[_Captured],
    totals: tuple[int, int],
    spans: tuple[int, int],
) -> None:
    """Write the captured GOPs again and again with shifted timestamps.

    ``totals`` and ``spans`` are (video frames, audio samples) for the whole
    recording and for one repetition. Audio packets outside ``[0, span)`` are
    skipped so every repetition continues the timeline without overlap.
    """
    copies = math.ceil(totals[0] / spans[0])
    for copy in range(copies):
        for item in captured:
            kind = 0 if item.is_video else 1
            first_ok = item.pts >= 0 or copy == 0  # encoder priming only once
            shifted = item.pts + copy * spans[kind]
            if first_ok and item.pts < spans[kind] and shifted < totals[kind]:
                out.mux(_shifted_packet(item, copy * spans[kind], streams[kind]))


def _shifted_packet(item: _Captured, shift: int, stream: av.VideoStream | av.AudioStream) -> av.Packet[Any]:
    """A fresh packet for ``item`` moved ``shift`` ticks later."""
    packet = av.Packet(item.data)
    packet.pts, packet.dts = item.pts + shift, item.dts + shift
    packet.duration = item.duration
    packet.time_base = stream.codec_context.time_base
    packet.is_keyframe = item.keyframe
    packet.stream = stream
    return packet


def _write_mp4(path: Path, camera: CameraSpec, rec: RecordingSpec, seed: int) -> None:
    """Encode the recording; memory stays flat except for the fast-fill GOPs."""
    frames = max(1, round(rec.seconds * rec.fps))
    samples = round(frames / rec.fps * AUDIO_RATE)
    unique_frames = frames if rec.unique_seconds is None else math.ceil(rec.unique_seconds) * rec.fps
    painter, tone = _Painter(camera.serial, rec, seed), _Tone(seed)
    # No faststart on purpose: real cameras append the moov when they stop.
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["creation_time"] = _iso_z(rec.started_at)
        video, audio = _add_streams(out, rec)
        if unique_frames >= frames:
            for packet in _encoded_packets(video, audio, painter, tone, frames, samples):
                out.mux(packet)
            return
        unique_samples = unique_frames // rec.fps * AUDIO_RATE
        packets = _encoded_packets(video, audio, painter, tone, unique_frames, unique_samples)
        captured = [_capture(p, video) for p in packets]
        _mux_repeated(out, (video, audio), captured, (frames, samples), (unique_frames, unique_samples))


# --------------------------------------------------------------------------
# Sidecar metadata
# --------------------------------------------------------------------------


def _iso_z(moment: datetime) -> str:
    """UTC ISO-8601 to the second with a 'Z' suffix, as cameras write it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gps_track(rng: random.Random, seconds: float) -> list[dict[str, float]]:
    """A walk or drive starting within ~10 km of a county town, one fix per 5 s."""
    lat, lon = rng.choice(_TOWNS)
    distance, bearing = 10_000 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    lat, lon = _move(lat, lon, distance, bearing)
    speed = rng.uniform(1.0, 1.8) if rng.random() < 0.6 else rng.uniform(6.0, 14.0)
    heading = rng.uniform(0, 2 * math.pi)
    track: list[dict[str, float]] = []
    for step in range(int(seconds // GPS_STEP_S) + 1):
        track.append({"t": step * GPS_STEP_S, "lat": round(lat, 6), "lon": round(lon, 6)})
        heading += rng.gauss(0, 0.4)
        lat, lon = _move(lat, lon, speed * GPS_STEP_S, heading)
    return track


def _move(lat: float, lon: float, metres: float, bearing: float) -> tuple[float, float]:
    """Flat-earth step; ample accuracy over a few kilometres."""
    dlat = metres * math.cos(bearing) / _METRES_PER_DEGREE
    dlon = metres * math.sin(bearing) / (_METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def _bookmarks(rng: random.Random, seconds: float, count: int) -> list[dict[str, object]]:
    """``count`` bookmarks at random times, numbered in time order."""
    times = sorted(round(rng.uniform(0, seconds), 1) for _ in range(count))
    return [{"t": t, "label": f"Bookmark {i}"} for i, t in enumerate(times, start=1)]


def _sidecar(camera: CameraSpec, rec: RecordingSpec, file_name: str, seed: int) -> dict[str, object]:
    """The camera's metadata document for one recording."""
    # Seeded per camera (not per start time) so tracks repeat for a given seed.
    rng = random.Random(f"witnessbox-sim:{seed}:{camera.serial}")
    gps = _gps_track(rng, rec.seconds) if rec.gps else []
    return {
        "format": SIDECAR_FORMAT,
        "camera": camera.serial,
        "model": camera.model,
        "firmware": camera.firmware,
        "file": file_name,
        "started_at": _iso_z(rec.started_at),
        "duration_s": round(float(rec.seconds), 3),
        "pre_record_s": PRE_RECORD_S,
        "gps": gps,
        "bookmarks": _bookmarks(rng, rec.seconds, rec.bookmarks),
    }


def recording_name(serial: str, started_at: datetime) -> str:
    """Camera-style base name: ``<SERIAL>_<YYYYMMDD>_<HHMMSS>`` (UTC)."""
    return f"{serial}_{started_at.astimezone(UTC):%Y%m%d_%H%M%S}"


def write_recording(folder: Path, camera: CameraSpec, rec: RecordingSpec, *, seed: int = 0) -> Path:
    """Write one camera recording and return the MP4 path.

    Writes <folder>/<name>.MP4 plus its sidecar <folder>/<name>.json.
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = recording_name(camera.serial, rec.started_at)
    mp4 = folder / f"{name}.MP4"
    _write_mp4(mp4, camera, rec, seed)
    document = _sidecar(camera, rec, mp4.name, seed)
    (folder / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return mp4


def write_camera_folders(
    out: Path,
    *,
    cameras: int,
    minutes: float,
    recordings_per_camera: int = 1,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    video_bitrate: int = 4_000_000,
    start: datetime | None = None,
    seed: int = 0,
    unique_seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    serials: Sequence[str] | None = None,
) -> list[Path]:
    """Write N camera folders <out>/<SERIAL>/ each with recordings; return the MP4 paths.

    Serials are `serials` (as many as there are) or else "WBX" + a zero-padded number
    (e.g. WBX00001).

    ``minutes`` is the length of each recording. Recordings of one camera are
    five minutes apart; without ``start`` the last ones end about now.
    """
    seconds = minutes * 60
    step = timedelta(seconds=seconds) + _GAP_BETWEEN_RECORDINGS
    first = start if start is not None else _default_start(step * recordings_per_camera)
    names = list(serials) if serials else [f"WBX{number:05d}" for number in range(1, cameras + 1)]
    total, paths = len(names) * recordings_per_camera, []
    for number, serial in enumerate(names, start=1):
        camera = CameraSpec(serial=serial)
        for index in range(recordings_per_camera):
            # Stagger cameras by a few seconds so file names differ like real ones.
            began = first + step * index + timedelta(seconds=7 * (number - 1))
            rec = RecordingSpec(
                began, seconds, width, height, fps, video_bitrate, unique_seconds=unique_seconds
            )
            paths.append(write_recording(out / camera.serial, camera, rec, seed=seed * 1000 + index))
            if progress is not None:
                progress(len(paths), total)
    return paths


def _default_start(span: timedelta) -> datetime:
    """Whole-minute UTC start so that ``span`` of recordings ends about now."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - span


# --------------------------------------------------------------------------
# Reading sidecars back
# --------------------------------------------------------------------------


def read_sidecar(mp4: Path) -> dict[str, object] | None:
    """Read and validate the camera's metadata file beside a recording.

    Returns None when there is none; raises MediaError when it is malformed.
    """
    path = _sidecar_path(mp4)
    if path is None:
        return None
    try:
        if path.stat().st_size > _MAX_SIDECAR_BYTES:
            raise MediaError(f"camera metadata file {path.name} is too large")
        document = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_not_a_number)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MediaError(f"camera metadata file {path.name} is not readable JSON ({exc})") from exc
    _validate_sidecar(document, mp4.name)
    return document  # type: ignore[no-any-return]  # validated above


def _not_a_number(name: str) -> None:
    """NaN and Infinity are not JSON numbers; a camera that writes them wrote a broken file."""
    raise ValueError(f"{name} is not a number")


def _sidecar_path(mp4: Path) -> Path | None:
    """``<name>.json`` beside the recording (either case), if present."""
    for suffix in (".json", ".JSON"):
        candidate = mp4.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


_TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "camera": str,
    "model": str,
    "firmware": str,
    "file": str,
    "started_at": str,
    "duration_s": (int, float),
    "pre_record_s": (int, float),
    "gps": list,
    "bookmarks": list,
}


def _validate_sidecar(document: object, mp4_name: str) -> None:
    """Raise MediaError naming the first problem with a sidecar document."""
    if not isinstance(document, dict):
        raise MediaError("camera metadata is not a JSON object")
    for key, kind in _TOP_LEVEL.items():
        value = document.get(key)
        # bool is an int subclass; a true/false duration is still malformed.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise MediaError(f"camera metadata field '{key}' is missing or has the wrong type")
    if document["format"] != SIDECAR_FORMAT:
        raise MediaError(f"camera metadata format {document['format']!r} is not supported")
    if document["file"].casefold() != mp4_name.casefold():
        raise MediaError(f"camera metadata describes {document['file']!r}, not {mp4_name!r}")
    _check_time(document["started_at"])
    if document["duration_s"] < 0 or document["pre_record_s"] < 0:
        raise MediaError("camera metadata has a negative duration")
    for point in document["gps"]:
        _check_point(point)
    for mark in document["bookmarks"]:
        _check_bookmark(mark)


def _check_time(text: str) -> None:
    """started_at must be an ISO-8601 time with a zone."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MediaError(f"camera metadata start time {text!r} is not ISO-8601") from exc
    if moment.tzinfo is None:
        raise MediaError(f"camera metadata start time {text!r} has no time zone")


def _is_number(value: object) -> bool:
    """A JSON number that is not a boolean and not NaN/infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_point(point: object) -> None:
    """One GPS fix: {t >= 0, lat in [-90, 90], lon in [-180, 180]}."""
    if not isinstance(point, dict) or not all(_is_number(point.get(k)) for k in ("t", "lat", "lon")):
        raise MediaError("camera metadata has a malformed GPS point")
    if point["t"] < 0 or abs(point["lat"]) > 90 or abs(point["lon"]) > 180:
        raise MediaError("camera metadata has a GPS point out of range")


def _check_bookmark(mark: object) -> None:
    """One bookmark: {t >= 0, label: str}."""
    if not isinstance(mark, dict) or not _is_number(mark.get("t")) or not isinstance(mark.get("label"), str):
        raise MediaError("camera metadata has a malformed bookmark")
    if mark["t"] < 0:
        raise MediaError("camera metadata has a bookmark before the start")
