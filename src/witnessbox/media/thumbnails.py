"""Thumbnail sprite strips for scrubbing through a recording."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
from PIL import Image

from witnessbox.media.errors import MediaError
from witnessbox.media.probe import INPUT_ERRORS, picture_stream

JPEG_QUALITY = 80
# Counter-clockwise display rotation -> the PIL turn that shows the picture the right way up.
UPRIGHT = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class ThumbnailStrip:
    """A sprite of ``count`` tiles, each ``tile_width`` x ``tile_height``, left to right."""

    count: int
    tile_width: int
    tile_height: int
    timestamps_s: list[float]

    def as_dict(self) -> dict[str, object]:
        """JSON-serialisable field mapping."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Plan:
    """How to cut the tiles: how many, how tall, which way up, and whether seeking pays."""

    count: int
    tile_height: int
    rotation: int
    keyframe_interval_s: float | None
    seek: bool = True


def thumbnail_strip(
    src: Path,
    dest: Path,
    *,
    count: int = 12,
    tile_height: int = 90,
    rotation: int = 0,
    keyframe_interval_s: float | None = None,
) -> ThumbnailStrip:
    """Write one JPEG sprite of `count` evenly spaced frames side by side to dest.

    For each time: seek to the keyframe before it, then decode to the wanted time. When
    keyframes are further apart than the tiles (CCTV with one a minute, or one a file),
    one pass from the start decodes each frame once instead. Tiles are turned upright by
    the recording's display `rotation` (counter-clockwise degrees, as probe reports it).
    """
    if count < 1 or tile_height < 2:
        raise ValueError("count must be >= 1 and tile_height >= 2")
    plan = _Plan(count, tile_height, rotation % 360 if rotation % 90 == 0 else 0, keyframe_interval_s)
    try:
        tiles, times, tile_width = _read_tiles(src, plan)
    except _SeekFailed:
        # Some damaged or unusual files refuse to seek; one linear pass still works.
        tiles, times, tile_width = _read_tiles(src, dataclasses.replace(plan, seek=False))
    _save_sprite(tiles, tile_width, tile_height, dest)
    return ThumbnailStrip(count, tile_width, tile_height, times)


class _SeekFailed(Exception):
    """The demuxer refused a seek."""


Tile = tuple[Image.Image, float]


def _read_tiles(src: Path, plan: _Plan) -> tuple[list[Image.Image], list[float], int]:
    """Open ``src`` and grab the tiles, turning read errors into MediaError."""
    try:
        with av.open(str(src), metadata_errors="replace") as container:
            return _grab_tiles(container, plan)
    except (MediaError, _SeekFailed):
        raise
    except INPUT_ERRORS as exc:
        raise MediaError(
            f"cannot read video for thumbnails: {getattr(exc, 'strerror', None) or exc}"
        ) from exc


def _grab_tiles(
    container: av.container.InputContainer, plan: _Plan
) -> tuple[list[Image.Image], list[float], int]:
    """One scaled picture per evenly spaced time, in time order."""
    stream = picture_stream(container)
    if stream is None:
        raise MediaError("not a video file: no video stream")
    # Not frame threads: the strip stops decoding part-way, and closing a frame-threaded decoder
    # part-way through damaged data hung about one time in a hundred (bench/fuzz_media.py).
    stream.codec_context.thread_type = "SLICE"
    shape = _Shape(_tile_width(stream, plan.tile_height, plan.rotation), plan.tile_height, plan.rotation)
    duration = _duration(container, stream)
    # Centre of each of `count` equal slices: never the very last frame.
    wanted = [duration * (index + 0.5) / plan.count for index in range(plan.count)]
    if plan.seek and not _sparse_keyframes(plan, duration):
        found = _seek_each(container, stream, wanted, shape)
    else:
        found = _single_pass(container, stream, wanted, shape)
    tiles, times = _fill_gaps(found)
    return tiles, times, shape.width


def _sparse_keyframes(plan: _Plan, duration: float) -> bool:
    """Keyframes further apart than the tiles: seeking would decode the same stretch again and again."""
    gap = plan.keyframe_interval_s
    return gap is not None and gap > duration / plan.count


