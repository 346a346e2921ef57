"""Redacted copies (media/redact.py): covered regions, silenced sound, the same bytes every time.

One small clip (320x240, 2 s, 25 fps) is made for the module: a noisy textured background, two
high-detail patches standing in for faces at known boxes (one moving, one still), and a 440 Hz
tone as sound. Plans with boxes we know are rendered and read back frame by frame.
"""

import hashlib
import io
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import numpy as np
import pytest
from PIL import Image

from witnessbox.media.face_scenes import GroundTruth, Scene, Walker, write_scene
from witnessbox.media.redact import (
    BLOCKS_ACROSS,
    MIN_BLOCK_PX,
    block_size,
    pixel_area,
    pixelate,
    preview_frame,
    render,
)

WIDTH, HEIGHT, FPS, SECONDS, RATE = 320, 240, 25, 2, 48_000
PATCH = 48  # the patches are 48x48 pixels
STILL = (200, 40)  # the still patch's top-left corner


def moving_corner(index: int) -> tuple[int, int]:
    """Where the moving patch's top-left corner is in frame `index`."""
    return 20 + 3 * index, 120 + index


def _fraction_box(x: int, y: int) -> list[float]:
    return [x / WIDTH, y / HEIGHT, PATCH / WIDTH, PATCH / HEIGHT]


def _write_clip(path: Path) -> None:
    noise = np.random.default_rng(7)
    background = (noise.integers(60, 140, (HEIGHT, WIDTH, 3))).astype(np.uint8)
    patch_a = noise.integers(0, 256, (PATCH, PATCH, 3)).astype(np.uint8)
    patch_b = noise.integers(0, 256, (PATCH, PATCH, 3)).astype(np.uint8)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=FPS, options={"crf": "12", "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = out.add_stream("aac", rate=RATE, layout="mono")
        for index in range(SECONDS * FPS):
            picture = background.copy()
            x, y = moving_corner(index)
            picture[y : y + PATCH, x : x + PATCH] = patch_a
            picture[STILL[1] : STILL[1] + PATCH, STILL[0] : STILL[0] + PATCH] = patch_b
            out.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(video.encode(None))
        step = 1024
        for start in range(0, SECONDS * RATE, step):
            t = (start + np.arange(step)) / RATE
            samples = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))


