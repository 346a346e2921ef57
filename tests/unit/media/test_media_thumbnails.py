"""Thumbnail sprite strips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from media_clips import STARTED
from PIL import Image, ImageChops

from witnessbox.media import MediaError, thumbnail_strip
from witnessbox.media.simulate import CameraSpec, RecordingSpec, write_recording
from witnessbox.media.thumbnails import _Plan, _read_tiles


def test_strip_has_tiles_side_by_side(camera_clip: Path, tmp_path: Path) -> None:
    """GIVEN a 3 s 320x240 recording
    WHEN a 12-tile strip 90 px high is made
    THEN the JPEG is 12*120 x 90 and the tile times ascend within the recording."""
    dest = tmp_path / "strip.jpg"

    strip = thumbnail_strip(camera_clip, dest)

    with Image.open(dest) as image:
        assert image.format == "JPEG"
        assert image.size == (strip.count * strip.tile_width, strip.tile_height) == (12 * 120, 90)
    assert strip.timestamps_s == sorted(set(strip.timestamps_s))
    assert strip.timestamps_s[0] >= 0 and strip.timestamps_s[-1] <= 3.0
    assert json.loads(json.dumps(strip.as_dict()))["count"] == 12


def test_tiles_show_different_moments(camera_clip: Path, tmp_path: Path) -> None:
    """GIVEN a strip of a moving picture
    WHEN the first and last tiles are compared
    THEN they differ (the strip is not one frame repeated)."""
    dest = tmp_path / "strip.jpg"
    strip = thumbnail_strip(camera_clip, dest, count=4)

    with Image.open(dest) as image:
        first = image.crop((0, 0, strip.tile_width, 90))
        last = image.crop((3 * strip.tile_width, 0, 4 * strip.tile_width, 90))
        assert ImageChops.difference(first, last).getbbox() is not None


def test_short_clip_with_one_keyframe_still_gives_every_tile(tmp_path: Path) -> None:
    """GIVEN a 1 s clip (a single keyframe) and 12 wanted tiles
    WHEN the strip is made
    THEN all 12 tiles are present and their times never go backwards."""
    clip = write_recording(
        tmp_path, CameraSpec("WBX00004"), RecordingSpec(STARTED, 1.0, width=160, height=120)
    )

    strip = thumbnail_strip(clip, tmp_path / "strip.jpg", count=12, tile_height=60)

    assert len(strip.timestamps_s) == 12 and strip.tile_width == 80
    assert strip.timestamps_s == sorted(strip.timestamps_s)


def test_linear_pass_matches_seeking(camera_clip: Path) -> None:
    """GIVEN a recording
    WHEN tiles are grabbed by seeking and by the no-seek fallback pass
    THEN both choose frames at the same times."""
    _, seek_times, _ = _read_tiles(camera_clip, _Plan(6, 90, 0, None, seek=True))
    _, pass_times, _ = _read_tiles(camera_clip, _Plan(6, 90, 0, None, seek=False))

    assert seek_times == pass_times


@pytest.mark.parametrize("content", [b"not a video at all\n" * 10, b""])
def test_unreadable_input_is_a_media_error(tmp_path: Path, content: bytes) -> None:
    """GIVEN a text file or an empty file named .mp4
    WHEN a strip is requested
    THEN MediaError is raised."""
    src = tmp_path / "bad.mp4"
    src.write_bytes(content)

    with pytest.raises(MediaError):
        thumbnail_strip(src, tmp_path / "strip.jpg")


def test_truncated_input_is_a_media_error(camera_clip: Path, tmp_path: Path) -> None:
    """GIVEN a recording cut in half (its index lost)
    WHEN a strip is requested
    THEN MediaError is raised."""
    src = tmp_path / "cut.mp4"
    src.write_bytes(camera_clip.read_bytes()[: camera_clip.stat().st_size // 2])

    with pytest.raises(MediaError):
        thumbnail_strip(src, tmp_path / "strip.jpg")
