"""Faces of a whole recording as tracks, manual regions followed by a tracker, and the box at a time.

``detect_tracks`` decodes the recording once (PyAV, frames scaled down for the
detector as they are decoded, so memory does not grow with length), detects in
batches, and links the detections into tracks: each open track predicts where
its face will be from its last box and speed; a detection that overlaps the
prediction (or lies close to its centre) continues it. A track that finds no
face for up to ``max_missed`` frames stays open, and when it finds one again
the missed frames get boxes interpolated between the two detections, so a face
the detector misses for a moment stays covered. The detector looks at every
``stride``-th frame only: the frames between are covered the same way, and
each track's first and last box are held for the frames between detections
before and after it. Tracks detected fewer than ``min_hits`` times and never
with a high score are dropped as false positives.

Boxes leave here as fractions of the frame, grown about their centre by
``box_scale`` so that a track covers hair, ears and chin as well as the face
the model outlines.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from witnessbox.media.errors import MediaError
from witnessbox.media.faces import Detection, FaceDetector

Box = tuple[float, float, float, float]

DETECT_WIDTH = 1280  # frames are scaled to at most this width for the detector (720p as it is)
STRIDE = 2  # the detector sees every STRIDE-th frame; tracks fill the frames between
BATCH = 2  # frames per detector call (more barely helps on a CPU and costs memory)
MAX_MISSED = 12  # frames a track stays open without a detection (about half a second at 25 fps)
MIN_HITS = 5  # a track detected fewer times than this (0.4 s at 25 fps and STRIDE 2) ...
STRONG_SCORE = 0.5  # ... is kept only when one of its detections scored at least this
BOX_SCALE = 1.3  # each box grows about its centre by this factor (as `deface --mask-scale`)
MATCH_IOU = 0.1  # a detection continues a track when it overlaps the prediction this much ...
MATCH_CENTRE = 0.5  # ... or its centre is within this share of the predicted box's size a frame (to STRIDE)
EDGE_S = 0.05  # box_at answers this far before the first and after the last keyframe
FOLLOW_WIDTH = 480  # manual regions are followed on frames scaled to this width
FOLLOW_MIN_SCORE = 0.5  # the tracker stops when the best match correlates less than this


@dataclass(frozen=True)
class Keyframe:
    """A region's box at one time: seconds from the start, box as fractions (x, y, w, h) of the frame."""

    t: float
    box: Box
    score: float | None = None


@dataclass(frozen=True)
class Track:
    """One face followed through the recording."""

    id: str
    keyframes: tuple[Keyframe, ...]


@dataclass(frozen=True)
class Detected:
    """The tracks of one detection run and everything that decided them."""

    tracks: tuple[Track, ...]
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    model_sha256: str
    parameters: dict[str, object]
    versions: dict[str, str]


@dataclass
class _OpenTrack:
    """A track still accepting detections, in pixels of the detection frames."""

    number: int
    last_frame: int
    box: npt.NDArray[np.float64]  # x1, y1, x2, y2
    velocity: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(4))
    hits: int = 1
    best: float = 0.0
    keyframes: list[tuple[int, npt.NDArray[np.float64], float | None]] = field(default_factory=list)

    def predicted(self, frame: int) -> npt.NDArray[np.float64]:
        """Where the box should be at ``frame``, at constant speed."""
        return self.box + self.velocity * (frame - self.last_frame)


@dataclass(frozen=True)
class _Video:
    """What decoding needs to know about the recording's video stream."""

    width: int
    height: int
    fps: float
    origin: float
    expected_frames: int