@dataclass(frozen=True)
class _Shape:
    """A tile as shown (``width`` x ``height``) and the turn that puts the decoded picture upright."""

    width: int
    height: int
    rotation: int

    @property
    def decoded(self) -> tuple[int, int]:
        """The size to scale a decoded picture to before turning it."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


def _fill_gaps(found: list[Tile | None]) -> tuple[list[Image.Image], list[float]]:
    """Repeat the previous tile where nothing decoded (e.g. past the last good frame)."""
    tiles: list[Image.Image] = []
    times: list[float] = []
    for item in found:
        if item is None and not tiles:
            continue
        image, at = item if item is not None else (tiles[-1], times[-1])
        tiles.append(image)
        times.append(round(max(at, times[-1]) if times else at, 3))
    if not tiles:
        raise MediaError("no video frame can be decoded")
    # Leading gaps (first slices undecodable) take the first good tile.
    missing = len(found) - len(tiles)
    return [tiles[0]] * missing + tiles, [times[0]] * missing + times


def _origin_and_tolerance(stream: av.VideoStream) -> tuple[float, float]:
    """Stream start in seconds, and half a frame: timestamps are rounded in files."""
    time_base = stream.time_base or Fraction(1, av.time_base)
    return float((stream.start_time or 0) * time_base), 0.5 / float(stream.average_rate or 25)


def _seek_each(
    container: av.container.InputContainer, stream: av.VideoStream, wanted: list[float], size: _Shape
) -> list[Tile | None]:
    """For each time: seek to the keyframe before it, decode forward to it.

    Costs at most one GOP of decoding per tile, whatever the file length.
    """
    time_base = stream.time_base or Fraction(1, av.time_base)
    origin, tolerance = _origin_and_tolerance(stream)
    found: list[Tile | None] = []
    for target in wanted:
        try:
            container.seek(int((origin + target) / time_base), stream=stream, backward=True)
        except INPUT_ERRORS as exc:
            raise _SeekFailed from exc
        latest: tuple[av.VideoFrame, float] | None = None
        for frame in _frames(container, stream):
            latest = (frame, _time_of(frame, origin, target))
            if latest[1] >= target - tolerance:
                break
        # Only the chosen frame is scaled: scaling every decoded one is the slow part.
        found.append(None if latest is None else (_scaled(latest[0], size), latest[1]))
    return found


def _single_pass(
    container: av.container.InputContainer, stream: av.VideoStream, wanted: list[float], size: _Shape
) -> list[Tile | None]:
    """Decode from the start once, taking the first frame at or after each time.

    Bounded: stops at the last wanted time, and scales only the frames it keeps.
    """
    origin, tolerance = _origin_and_tolerance(stream)
    found: list[Tile | None] = [None] * len(wanted)
    index = 0
    for frame in _frames(container, stream):
        at = _time_of(frame, origin, wanted[index])
        if at >= wanted[index] - tolerance:
            image = _scaled(frame, size)
            while index < len(wanted) and at >= wanted[index] - tolerance:
                found[index], index = (image, at), index + 1
            if index == len(wanted):
                break
    return found


def _scaled(frame: av.VideoFrame, size: _Shape) -> Image.Image:
    """The frame scaled to a tile (libswscale) and turned upright, as an RGB image."""
    width, height = size.decoded
    image = Image.fromarray(frame.to_ndarray(width=width, height=height, format="rgb24"))
    turn = UPRIGHT.get(size.rotation)
    return image if turn is None else image.transpose(turn)


def _time_of(frame: av.VideoFrame, origin: float, fallback: float) -> float:
    """Frame time relative to the stream start."""
    return float(frame.time) - origin if frame.time is not None else fallback


def _frames(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
    """Decoded frames from the current position, skipping packets that fail to decode.

    A damaged packet spoils a few pictures, not the whole strip.
    """
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except INPUT_ERRORS:
            continue
        yield from frames


def _tile_width(stream: av.VideoStream, tile_height: int, rotation: int = 0) -> int:
    """Width keeping the display aspect ratio (honouring non-square pixels and a quarter turn)."""
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        raise MediaError("corrupt: the video stream has no dimensions")
    aspect = ctx.width / ctx.height
    sar = stream.sample_aspect_ratio
    if sar and sar > 0:
        aspect *= float(sar)
    if rotation in (90, 270):
        aspect = 1 / aspect
    return max(1, round(tile_height * aspect))


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Video duration in seconds from the stream, else the container."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    raise MediaError("zero duration: the recording contains no playable time")


def _save_sprite(tiles: list[Image.Image], tile_width: int, tile_height: int, dest: Path) -> None:
    """Paste the tiles side by side and write a JPEG."""
    sprite = Image.new("RGB", (tile_width * len(tiles), tile_height))
    for index, tile in enumerate(tiles):
        sprite.paste(tile, (index * tile_width, 0))
    sprite.save(dest, format="JPEG", quality=JPEG_QUALITY)
