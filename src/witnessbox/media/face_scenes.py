"""Recordings with real faces at known places, and the scores of a redaction against them.

The faces are photographs that ship inside installed packages (scikit-image's
sample images), each with a face box checked by eye and kept here. A scene
moves them across a textured background (gradients, smooth noise, shapes,
panning like a walking camera) at chosen sizes, angles, brightness and
contrast; the recording is written with PyAV and every frame's ground-truth
boxes come back with it. The box of a rotated face is the bounding box of the
ellipse inscribed in its upright box, turned with it.

Recall is the share of ground-truth faces, over every frame, of which at least
``MIN_COVER`` of the area lies inside the union of the redaction boxes of that
frame. The false-positive rate is the share of redaction boxes that overlap no
ground-truth face. Every pixel is at least FLOOR bright so that a solid black
redaction is told apart from the picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

Box = tuple[float, float, float, float]  # x, y, w, h in pixels
Image = npt.NDArray[np.uint8]

MIN_COVER = 0.9  # a face counts as covered when this share of its box is redacted
FP_OVERLAP = 0.1  # a redaction box overlaps a face when they share this share of the smaller box
FLOOR = 24  # the darkest value written: solid black redaction stays distinguishable
SMALL_FACE = 48  # faces shorter than this (pixels) are reported apart as "small"


@dataclass(frozen=True)
class FacePhoto:
    """A photograph with one face: where to load it and the face's box in it (pixels, checked by eye)."""

    name: str
    box: Box
    load: Callable[[], Image]


def _sample(name: str) -> Callable[[], Image]:
    """A loader of one of scikit-image's sample photographs, as RGB."""

    def load() -> Image:
        source = resources.files("skimage").joinpath("data", name)
        with resources.as_file(source) as path, PILImage.open(path) as picture:
            return np.asarray(picture.convert("RGB"), dtype=np.uint8).copy()

    return load


PHOTOS = {
    # Eileen Collins, frontal: hairline to chin, cheek to cheek.
    "astronaut": FacePhoto("astronaut", (180.0, 60.0, 90.0, 116.0), _sample("astronaut.png")),
    # The cameraman, in profile: ear to nose tip, forehead to chin.
    "camera": FacePhoto("camera", (198.0, 120.0, 60.0, 76.0), _sample("camera.png")),
}


@dataclass(frozen=True)
class Walker:
    """One face crossing the scene: centre and face height as fractions of the frame, start to end."""

    photo: str
    start: tuple[float, float]
    end: tuple[float, float]
    height: tuple[float, float]
    angle: float = 0.0  # degrees, counter-clockwise
    gain: float = 1.0  # contrast
    bias: float = 0.0  # brightness
    enter: float = 0.0  # fraction of the scene's length when the face appears ...
    leave: float = 1.0  # ... and leaves
    hidden: tuple[int, ...] = ()  # frames in which the face is left out (and so not in the ground truth)


@dataclass(frozen=True)
class Scene:
    """A recording to make: size, rate, length, the faces in it, the background's seed and pan."""

    width: int
    height: int
    fps: int
    seconds: float
    walkers: tuple[Walker, ...]
    seed: int = 0
    pan: float = 0.15  # the background moves this share of the frame width over the scene


@dataclass(frozen=True)
class GroundTruth:
    """Every frame's face boxes (pixels) and their times."""

    width: int
    height: int
    fps: int
    times: tuple[float, ...]
    faces: tuple[tuple[Box, ...], ...]


@dataclass(frozen=True)
class Score:
    """How a redaction did against the ground truth."""

    faces: int
    covered: int
    small_faces: int
    small_covered: int
    boxes: int
    false_positives: int

    @property
    def recall(self) -> float:
        """Share of ground-truth faces covered."""
        return self.covered / self.faces if self.faces else 1.0

    @property
    def small_recall(self) -> float:
        """Share of small ground-truth faces covered."""
        return self.small_covered / self.small_faces if self.small_faces else 1.0

    @property
    def false_positive_rate(self) -> float:
        """Share of redaction boxes over no face."""
        return self.false_positives / self.boxes if self.boxes else 0.0