def detect_tracks(
    path: Path,
    *,
    detector: FaceDetector | None = None,
    progress: Callable[[float], None] | None = None,
) -> Detected:
    """Detect the faces of the recording at ``path`` and link them into tracks."""
    detector = detector or FaceDetector()
    linker: _Linker | None = None
    times: list[float] = []
    with _open_video(path) as (container, stream, video):
        size = detection_size(video.width, video.height)
        linker = _Linker(size)
        for batch in _batches(container, stream, video, size, times):
            found = detector.detect([frame for frame, _ in batch])
            for (_, index), detections in zip(batch, found, strict=True):
                linker.add(index, detections)
            if progress is not None and video.expected_frames:
                progress(min(1.0, len(times) / video.expected_frames))
    if not times:
        raise MediaError("the recording has no decodable video frames")
    tracks = linker.finish(times, size)
    if progress is not None:
        progress(1.0)
    return Detected(
        tracks=tracks,
        width=video.width,
        height=video.height,
        fps=video.fps,
        frames=len(times),
        duration_s=times[-1] + 1 / video.fps,
        model_sha256=detector.model_sha256,
        parameters=_parameters(detector, size),
        versions={**detector.versions(), "av": av.__version__},
    )


def detection_size(width: int, height: int) -> tuple[int, int]:
    """The frame size the detector sees: at most DETECT_WIDTH wide, aspect kept, even sides."""
    scale = min(1.0, DETECT_WIDTH / width)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _parameters(detector: FaceDetector, size: tuple[int, int]) -> dict[str, object]:
    """Every setting that decides the tracks, for the record."""
    return {
        "threshold": detector.threshold,
        "detect_size": list(size),
        "batch": BATCH,
        "stride": STRIDE,
        "max_missed_frames": MAX_MISSED,
        "min_hits": MIN_HITS,
        "strong_score": STRONG_SCORE,
        "box_scale": BOX_SCALE,
        "match_iou": MATCH_IOU,
        "match_centre": MATCH_CENTRE,
    }


