"""Redacted copies: regions pixelated or blacked out, sound ranges muted or bleeped.

`render` decodes the original with PyAV one frame at a time (constant memory), covers every
enabled region's box (from `facetracks.box_at`, padded) in each frame it covers, silences or
bleeps the chosen sound ranges, and encodes H.264/AAC into a faststart MP4 with the proxy's
encoders (media/proxy.py). The encoder's threads and options are fixed and no creation time is
written, so the same source, plan and software give the same bytes. `preview_frame` shows one
frame as the render would make it.
"""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import av.container
import numpy as np
from PIL import Image

from witnessbox.media.errors import MediaError
from witnessbox.media.probe import MediaFacts, picture_stream, probe
from witnessbox.media.proxy import (
    Progress,
    ProxyResult,
    _guarded,
    _open_output,
    _Reporter,
    _Transcoder,
    software_versions,
)

EFFECTS = ("pixelate", "box")
AUDIO_MODES = ("mute", "bleep")
PADDING = 0.15  # each box grows by this share of its width/height on every side
MIN_BLOCK_PX = 16  # a pixelation block is at least this many pixels square...
BLOCKS_ACROSS = 8  # ...and at least 1/8 of the padded box's shorter side
BLEEP_HZ = 1000.0
BLEEP_LEVEL = 0.25  # of full scale
ENCODER_THREADS = 4  # fixed: libx264's output depends on its thread count
MAX_GAP_S = 1.0  # keyframes further apart than this leave the frames between them uncovered
RENDERER = "witnessbox.media.redact 1"
_X264_VERSION = re.compile(rb"x264 - core (\d+)(?: (r\d+ [0-9a-f]+))?")

if TYPE_CHECKING:  # the face modules load onnxruntime and OpenCV: only where faces are worked on
    from witnessbox.media.facetracks import Keyframe

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Region:
    """One enabled region: its keyframes (boxes as fractions of the frame)."""

    id: str
    keyframes: tuple[Keyframe, ...]


@dataclass(frozen=True)
class SoundRange:
    """Seconds [start, end) of sound to mute (zeros) or bleep (a 1 kHz tone)."""

    start: float
    end: float
    mode: str


@dataclass(frozen=True)
class Recipe:
    """What a render applies: the effect, the enabled regions and the sound ranges."""

    effect: str
    regions: tuple[Region, ...]
    sound: tuple[SoundRange, ...]

    @classmethod
    def from_plan(cls, plan: Mapping[str, Any]) -> Recipe:
        """The recipe of a plan already validated (redaction/plans.py); disabled regions are left out."""
        from witnessbox.media.facetracks import Keyframe  # noqa: PLC0415 - see TYPE_CHECKING above

        regions = tuple(
            Region(
                str(region["id"]),
                tuple(
                    Keyframe(t=float(k["t"]), box=_box(k["box"]))
                    for k in sorted(region["keyframes"], key=lambda k: float(k["t"]))
                ),
            )
            for region in plan.get("regions", [])
            if region.get("enabled", True)
        )
        sound = tuple(
            SoundRange(float(r["start"]), float(r["end"]), str(r["mode"])) for r in plan.get("audio", [])
        )
        return cls(effect=str(plan.get("effect", "pixelate")), regions=regions, sound=sound)

    def boxes_at(self, t: float) -> list[Box]:
        """The boxes covering the frame at `t` seconds."""
        from witnessbox.media.facetracks import box_at  # noqa: PLC0415 - see TYPE_CHECKING above

        found = (box_at(region.keyframes, t, max_gap_s=MAX_GAP_S) for region in self.regions)
        return [box for box in found if box is not None]


def _box(values: Sequence[Any]) -> Box:
    x, y, w, h = (float(v) for v in values)
    return (x, y, w, h)


@dataclass(frozen=True)
class Rendered:
    """How a redacted copy was made."""

    frames: int
    covered_frames: int
    parameters: dict[str, object]