def standard_scene(width: int, height: int, seconds: float, *, fps: int = 25, seed: int = 0) -> Scene:
    """Faces large and small, frontal and in profile, turned, dim and bright, crossing and leaving."""
    walkers = (
        Walker("astronaut", (0.2, 0.35), (0.75, 0.4), (0.28, 0.22)),
        Walker("camera", (0.85, 0.78), (0.3, 0.72), (0.16, 0.2), angle=12, gain=0.8, bias=-25),
        Walker("astronaut", (0.35, 0.12), (0.15, 0.2), (0.08, 0.12), angle=-15, gain=1.2, bias=20),
        Walker("astronaut", (0.1, 0.8), (0.4, 0.85), (0.05, 0.05), gain=0.7, bias=-10, enter=0.1, leave=0.8),
        Walker("camera", (0.65, 0.15), (0.9, 0.2), (0.1, 0.07), angle=-8, gain=1.1, enter=0.3),
        Walker("astronaut", (0.9, 0.45), (0.88, 0.55), (0.14, 0.14), angle=25, gain=0.6, bias=-30, leave=0.6),
    )
    return Scene(width, height, fps, seconds, walkers, seed=seed)


def write_scene(scene: Scene, path: Path) -> GroundTruth:
    """Write the scene as H.264 in MP4 at ``path`` and return its ground truth."""
    photos = {name: photo.load() for name, photo in PHOTOS.items()}
    background = _background(scene)
    count = round(scene.seconds * scene.fps)
    faces: list[tuple[Box, ...]] = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(scene.fps))
        stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast", "g": str(scene.fps)}
        for index in range(count):
            frame, boxes = render_frame(scene, index, photos, background)
            faces.append(boxes)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    times = tuple(index / scene.fps for index in range(count))
    return GroundTruth(scene.width, scene.height, scene.fps, times, tuple(faces))


def render_frame(
    scene: Scene, index: int, photos: dict[str, Image], background: Image
) -> tuple[Image, tuple[Box, ...]]:
    """One frame of the scene and its face boxes."""
    count = max(1, round(scene.seconds * scene.fps) - 1)
    progress = index / count
    shift = round(progress * scene.pan * scene.width)
    frame = background[:, shift : shift + scene.width].copy()
    boxes: list[Box] = []
    for walker in scene.walkers:
        if walker.enter <= progress <= walker.leave and index not in walker.hidden:
            span = max(1e-9, walker.leave - walker.enter)
            local = (progress - walker.enter) / span
            box = _paste(frame, photos[walker.photo], PHOTOS[walker.photo].box, walker, local)
            if box is not None:
                boxes.append(box)
    np.maximum(frame, FLOOR, out=frame)
    return frame, tuple(boxes)