@contextmanager
def _open_video(path: Path) -> Iterator[tuple[Any, Any, _Video]]:
    """The recording's container and first video stream (threaded decoding), closed afterwards."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise MediaError(f"cannot open the recording: {error}") from error
    with container:
        if not container.streams.video:
            raise MediaError("the recording has no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        origin = float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0
        # MP4 states its frame count; other containers only their length.
        expected = stream.frames or round((container.duration or 0) / av.time_base * rate)
        video = _Video(stream.codec_context.width, stream.codec_context.height, rate, origin, expected)
        if video.width <= 0 or video.height <= 0:
            raise MediaError("the recording's video has no frame size")
        yield container, stream, video


def _batches(
    container: Any, stream: Any, video: _Video, size: tuple[int, int], times: list[float]
) -> Iterator[list[tuple[npt.NDArray[np.uint8], int]]]:
    """Every STRIDE-th frame scaled to ``size``, with its number, in batches of BATCH.

    Every frame's time is appended to ``times``.
    """
    batch: list[tuple[npt.NDArray[np.uint8], int]] = []
    try:
        for frame in container.decode(stream):
            times.append(_frame_time(frame, video, times))
            if (len(times) - 1) % STRIDE:
                continue
            image = frame.to_ndarray(width=size[0], height=size[1], format="rgb24", interpolation="AREA")
            batch.append((image, len(times) - 1))
            if len(batch) == BATCH:
                yield batch
                batch = []
    except av.error.FFmpegError as error:
        raise MediaError(f"cannot decode the recording: {error}") from error
    if batch:
        yield batch


def _frame_time(frame: Any, video: _Video, times: list[float]) -> float:
    """Seconds from the start of the recording; one frame after the last when the frame has no time."""
    if frame.time is None:
        return times[-1] + 1 / video.fps if times else 0.0
    return max(0.0, float(frame.time) - video.origin)


class _Linker:
    """Links per-frame detections into tracks as frames arrive in order."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.frame = -1
        self.open: list[_OpenTrack] = []
        self.closed: list[_OpenTrack] = []
        self.numbers = 0

    def add(self, frame: int, detections: list[Detection]) -> None:
        """The detections of frame number ``frame`` (frames come in order)."""
        self.frame = frame
        boxes = np.array([[d.x, d.y, d.x + d.w, d.y + d.h] for d in detections], dtype=np.float64)
        scores = [d.score for d in detections]
        taken = self._match(boxes)
        for track_index, detection_index in taken:
            self._extend(self.open[track_index], boxes[detection_index], scores[detection_index])
        matched = {d for _, d in taken}
        for index in range(len(detections)):
            if index not in matched:
                self._start(boxes[index], scores[index])
        self._close_stale()

    def finish(self, times: list[float], size: tuple[int, int]) -> tuple[Track, ...]:
        """Close every track; the kept ones in fractions of the frame, numbered by first appearance."""
        self.closed.extend(self.open)
        self.open = []
        kept = sorted((t for t in self.closed if _kept(t)), key=lambda t: (t.keyframes[0][0], t.number))
        return tuple(
            Track(id=f"f{number}", keyframes=_keyframes(_held(track, len(times)), times, size))
            for number, track in enumerate(kept, start=1)
        )

    def _match(self, boxes: npt.NDArray[np.float64]) -> list[tuple[int, int]]:
        """Greedy pairs (track, detection), best overlap first, each used once."""
        if not self.open or len(boxes) == 0:
            return []
        predicted = np.array([t.predicted(self.frame) for t in self.open])
        overlap = _iou(predicted, boxes)
        centres_p = (predicted[:, :2] + predicted[:, 2:]) / 2
        centres_d = (boxes[:, :2] + boxes[:, 2:]) / 2
        distance = np.linalg.norm(centres_p[:, None, :] - centres_d[None, :, :], axis=2)
        # One detection step's reach: after missed frames the prediction, not a wider net, finds the face.
        frames = np.array([min(self.frame - t.last_frame, STRIDE) for t in self.open], dtype=np.float64)
        reach = (
            MATCH_CENTRE
            * frames
            * np.maximum(predicted[:, 2] - predicted[:, 0], predicted[:, 3] - predicted[:, 1])
        )
        allowed = (overlap >= MATCH_IOU) | (distance <= reach[:, None])
        rank = overlap - distance / (1 + distance)  # overlap first; nearer centre breaks ties
        pairs: list[tuple[int, int]] = []
        used_t: set[int] = set()
        used_d: set[int] = set()
        for flat in np.argsort(-rank, axis=None, kind="stable"):
            t, d = divmod(int(flat), boxes.shape[0])
            if allowed[t, d] and t not in used_t and d not in used_d:
                pairs.append((t, d))
                used_t.add(t)
                used_d.add(d)
        return pairs

    def _extend(self, track: _OpenTrack, box: npt.NDArray[np.float64], score: float) -> None:
        """Continue ``track`` with a detection, filling the frames it missed by interpolation."""
        gap = self.frame - track.last_frame
        for step in range(1, gap):
            track.keyframes.append(
                (track.last_frame + step, track.box + (box - track.box) * step / gap, None)
            )
        track.velocity = 0.5 * track.velocity + 0.5 * (box - track.box) / gap
        track.box = box
        track.last_frame = self.frame
        track.hits += 1
        track.best = max(track.best, score)
        track.keyframes.append((self.frame, box, score))

    def _start(self, box: npt.NDArray[np.float64], score: float) -> None:
        """Open a new track at a detection no open track claimed."""
        self.numbers += 1
        self.open.append(
            _OpenTrack(self.numbers, self.frame, box, best=score, keyframes=[(self.frame, box, score)])
        )

    def _close_stale(self) -> None:
        """Close tracks that have missed more than MAX_MISSED frames."""
        still = [t for t in self.open if self.frame - t.last_frame <= MAX_MISSED]
        self.closed.extend(t for t in self.open if self.frame - t.last_frame > MAX_MISSED)
        self.open = still


def _kept(track: _OpenTrack) -> bool:
    """A track is a face unless it is both short and weak."""
    return track.hits >= MIN_HITS or track.best >= STRONG_SCORE


def _held(track: _OpenTrack, frames: int) -> _OpenTrack:
    """The track carried on over the frames the detector skipped before and after it, at its speed there."""
    detected = [(f, box) for f, box, score in track.keyframes if score is not None]
    first_frame, first_box = detected[0]
    last_frame, last_box = detected[-1]
    start_speed = _speed(detected[:2])
    end_speed = _speed(detected[-2:])
    before = [
        (f, first_box - start_speed * (first_frame - f), None)
        for f in range(max(0, first_frame - STRIDE + 1), first_frame)
    ]
    after = [
        (f, last_box + end_speed * (f - last_frame), None)
        for f in range(last_frame + 1, min(frames, last_frame + STRIDE))
    ]
    return _OpenTrack(
        track.number,
        track.last_frame,
        track.box,
        hits=track.hits,
        best=track.best,
        keyframes=[*before, *track.keyframes, *after],
    )