def render(src: Path, dest: Path, plan: Mapping[str, Any], *, progress: Progress | None = None) -> Rendered:
    """Write the redacted copy of `src` to `dest` (H.264/AAC, faststart MP4) following `plan`.

    The work runs in a new process every time: a second render in a process that had rendered
    before gave different bytes (the encoder sees memory that earlier work left behind), while a
    render in a fresh process gives the same bytes every time, so a court can re-make the copy from
    its recipe and compare hashes.
    """
    Recipe.from_plan(plan)  # a bad plan fails here, before a process is started
    order = json.dumps({"src": str(src), "dest": str(dest), "plan": plan})
    command = [sys.executable, "-c", "from witnessbox.media.redact import child_main; child_main()"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(order)
        child.stdin.close()
        for line in child.stdout:
            message = json.loads(line)
            if "progress" in message and progress is not None:
                progress(message["progress"])
            elif "failed" in message:
                raise MediaError(message["failed"])
            elif "done" in message:
                frames, covered, parameters = message["done"]
                return Rendered(frames, covered, parameters)
    raise MediaError("the redaction renderer stopped without finishing")


def child_main() -> None:
    """The fresh process's side of `render`: the order on stdin, progress and the result as JSON lines."""
    order = json.loads(sys.stdin.read())

    def say(message: dict[str, Any]) -> None:
        print(json.dumps(message), flush=True)  # the parent reads these lines

    try:
        made = _render_here(Path(order["src"]), Path(order["dest"]), order["plan"],
                            progress=lambda done: say({"progress": done}))
    except MediaError as bad:
        say({"failed": bad.reason})
        return
    say({"done": [made.frames, made.covered_frames, made.parameters]})


def _render_here(
    src: Path, dest: Path, plan: Mapping[str, Any], *, progress: Progress | None = None
) -> Rendered:
    """Render in this process (`render` calls it in a fresh one)."""
    recipe = Recipe.from_plan(plan)
    facts = probe(src)
    if not facts.has_video:
        raise MediaError("a recording without pictures cannot be redacted")
    reporter = _Reporter(progress, facts.duration_s)

    def run() -> ProxyResult:
        with av.open(str(src), metadata_errors="replace") as inp, _open_output(dest) as out:
            job = _Redactor(inp, out, facts, recipe)
            job.run(inp, reporter)
        reporter.done()
        return ProxyResult("redact", _parameters(job, recipe, dest))

    made = _guarded(run)
    frames, covered = made.parameters["frames"], made.parameters["covered_frames"]
    assert isinstance(frames, int) and isinstance(covered, int)
    return Rendered(frames, covered, made.parameters)


class _Redactor(_Transcoder):
    """The proxy's transcoder with each picture covered and each sound range replaced before encoding."""

    def __init__(
        self,
        inp: av.container.InputContainer,
        out: av.container.OutputContainer,
        facts: MediaFacts,
        recipe: Recipe,
    ) -> None:
        super().__init__(inp, out, facts)
        self.recipe = recipe
        if self.video is not None:
            ctx = self.video.stream.codec_context
            ctx.thread_count, ctx.thread_type = ENCODER_THREADS, "FRAME"
        video = picture_stream(inp)
        assert video is not None
        self.origin = _origin(video)
        self.frames = 0
        self.covered = 0

    def _encode(self, frame: av.VideoFrame | av.AudioFrame) -> None:
        if isinstance(frame, av.VideoFrame):
            frame = self._cover(frame)
        elif self.recipe.sound:
            frame = _replace_sound(frame, self.recipe.sound)
        super()._encode(frame)

    def _cover(self, frame: av.VideoFrame) -> av.VideoFrame:
        """Every picture a new frame, covered or not: none carries the source's picture type or side data."""
        self.frames += 1
        t = (frame.time or 0.0) - self.origin
        boxes = self.recipe.boxes_at(t)
        self.covered += bool(boxes)
        return cover_picture(frame, boxes, self.recipe.effect)


def cover_picture(frame: av.VideoFrame, boxes: Sequence[Box], effect: str) -> av.VideoFrame:
    """A new 4:2:0 picture of `frame` with each box (fractions, padded by PADDING) covered.

    The covering works on the Y, U and V planes themselves (no conversion through RGB), so
    pixels outside the boxes stay exactly as decoded and the result is the same on every run.
    """
    width, height = frame.width & ~1, frame.height & ~1
    picture = frame.reformat(width=width, height=height, format="yuv420p")
    planes = picture.to_ndarray()  # Y rows, then U and V packed two chroma rows to a line
    luma = planes[:height]
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    for box in boxes:
        area = pixel_area(box, width, height)
        if area is None:
            continue
        x0, y0, x1, y1 = area
        even = (x0 & ~1, y0 & ~1, min(width, x1 + (x1 & 1)), min(height, y1 + (y1 & 1)))
        _cover_area(luma, chroma, even, effect)
    covered = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    covered.pts, covered.time_base = frame.pts, frame.time_base
    return covered


def _cover_area(luma: np.ndarray, chroma: np.ndarray, area: tuple[int, int, int, int], effect: str) -> None:
    """Cover one even-aligned area of the Y plane and the matching half-size area of U and V."""
    x0, y0, x1, y1 = area
    if effect == "box":
        luma[y0:y1, x0:x1] = 16  # black (video range)
        chroma[:, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = 128
        return
    side = block_size(y1 - y0, x1 - x0)
    side += side & 1  # even, so each chroma block is exactly a quarter of its luma block
    pixelate(luma[y0:y1, x0:x1], side)
    for plane in chroma:
        pixelate(plane[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2], side // 2)


def pixel_area(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The padded box in whole pixels (x0, y0, x1, y1), clipped to the frame; None when nothing is left."""
    x, y, w, h = box
    pad_x, pad_y = w * PADDING, h * PADDING
    x0 = max(0, math.floor((x - pad_x) * width))
    y0 = max(0, math.floor((y - pad_y) * height))
    x1 = min(width, math.ceil((x + w + pad_x) * width))
    y1 = min(height, math.ceil((y + h + pad_y) * height))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def block_size(height: int, width: int) -> int:
    """The side of a pixelation block for an area of this size."""
    return max(MIN_BLOCK_PX, math.ceil(min(height, width) / BLOCKS_ACROSS))


def pixelate(area: np.ndarray, side: int | None = None) -> None:
    """Replace each `side`-square block of `area` (a view into a plane or picture) by its mean, in place."""
    height, width = area.shape[:2]
    side = side or block_size(height, width)
    rows, cols = np.arange(0, height, side), np.arange(0, width, side)
    row_sizes, col_sizes = np.diff(np.append(rows, height)), np.diff(np.append(cols, width))
    sums = np.add.reduceat(np.add.reduceat(area.astype(np.int64), rows, axis=0), cols, axis=1)
    counts = np.outer(row_sizes, col_sizes).reshape(sums.shape[:2] + (1,) * (area.ndim - 2))
    means = ((sums + counts // 2) // counts).astype(np.uint8)  # integer rounding: the same bytes everywhere
    area[:] = np.repeat(np.repeat(means, row_sizes, axis=0), col_sizes, axis=1)


def _replace_sound(frame: av.AudioFrame, ranges: Sequence[SoundRange]) -> av.AudioFrame:
    """The frame with the samples inside any range set to zero (mute) or a 1 kHz tone (bleep)."""
    if frame.time is None or not frame.sample_rate:
        return frame
    rate, count = frame.sample_rate, frame.samples
    start, end = frame.time, frame.time + count / rate
    touching = [r for r in ranges if r.start < end and r.end > start]
    if not touching:
        return frame
    samples = frame.to_ndarray()
    planar = frame.format.is_planar
    channels = samples.shape[0] if planar else len(frame.layout.channels)
    times = frame.time + np.arange(count) / rate
    for sound in touching:
        inside = (times >= sound.start) & (times < sound.end)
        value = _tone(samples.dtype, times[inside]) if sound.mode == "bleep" else 0
        if planar:
            samples[:, inside] = value
        else:
            packed = samples.reshape(count, channels)  # one row of interleaved samples
            packed[inside, :] = np.asarray(value)[..., None] if sound.mode == "bleep" else 0
            samples = packed.reshape(samples.shape)
    replaced = av.AudioFrame.from_ndarray(samples, format=frame.format.name, layout=frame.layout.name)
    replaced.sample_rate, replaced.pts, replaced.time_base = rate, frame.pts, frame.time_base
    return replaced


def _tone(dtype: np.dtype[Any], times: np.ndarray) -> np.ndarray:
    """A 1 kHz sine at BLEEP_LEVEL of full scale, in the frame's sample type."""
    wave = BLEEP_LEVEL * np.sin(2 * np.pi * BLEEP_HZ * times)
    if np.issubdtype(dtype, np.floating):
        return wave.astype(dtype)
    info = np.iinfo(dtype)
    middle = (int(info.max) + int(info.min) + 1) // 2
    return np.round(middle + wave * (int(info.max) - middle)).astype(dtype)


def _parameters(job: _Redactor, recipe: Recipe, dest: Path) -> dict[str, object]:
    """Everything that decided the bytes (the plan itself is recorded beside it by the caller)."""
    params = job.parameters(["redaction"])
    params.pop("reasons", None)
    params.update(
        {
            "renderer": RENDERER,
            "effect": recipe.effect,
            "padding": PADDING,
            "pixelation": {"min_block_px": MIN_BLOCK_PX, "blocks_across_shorter_side": BLOCKS_ACROSS},
            "max_gap_s": MAX_GAP_S,
            "bleep_hz": BLEEP_HZ,
            "bleep_level": BLEEP_LEVEL,
            "encoder_threads": ENCODER_THREADS,
            "regions": len(recipe.regions),
            "sound_ranges": len(recipe.sound),
            "frames": job.frames,
            "covered_frames": job.covered,
            "software": versions(dest),
        }
    )
    return params


def versions(encoded: Path | None = None) -> dict[str, str]:
    """Every library version that decides a render's bytes (libx264's read from the encoded stream)."""
    found = software_versions()
    for package in ("numpy", "witnessbox", "onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    if encoded is not None:
        x264 = _x264_version(encoded)
        if x264:
            found["libx264"] = x264
    return found


def _x264_version(path: Path) -> str | None:
    """libx264 writes its version into the first picture's SEI; read it from there."""
    with av.open(str(path)) as container:
        video = picture_stream(container)
        if video is None:
            return None
        for packet in container.demux(video):
            match = _X264_VERSION.search(bytes(packet))
            if match:
                return " ".join(part.decode() for part in match.groups() if part)
            break
    return None


def preview_frame(src: Path, t: float, plan: Mapping[str, Any], *, quality: int = 85) -> bytes:
    """The frame shown at `t` seconds with the plan's effect applied, as JPEG bytes."""
    recipe = Recipe.from_plan(plan)
    try:
        with av.open(str(src), metadata_errors="replace") as container:
            stream = picture_stream(container)
            if stream is None:
                raise MediaError("this recording has no pictures")
            origin = _origin(stream)
            frame = _frame_at(container, stream, origin, t)
    except av.FFmpegError as error:
        raise MediaError(f"cannot read the frame at {t:.2f} s: {error}") from error
    if frame is None:
        raise MediaError(f"there is no frame at {t:.2f} s")
    covered = cover_picture(frame, recipe.boxes_at((frame.time or 0.0) - origin), recipe.effect)
    picture = covered.to_ndarray(format="rgb24")
    out = io.BytesIO()
    Image.fromarray(picture).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _origin(stream: av.VideoStream) -> float:
    """Seconds of the stream's first timestamp: plan times count from there (as face detection's do)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _frame_at(
    container: av.container.InputContainer, stream: av.VideoStream, origin: float, t: float
) -> av.VideoFrame | None:
    """The last frame presented at or before `t` (seek to the keyframe before, decode forward)."""
    if stream.time_base is not None:
        container.seek(int((origin + max(0.0, t)) / stream.time_base), stream=stream, backward=True)
    shown: av.VideoFrame | None = None
    for frame in container.decode(stream):
        at = (frame.time or 0.0) - origin
        if shown is not None and at > t + 1e-6:
            break
        shown = frame
    return shown