def _background(scene: Scene) -> Image:
    """A textured backdrop wider than the frame by the pan: gradient, smooth noise, shapes."""
    rng = np.random.default_rng(scene.seed)
    width = scene.width + math.ceil(scene.pan * scene.width) + 2
    height = scene.height
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([90 + 60 * xs / width, 110 + 50 * ys / height, 140 - 40 * xs / width], axis=2)
    coarse = rng.normal(0, 30, (max(2, height // 40), max(2, width // 40), 3)).astype(np.float32)
    base += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(height // 30, height // 6))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + size, y + size // 2), colour, -1)
        else:
            cv2.circle(image, (x, y), size // 2, colour, -1)
    fine = rng.integers(-12, 13, image.shape, dtype=np.int16)
    textured: Image = np.clip(image.astype(np.int16) + fine, 0, 255).astype(np.uint8)
    return textured


def _paste(frame: Image, photo: Image, face: Box, walker: Walker, local: float) -> Box | None:
    """Composite the face (with some head around it) onto ``frame``; its ground-truth box, or None."""
    frame_h, frame_w = frame.shape[:2]
    cx = (walker.start[0] + (walker.end[0] - walker.start[0]) * local) * frame_w
    cy = (walker.start[1] + (walker.end[1] - walker.start[1]) * local) * frame_h
    face_h = (walker.height[0] + (walker.height[1] - walker.height[0]) * local) * frame_h
    scale = face_h / face[3]
    fx, fy = face[0] + face[2] / 2, face[1] + face[3] / 2
    # The patch: the face box grown to take in hair, ears and neck, with a feathered oval edge.
    half_w, half_h = face[2] * 0.95, face[3] * 0.85
    left, top = max(0, int(fx - half_w)), max(0, int(fy - half_h))
    right, bottom = min(photo.shape[1], int(fx + half_w)), min(photo.shape[0], int(fy + half_h))
    patch = photo[top:bottom, left:right].astype(np.float32) * walker.gain + walker.bias
    alpha = _oval(bottom - top, right - left)
    matrix = cv2.getRotationMatrix2D((fx - left, fy - top), walker.angle, scale)
    matrix[:, 2] = np.array([cx, cy]) - matrix[:, :2] @ np.array([fx - left, fy - top])
    # Only the frame's part that the patch can reach is warped.
    reach = math.hypot(right - left, bottom - top) * scale / 2 + 2
    x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
    x1, y1 = min(frame_w, int(cx + reach) + 1), min(frame_h, int(cy + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    matrix[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(patch, matrix, size, flags=cv2.INTER_LINEAR)
    weight = cv2.warpAffine(alpha, matrix, size, flags=cv2.INTER_LINEAR)[:, :, None]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(region * (1 - weight) + warped * weight, 0, 255).astype(np.uint8)
    return _truth_box(cx, cy, face[2] * scale, face_h, walker.angle, frame_w, frame_h)


def _oval(height: int, width: int) -> npt.NDArray[np.float32]:
    """An oval of ones filling the patch, fading to zero over its outer tenth."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot((xs - width / 2) / (width / 2), (ys - height / 2) / (height / 2))
    oval: npt.NDArray[np.float32] = np.clip((1.0 - r) / 0.1, 0, 1).astype(np.float32)
    return oval


def _truth_box(
    cx: float, cy: float, w: float, h: float, angle: float, frame_w: int, frame_h: int
) -> Box | None:
    """The turned face's box, clipped to the frame; None when less than half of it is in the frame."""
    theta = math.radians(angle)
    a, b = w / 2, h / 2
    half_w = math.sqrt((a * math.cos(theta)) ** 2 + (b * math.sin(theta)) ** 2)
    half_h = math.sqrt((a * math.sin(theta)) ** 2 + (b * math.cos(theta)) ** 2)
    x1, y1 = max(0.0, cx - half_w), max(0.0, cy - half_h)
    x2, y2 = min(float(frame_w), cx + half_w), min(float(frame_h), cy + half_h)
    if x2 <= x1 or y2 <= y1 or (x2 - x1) * (y2 - y1) < 0.5 * 4 * half_w * half_h:
        return None
    return (x1, y1, x2 - x1, y2 - y1)


def score(truth: GroundTruth, redactions: Sequence[Sequence[Box]]) -> Score:
    """Score per-frame redaction boxes (pixels, one list per frame) against the ground truth."""
    if len(redactions) != len(truth.faces):
        raise ValueError(f"{len(redactions)} frames of redactions for {len(truth.faces)} frames of truth")
    faces = covered = small = small_covered = boxes = false_positives = 0
    for faces_here, boxes_here in zip(truth.faces, redactions, strict=True):
        for face in faces_here:
            hit = coverage(face, boxes_here) >= MIN_COVER
            faces += 1
            covered += hit
            if face[3] < SMALL_FACE:
                small += 1
                small_covered += hit
        boxes += len(boxes_here)
        false_positives += sum(not any(_overlaps(box, face) for face in faces_here) for box in boxes_here)
    return Score(faces, covered, small, small_covered, boxes, false_positives)


def coverage(face: Box, boxes: Sequence[Box]) -> float:
    """The share of ``face``'s area inside the union of ``boxes`` (on a whole-pixel grid)."""
    x0, y0 = math.floor(face[0]), math.floor(face[1])
    x1, y1 = math.ceil(face[0] + face[2]), math.ceil(face[1] + face[3])
    if x1 <= x0 or y1 <= y0:
        return 1.0
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for bx, by, bw, bh in boxes:
        left, top = max(x0, math.floor(bx)), max(y0, math.floor(by))
        right, bottom = min(x1, math.ceil(bx + bw)), min(y1, math.ceil(by + bh))
        if right > left and bottom > top:
            mask[top - y0 : bottom - y0, left - x0 : right - x0] = True
    return float(mask.mean())


def _overlaps(box: Box, face: Box) -> bool:
    """Whether a redaction box and a face share at least FP_OVERLAP of the smaller one's area."""
    inter_w = min(box[0] + box[2], face[0] + face[2]) - max(box[0], face[0])
    inter_h = min(box[1] + box[3], face[1] + face[3]) - max(box[1], face[1])
    if inter_w <= 0 or inter_h <= 0:
        return False
    return inter_w * inter_h >= FP_OVERLAP * min(box[2] * box[3], face[2] * face[3])


def track_boxes(truth: GroundTruth, regions: Sequence[Callable[[float], Box | None]]) -> list[list[Box]]:
    """Per-frame pixel boxes from region functions giving fraction boxes at a time (as box_at does)."""
    out: list[list[Box]] = []
    for t in truth.times:
        here = []
        for region in regions:
            box = region(t)
            if box is not None:
                here.append(
                    (box[0] * truth.width, box[1] * truth.height, box[2] * truth.width, box[3] * truth.height)
                )
        out.append(here)
    return out