def _speed(pair: list[tuple[int, npt.NDArray[np.float64]]]) -> npt.NDArray[np.float64]:
    """The box's change a frame between two detections (zero for one)."""
    if len(pair) < 2 or pair[1][0] == pair[0][0]:
        return np.zeros(4)
    return (pair[1][1] - pair[0][1]) / (pair[1][0] - pair[0][0])


def _keyframes(track: _OpenTrack, times: list[float], size: tuple[int, int]) -> tuple[Keyframe, ...]:
    """The track's boxes grown by BOX_SCALE, as fractions of the frame, with their frame times."""
    width, height = size
    out = []
    for frame, box, score in track.keyframes:
        grown = _grow(box, BOX_SCALE, width, height)
        fraction = (grown[0] / width, grown[1] / height, grown[2] / width, grown[3] / height)
        out.append(Keyframe(t=round(times[frame], 6), box=_rounded(fraction), score=score))
    return tuple(out)


def _grow(box: npt.NDArray[np.float64], factor: float, width: int, height: int) -> Box:
    """(x1, y1, x2, y2) grown about its centre and clipped to the frame, as (x, y, w, h)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half_w, half_h = (box[2] - box[0]) * factor / 2, (box[3] - box[1]) * factor / 2
    x1, y1 = max(0.0, cx - half_w), max(0.0, cy - half_h)
    x2, y2 = min(float(width), cx + half_w), min(float(height), cy + half_h)
    return float(x1), float(y1), float(x2 - x1), float(y2 - y1)


def _rounded(box: Box) -> Box:
    """A fraction box to 5 decimals (a hundredth of a pixel at 1080p): plans stay small and stable."""
    return (round(box[0], 5), round(box[1], 5), round(box[2], 5), round(box[3], 5))


def _iou(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Intersection over union of every (x1, y1, x2, y2) box in ``a`` with every one in ``b``."""
    inter_w = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    inter_h = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )
    inter = inter_w * inter_h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    result: npt.NDArray[np.float64] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return result


def box_at(track_keyframes: Sequence[Keyframe], t: float, *, max_gap_s: float = 1.0) -> Box | None:
    """The box a region covers at ``t``, or None where the region does not cover that time.

    Between two keyframes at most ``max_gap_s`` apart the box is interpolated
    linearly; within EDGE_S of the first or last keyframe (or of either side of
    a longer gap) the nearest keyframe's box holds.
    """
    if not track_keyframes:
        return None
    times = [k.t for k in track_keyframes]
    index = bisect.bisect_left(times, t)
    after = track_keyframes[index] if index < len(track_keyframes) else None
    before = track_keyframes[index - 1] if index > 0 else None
    if after is not None and math.isclose(after.t, t, abs_tol=1e-9):
        return after.box
    if before is not None and after is not None and after.t - before.t <= max_gap_s:
        share = (t - before.t) / (after.t - before.t)
        return (
            before.box[0] + (after.box[0] - before.box[0]) * share,
            before.box[1] + (after.box[1] - before.box[1]) * share,
            before.box[2] + (after.box[2] - before.box[2]) * share,
            before.box[3] + (after.box[3] - before.box[3]) * share,
        )
    nearest = min((k for k in (before, after) if k is not None), key=lambda k: abs(k.t - t), default=None)
    if nearest is not None and abs(nearest.t - t) <= EDGE_S:
        return nearest.box
    return None