PLAN = {
    "effect": "pixelate",
    "regions": [
        {"id": "f1", "source": "auto", "enabled": True, "label": "Face 1",
         "keyframes": [{"t": i / FPS, "box": _fraction_box(*moving_corner(i))} for i in range(SECONDS * FPS)]},
        {"id": "f2", "source": "auto", "enabled": False, "label": "Face 2",
         "keyframes": [{"t": 0.0, "box": _fraction_box(*STILL)}, {"t": 1.96, "box": _fraction_box(*STILL)}]},
    ],
    "audio": [{"start": 0.5, "end": 1.0, "mode": "mute"}, {"start": 1.3, "end": 1.8, "mode": "bleep"}],
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's clip."""
    path = tmp_path_factory.mktemp("redact") / "clip.mp4"
    _write_clip(path)
    return path


@pytest.fixture(scope="module")
def rendered(clip: Path) -> Path:
    """The clip rendered once with PLAN."""
    dest = clip.with_name("redacted.mp4")
    render(clip, dest, PLAN)
    return dest


def _pictures(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield float(frame.time or 0.0), frame.to_ndarray(format="rgb24").astype(np.int16)


def _sound(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decoded samples (first channel) and their times."""
    chunks, times = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray()[0]
            chunks.append(samples)
            times.append(float(frame.time or 0.0) + np.arange(len(samples)) / frame.sample_rate)
    return np.concatenate(chunks), np.concatenate(times)


def test_no_frame_shows_an_enabled_region_and_the_disabled_one_is_untouched(clip: Path, rendered: Path) -> None:
    """GIVEN a plan with an enabled moving region and a disabled still one WHEN rendered THEN in every
    frame the enabled patch is replaced by flat blocks (far from the original's pixels, no detail left)
    while the disabled patch differs only by encoding loss."""
    originals = list(_pictures(clip))
    copies = list(_pictures(rendered))
    assert len(copies) == len(originals) == SECONDS * FPS
    side = block_size(int(PATCH * 1.3), int(PATCH * 1.3))
    for index, ((_, before), (_, after)) in enumerate(zip(originals, copies, strict=True)):
        x, y = moving_corner(index)
        hidden_before, hidden_after = before[y : y + PATCH, x : x + PATCH], after[y : y + PATCH, x : x + PATCH]
        assert np.abs(hidden_after - hidden_before).mean() > 40, f"frame {index}: the patch is still visible"
        # what is left is blocks of one colour: next to no difference between neighbouring pixels
        inner = hidden_after[: side - 2, : side - 2]
        assert np.abs(np.diff(inner, axis=1)).mean() < 4, f"frame {index}: detail left inside a block"
        sx, sy = STILL
        kept = np.abs(after[sy : sy + PATCH, sx : sx + PATCH] - before[sy : sy + PATCH, sx : sx + PATCH])
        assert kept.mean() < 12, f"frame {index}: the disabled region was changed"


def test_muted_range_is_silent_and_bleeped_range_is_a_1khz_tone(rendered: Path) -> None:
    """GIVEN a mute range 0.5-1.0 s and a bleep range 1.3-1.8 s WHEN the copy's sound is decoded THEN the
    muted samples are zero (away from the codec's edge blur), the bleep's strongest frequency is 1 kHz,
    and the sound outside both ranges is still the 440 Hz tone."""
    samples, times = _sound(rendered)
    muted = samples[(times > 0.55) & (times < 0.95)]
    assert muted.size > 10_000 and np.abs(muted).max() < 1e-3
    bleep = samples[(times > 1.35) & (times < 1.75)]
    assert _strongest_hz(bleep) == pytest.approx(1000, abs=10)
    kept = samples[(times > 0.1) & (times < 0.45)]
    assert _strongest_hz(kept) == pytest.approx(440, abs=10)


def _strongest_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[int(np.argmax(spectrum))])


def test_rendering_again_gives_the_same_bytes(clip: Path, rendered: Path, tmp_path: Path) -> None:
    """GIVEN the same source and plan WHEN rendered a second time THEN the copy has the same SHA-256."""
    again = render(clip, tmp_path / "again.mp4", PLAN)
    assert hashlib.sha256((tmp_path / "again.mp4").read_bytes()).digest() == hashlib.sha256(
        rendered.read_bytes()).digest()
    assert again.frames == SECONDS * FPS and again.covered_frames == SECONDS * FPS
    software = again.parameters["software"]
    assert isinstance(software, dict) and {"pyav", "ffmpeg", "libavcodec", "numpy", "libx264"} <= set(software)


def test_the_copy_plays_in_browsers(rendered: Path) -> None:
    """GIVEN the copy WHEN its container is read THEN it is H.264 + AAC in MP4 with the index first."""
    with av.open(str(rendered)) as container:
        assert [s.codec_context.name for s in container.streams] == ["h264", "aac"]
    head = rendered.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head


def test_a_black_box_covers_the_padded_region(clip: Path, tmp_path: Path) -> None:
    """GIVEN the box effect WHEN rendered THEN the padded region is black in every frame it covers."""
    plan = {**PLAN, "effect": "box", "audio": []}
    render(clip, tmp_path / "box.mp4", plan)
    for index, (_, picture) in enumerate(_pictures(tmp_path / "box.mp4")):
        x, y = moving_corner(index)
        assert picture[y + 2 : y + PATCH - 2, x + 2 : x + PATCH - 2].max() < 24


def test_preview_shows_the_frame_as_it_will_be_rendered(clip: Path) -> None:
    """GIVEN the plan WHEN the frame at 1 s is previewed THEN it is a JPEG of the frame with the region
    pixelated; with no regions enabled it shows the patch."""
    covered = np.asarray(Image.open(io.BytesIO(preview_frame(clip, 1.0, PLAN)))).astype(np.int16)
    bare = np.asarray(Image.open(io.BytesIO(preview_frame(clip, 1.0, {"regions": []})))).astype(np.int16)
    assert covered.shape == bare.shape == (HEIGHT, WIDTH, 3)
    x, y = moving_corner(25)
    patch = (slice(y, y + PATCH), slice(x, x + PATCH))
    assert np.abs(covered[patch] - bare[patch]).mean() > 40


def test_pixelation_blocks_are_large_and_flat() -> None:
    """GIVEN an area WHEN pixelated THEN each block is one colour, the mean of the block, and blocks are
    at least 16 px and 1/8 of the shorter side."""
    area = np.random.default_rng(1).integers(0, 256, (200, 90, 3)).astype(np.uint8)
    original = area.copy()
    pixelate(area)
    side = block_size(200, 90)
    assert side == max(MIN_BLOCK_PX, -(-90 // BLOCKS_ACROSS)) == 16
    block = (slice(16, 32), slice(32, 48))
    assert len(np.unique(area[block].reshape(-1, 3), axis=0)) == 1
    assert np.allclose(area[block][0, 0], original[block].reshape(-1, 3).mean(axis=0), atol=0.5)
    assert block_size(400, 640) == 50


def test_boxes_are_padded_and_clipped_to_the_frame() -> None:
    """GIVEN a box at the frame's edge WHEN turned into pixels THEN it grows by the padding and stops at the edge."""
    assert pixel_area((0.0, 0.0, 0.5, 0.5), 100, 100) == (0, 0, 58, 58)
    assert pixel_area((0.9, 0.9, 0.1, 0.1), 100, 100) == (88, 88, 100, 100)


# --- real faces (media/face_scenes.py): a region per ground-truth face, one of them turned off ---------


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth, dict[str, Any]]:
    """A 2 s scene with two real faces, and a plan with a region per face built from the ground truth."""
    path = tmp_path_factory.mktemp("faces") / "scene.mp4"
    scene = Scene(WIDTH, HEIGHT, FPS, SECONDS, (
        Walker("astronaut", (0.25, 0.4), (0.6, 0.5), (0.3, 0.26)),
        Walker("camera", (0.8, 0.7), (0.75, 0.6), (0.25, 0.25), angle=10, gain=0.9),
    ))
    truth = write_scene(scene, path)
    regions = []
    for face, enabled in ((0, True), (1, False)):
        keyframes = [{"t": t, "box": [b[0] / WIDTH, b[1] / HEIGHT, b[2] / WIDTH, b[3] / HEIGHT]}
                     for t, boxes in zip(truth.times, truth.faces, strict=True) if len(boxes) > face
                     for b in [boxes[face]]]
        regions.append({"id": f"f{face + 1}", "source": "auto", "enabled": enabled, "keyframes": keyframes})
    return path, truth, {"effect": "pixelate", "regions": regions, "audio": []}


def _detail(picture: np.ndarray) -> float:
    """How much fine detail a picture holds: the typical (median) difference between neighbouring pixels.

    The median passes over the few edges between pixelation blocks and reads the inside of the blocks.
    """
    return float(np.median(np.abs(np.diff(picture, axis=1))) + np.median(np.abs(np.diff(picture, axis=0))))


def test_no_frame_shows_a_ground_truth_face_of_an_enabled_region(
    faces: tuple[Path, GroundTruth, dict[str, Any]], tmp_path: Path
) -> None:
    """GIVEN a scene of two real faces and a plan covering the first WHEN rendered THEN in every frame the
    first face's ground-truth box has lost its detail and differs from the original, while the second
    face (its region turned off) is as recorded."""
    path, truth, plan = faces
    render(path, tmp_path / "faces.mp4", plan)
    pairs = zip(_pictures(path), _pictures(tmp_path / "faces.mp4"), truth.faces, strict=True)
    for index, ((_, before), (_, after), boxes) in enumerate(pairs):
        covered, kept = boxes[0], boxes[1]
        x, y, w, h = (round(v) for v in covered)
        face_before, face_after = before[y : y + h, x : x + w], after[y : y + h, x : x + w]
        assert _detail(face_after) <= 0.25 * _detail(face_before), f"frame {index}: face detail left"
        assert np.abs(face_after - face_before).mean() > 8, f"frame {index}: face unchanged"
        x, y, w, h = (round(v) for v in kept)
        untouched = np.abs(after[y : y + h, x : x + w] - before[y : y + h, x : x + w]).mean()
        assert untouched < 6, f"frame {index}: the turned-off face was changed"
