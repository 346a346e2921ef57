"""Thumbnail sprite strips for scrubbing through a recording."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
from PIL import Image

from witnessbox.media.errors import MediaError
from witnessbox.media.probe import INPUT_ERRORS

JPEG_QUALITY = 80


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


def thumbnail_strip(src: Path, dest: Path, *, count: int = 12, tile_height: int = 90) -> ThumbnailStrip:
    """Write one JPEG sprite of `count` evenly spaced frames side by side to dest (seek to the keyframe before each time, decode to the wanted time)."""
    if count < 1 or tile_height < 2:
        raise ValueError("count must be >= 1 and tile_height >= 2")
    try:
        with av.open(str(src), metadata_errors="replace") as container:
            tiles, times, tile_width = _grab_tiles(container, count, tile_height)
    except MediaError:
        raise
    except INPUT_ERRORS as exc:
        raise MediaError(f"cannot read video for thumbnails: {getattr(exc, 'strerror', None) or exc}") from exc
    _save_sprite(tiles, tile_width, tile_height, dest)
    return ThumbnailStrip(count, tile_width, tile_height, times)


def _grab_tiles(
    container: av.container.InputContainer, count: int, tile_height: int
) -> tuple[list[Image.Image], list[float], int]:
    """Decode one scaled picture per evenly spaced time."""
    if not container.streams.video:
        raise MediaError("not a video file: no video stream")
    stream = container.streams.video[0]
    stream.codec_context.thread_type = "AUTO"
    tile_width = _tile_width(stream, tile_height)
    duration = _duration(container, stream)
    tiles: list[Image.Image] = []
    times: list[float] = []
    for index in range(count):
        # Centre of each of `count` equal slices: never the very last frame.
        wanted = duration * (index + 0.5) / count
        found = _frame_at(container, stream, wanted)
        if found is None:
            if not tiles:
                raise MediaError("no video frame can be decoded")
            tiles.append(tiles[-1])  # past the last decodable frame: repeat it
            times.append(times[-1])
            continue
        frame, at = found
        tiles.append(frame.to_image(width=tile_width, height=tile_height))
        times.append(round(max(at, times[-1]) if times else at, 3))
    return tiles, times, tile_width


def _tile_width(stream: av.VideoStream, tile_height: int) -> int:
    """Width keeping the display aspect ratio (honouring non-square pixels)."""
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        raise MediaError("corrupt: the video stream has no dimensions")
    aspect = ctx.width / ctx.height
    sar = stream.sample_aspect_ratio
    if sar and sar > 0:
        aspect *= float(sar)
    return max(1, round(tile_height * aspect))


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Video duration in seconds from the stream, else the container."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    raise MediaError("zero duration: the recording contains no playable time")


def _frame_at(
    container: av.container.InputContainer, stream: av.VideoStream, wanted: float
) -> tuple[av.VideoFrame, float] | None:
    """First frame at or after ``wanted`` s (or the last one before the end).

    Seeking lands on the keyframe before ``wanted``; decoding forward from
    there gives the exact picture, at the cost of at most one GOP.
    """
    time_base = stream.time_base or Fraction(1, av.time_base)
    origin = float((stream.start_time or 0) * time_base)
    container.seek(int((origin + wanted) / time_base), stream=stream, backward=True)
    # Half a frame early still counts: timestamps are rounded in the file.
    tolerance = 0.5 / float(stream.average_rate or 25)
    latest: tuple[av.VideoFrame, float] | None = None
    for frame in container.decode(stream):
        at = float(frame.time) - origin if frame.time is not None else wanted
        latest = (frame, at)
        if at >= wanted - tolerance:
            break
    return latest


def _save_sprite(tiles: list[Image.Image], tile_width: int, tile_height: int, dest: Path) -> None:
    """Paste the tiles side by side and write a JPEG."""
    sprite = Image.new("RGB", (tile_width * len(tiles), tile_height))
    for index, tile in enumerate(tiles):
        sprite.paste(tile, (index * tile_width, 0))
    sprite.save(dest, format="JPEG", quality=JPEG_QUALITY)