def follow_region(path: Path, t: float, box: Box, *, span_s: float = 10.0) -> tuple[Keyframe, ...]:
    """Follow a region drawn on the frame at ``t`` forward and back (up to ``span_s`` each way).

    Template matching on grey frames scaled to FOLLOW_WIDTH; the search stays
    near the last position and stops where the match falls below
    FOLLOW_MIN_SCORE or the region leaves the frame. Keyframes are in fractions,
    one a frame, the one at ``t`` included.
    """
    if not (0 <= box[0] < 1 and 0 <= box[1] < 1 and 0 < box[2] <= 1 and 0 < box[3] <= 1):
        raise MediaError("the region must be a box inside the frame (fractions 0..1)")
    frames = _grey_frames(path, max(0.0, t - span_s), t + span_s)
    if not frames:
        raise MediaError("the recording has no frames near that time")
    times = [time for time, _ in frames]
    start = min(range(len(frames)), key=lambda i: abs(times[i] - t))
    height, width = frames[0][1].shape
    pixels = (box[0] * width, box[1] * height, max(4.0, box[2] * width), max(4.0, box[3] * height))
    forward = _follow([image for _, image in frames[start:]], pixels)
    backward = _follow([image for _, image in reversed(frames[: start + 1])], pixels)
    boxes = list(reversed(backward))[:-1] + forward
    first = start - (len(backward) - 1)
    return tuple(
        Keyframe(
            t=round(times[first + i], 6),
            box=_rounded((b[0] / width, b[1] / height, b[2] / width, b[3] / height)),
        )
        for i, b in enumerate(boxes)
    )


def _grey_frames(path: Path, start: float, end: float) -> list[tuple[float, npt.NDArray[np.uint8]]]:
    """Grey frames between ``start`` and ``end`` seconds, scaled to FOLLOW_WIDTH wide."""
    out: list[tuple[float, npt.NDArray[np.uint8]]] = []
    times: list[float] = []
    with _open_video(path) as (container, stream, video):
        scale = min(1.0, FOLLOW_WIDTH / video.width)
        size = (max(2, round(video.width * scale / 2) * 2), max(2, round(video.height * scale / 2) * 2))
        if start > 0:
            target = int((start + video.origin) / stream.time_base) if stream.time_base else 0
            container.seek(target, stream=stream, backward=True)
        try:
            for frame in container.decode(stream):
                moment = _frame_time(frame, video, times)
                times.append(moment)
                if moment > end:
                    break
                if moment >= start - 1e-6:
                    image = frame.to_ndarray(width=size[0], height=size[1], format="gray")
                    out.append((moment, image))
        except av.error.FFmpegError as error:
            raise MediaError(f"cannot decode the recording: {error}") from error
    return out


def _follow(images: list[npt.NDArray[np.uint8]], box: Box) -> list[Box]:
    """Boxes (pixels) of the region through ``images``, starting at ``box`` in the first one."""
    height, width = images[0].shape
    x, y, w, h = box
    template = _crop(images[0], x, y, w, h)
    boxes: list[Box] = [box]
    for image in images[1:]:
        margin_x, margin_y = w, h
        left, top = int(max(0, x - margin_x)), int(max(0, y - margin_y))
        right, bottom = int(min(width, x + w + margin_x)), int(min(height, y + h + margin_y))
        area = image[top:bottom, left:right]
        if area.shape[0] < template.shape[0] or area.shape[1] < template.shape[1]:
            break
        result = cv2.matchTemplate(area, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (dx, dy) = cv2.minMaxLoc(result)
        if not best >= FOLLOW_MIN_SCORE:
            break
        x, y = float(left + dx), float(top + dy)
        boxes.append((x, y, w, h))
        if best < 0.9:  # the region's look has changed: follow what it looks like now
            template = _crop(image, x, y, w, h)
    return boxes


def _crop(image: npt.NDArray[np.uint8], x: float, y: float, w: float, h: float) -> npt.NDArray[np.uint8]:
    """The template: the box's pixels, kept inside the image."""
    height, width = image.shape
    left, top = round(min(max(0.0, x), width - 2)), round(min(max(0.0, y), height - 2))
    right, bottom = min(width, max(left + 2, round(x + w))), min(height, max(top + 2, round(y + h)))
    return np.ascontiguousarray(image[top:bottom, left:right])
